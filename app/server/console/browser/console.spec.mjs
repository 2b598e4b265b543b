// Drives the staff review console in Debian's Chromium through
// playwright-core (no browser download). Started by the Go test
// TestConsoleInChromium, which owns the server and the applicant: when a
// step needs the applicant, this script prints "WAIT <what>" and reads one
// line from stdin before going on. Every check failing exits non-zero.
import { chromium } from "playwright-core";
import crypto from "node:crypto";
import readline from "node:readline";
import path from "node:path";

const env = JSON.parse(process.env.CONSOLE_TEST);
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function wait(what) {
  console.log("WAIT " + what);
  const { value, done } = await lines.next();
  if (done) throw new Error("the Go test went away at " + what);
  return value.trim();
}
function check(ok, what) {
  if (!ok) throw new Error("check failed: " + what);
  console.log("ok   " + what);
}

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s), as an authenticator app does.
function totp(secret, at = Date.now()) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const h = crypto.createHmac("sha1", key).update(counter).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, "0");
}

const browser = await chromium.launch({
  executablePath: env.chromium,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--lang=zh-CN"],
});
async function login(who) {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 1000 }, locale: "zh-CN", deviceScaleFactor: 1 });
  const page = await ctx.newPage();
  page.on("pageerror", (e) => { throw new Error("script error on the page: " + e.message); });
  await page.goto(env.base + "/staff/queue");
  check(page.url().includes("/staff/login"), who.name + ": the queue sends a stranger to the login page");
  await page.fill("#login", who.login);
  await page.fill("#password", who.password);
  await page.fill("#totp", totp(who.secret));
  await page.click("#login-submit");
  await page.waitForURL("**/staff/queue");
  check(true, who.name + " logged in with password and TOTP");
  return { ctx, page };
}
const shot = async (page, name) => {
  if (env.shots) await page.screenshot({ path: path.join(env.shots, name), fullPage: false });
};
const appURL = env.base + "/staff/app/" + env.app;

try {
  // A wrong code: the same answer as a wrong password.
  {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(env.base + "/staff/login");
    await page.fill("#login", env.finance.login);
    await page.fill("#password", env.finance.password);
    await page.fill("#totp", "000000" === totp(env.finance.secret) ? "111111" : "000000");
    await page.click("#login-submit");
    await page.waitForLoadState();
    const said = (await page.locator(".error").count()) ? await page.textContent(".error") : await page.content();
    check(said.includes("动态口令不正确"), "a wrong TOTP code is refused, in Chinese: " + said.slice(0, 300));
    await ctx.close();
  }

  // Finance: the transfer, against its voucher.
  const fin = await login(env.finance);
  await fin.page.click('nav.tabs a[data-state="payment_pending"]');
  check(await fin.page.isVisible(`tr[data-app="${env.app}"]`), "finance's queue lists the transfer to confirm");
  await fin.page.goto(appURL);
  const voucher = fin.page.locator('figure[data-type="payment_voucher"] img');
  await voucher.scrollIntoViewIfNeeded();
  check(await voucher.evaluate((i) => i.complete && i.naturalWidth > 0), "the voucher image renders");
  await fin.page.fill("#confirm input[name=note]", "工行流水 20261203-0001");
  await fin.page.click("#confirm button");
  await fin.page.waitForURL("**done=confirmed");
  check((await fin.page.textContent("#state")).includes("已缴费"), "the transfer is confirmed: paid");

  // Reviewer A: the queue, the application, its scans.
  const a = await login(env.reviewerA);
  check(await a.page.isVisible(`tr[data-app="${env.app}"]`), "A's queue lists the paid application");
  await a.page.fill('input[name=code]', env.creditCode.slice(0, 10));
  await a.page.click(".filters button[type=submit]");
  check(await a.page.isVisible(`tr[data-app="${env.app}"]`), "the credit-code filter finds it");
  await a.page.fill('input[name=code]', "00000000");
  await a.page.click(".filters button[type=submit]");
  check(!(await a.page.isVisible(`tr[data-app="${env.app}"]`)), "a credit code it does not have leaves it out");
  await a.page.goto(env.base + "/staff/queue");
  await shot(a.page, "console-queue.png");
  await a.page.goto(appURL);
  const imgs = a.page.locator("figure.scan img");
  const n = await imgs.count();
  check(n >= 6, `the page shows every material (${n})`);
  for (let i = 0; i < n; i++) {
    await imgs.nth(i).scrollIntoViewIfNeeded();
    await a.page.waitForFunction((el) => el.complete, await imgs.nth(i).elementHandle());
    check(await imgs.nth(i).evaluate((el) => el.naturalWidth > 0), `material ${i + 1} renders (naturalWidth > 0)`);
  }
  const lic = a.page.locator(`figure[data-mid="${env.license}"]`);
  const before = await lic.locator("img").evaluate((el) => el.getBoundingClientRect().width);
  await lic.locator('button[data-act="in"]').click();
  const after = await lic.locator("img").evaluate((el) => el.getBoundingClientRect().width);
  check(after > before * 1.4, `zoom in makes the scan wider (${before} → ${after} px)`);
  await lic.locator('button[data-act="rotate"]').click();
  check((await lic.locator("img").getAttribute("style")).includes("rotate(90deg)"), "rotate turns it a quarter");
  await lic.locator('button[data-act="fit"]').click();
  const form = a.page.locator("#acceptform img");
  const acc = a.page.locator(`figure[data-type="acceptance_form"]`);
  await acc.locator('button[data-act="compare"]').click();
  await form.scrollIntoViewIfNeeded();
  await a.page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await form.elementHandle(), { timeout: 60000 });
  check(await a.page.evaluate(() => document.querySelector('figure[data-type="acceptance_form"]').nextElementSibling.id === "acceptform"),
    "the printed acceptance form sits beside the signed scan");
  await acc.scrollIntoViewIfNeeded();
  await shot(a.page, "console-application.png");

  // Return the licence copy with a reason from the list and a note.
  await lic.locator('input[name=return]').check();
  await lic.locator("select").selectOption("unsealed");
  await lic.locator('input[name^="note_"]').fill("右下角未见公章");
  await a.page.click("#reject button");
  await a.page.waitForURL("**done=rejected");
  check((await a.page.textContent("#state")).includes("审核未通过"), "the application is returned");
  check((await lic.textContent()).includes("复印件未加盖单位公章"), "the reason shows beside the material");
  await wait("rejected"); // the Go test checks the applicant's side, replaces the file and resubmits

  // Two-person approval.
  await a.page.goto(appURL);
  await a.page.click("#approve button");
  await a.page.waitForURL("**done=approved_first");
  check((await a.page.textContent("#approvals")).includes("1 / 2"), "one of two approvals recorded");
  check(await a.page.isDisabled("#approve button"), "A cannot press approve again");
  const csrf = await a.page.getAttribute('#approve input[name=csrf]', "value");
  const again = await a.ctx.request.post(appURL + "/approve", { form: { csrf, note: "" }, maxRedirects: 0 });
  check(again.status() === 409 && (await again.text()).includes("另一位审核员"), "A's second approval, posted anyway, is refused (409)");
  await shot(a.page, "console-two-person.png");
  const b = await login(env.reviewerB);
  await b.page.goto(appURL);
  check((await b.page.textContent(".approvals")).includes(env.reviewerA.login), "B sees A's approval");
  await b.page.click("#approve button");
  await b.page.waitForURL("**done=approved");
  check((await b.page.textContent("#state")).includes("激活完成") || (await b.page.textContent("#state")).includes("审核通过"), "B's approval approves it");
  const serial = await wait("approved"); // the Go test downloads the certificate and answers its serial

  // Revocation from the certificate search.
  await b.page.goto(env.base + "/staff/certs");
  await b.page.fill("input[name=q]", serial.slice(0, 12));
  await b.page.click(".filters button");
  const row = b.page.locator(`tr[data-serial="${serial}"]`);
  check(await row.isVisible(), "the search finds the certificate by serial");
  await row.locator("select").selectOption("1");
  await row.locator("input[name=note]").fill("UKEY 遗失");
  await row.locator("button").click();
  await b.page.waitForURL("**done=revoked**");
  const flash = await b.page.textContent(".flash");
  check(/CRL #\d+/.test(flash), "the revocation names its CRL: " + flash);
  console.log("CRL " + flash.match(/CRL #(\d+)/)[1]);
  // English is one click away.
  await b.page.click(".top .right a");
  check((await b.page.textContent("h1")).includes("Certificates"), "the console switches to English");
  await wait("revoked");
} catch (e) {
  console.log("FAIL " + (e && e.stack || e));
  process.exitCode = 1;
} finally {
  await browser.close();
  process.exit(process.exitCode ?? 0); // stdin stays open: do not wait for it
}
