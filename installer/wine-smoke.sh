#!/usr/bin/env bash
# The Windows smoke test: the signed certdesk-setup.exe installed and the
# installed certdesk.exe run under wine 10 (a Debian 13 chroot, see
# wine-chroot.sh), as an applicant's PC would: silent install, headless
# commands, the window's first frame (screenshot checked), a second start on
# the same %APPDATA%\CertDesk, an upgrade in place, and both uninstalls.
#
#   bash installer/wine-smoke.sh DIST [SHOTDIR]
#
# DIST is installer/build.sh's output directory. SHOTDIR (default
# assets/screenshots/windows) receives the login window as drawn under wine.
# Every step prints what it checked; any failure stops the run. What wine
# cannot show (real UKEY drivers, a real IME, Windows' own fonts) is in the
# README's Windows section, not skipped here.
set -euo pipefail
cd "$(dirname "$0")/.."
dist=$(realpath "$1")
shots=$(realpath -m "${2:-assets/screenshots/windows}")
[ -f "$dist/certdesk-setup.exe" ] || { echo "wine-smoke: no $dist/certdesk-setup.exe" >&2; exit 1; }
t0=$(date +%s)
root=$(bash installer/wine-chroot.sh)
t_chroot=$(($(date +%s) - t0))

run=$(mktemp -d /tmp/certdesk-wine.XXXXXX)
chmod 755 "$run"
mounted=()
xvfb=
cleanup() {
  [ -n "$xvfb" ] && kill "$xvfb" 2>/dev/null
  chroot "$root" env -i PATH=/usr/bin:/bin WINEPREFIX=/mnt/run/prefix wineserver -k 2>/dev/null || true
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
  rm -rf "$run"
}
trap cleanup EXIT
bind() { # host-dir chroot-dir [ro]
  mkdir -p "$root$2"
  mount --bind "$1" "$root$2"
  mounted+=("$root$2")
  if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$root$2"; fi
}
mount -t proc proc "$root/proc"; mounted+=("$root/proc")
bind /dev /dev
bind /dev/pts /dev/pts
# On a fresh machine no X server has run yet: the socket directory is made
# before it is bound (mount --bind refused the missing one in CI).
mkdir -p /tmp/.X11-unix && chmod 1777 /tmp/.X11-unix
bind /tmp/.X11-unix /tmp/.X11-unix
bind "$dist" /mnt/dist ro
bind "$run" /mnt/run

step() { printf '\n-- wine: %s\n' "$*"; }
fail() { echo "wine-smoke: FAIL: $*" >&2; exit 1; }

# A display of our own on the host; the chroot reaches it through the
# bound socket directory.
n=90
while [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
Xvfb ":$n" -screen 0 1280x1024x24 -nolisten tcp -ac >/dev/null 2>&1 &
xvfb=$!
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done
export DISPLAY=":$n"

mkdir -p "$run/xdg" && chmod 700 "$run/xdg"
# W runs a command in the chroot with a fresh, quiet prefix of this run.
W() {
  chroot "$root" env -i PATH=/usr/bin:/bin HOME=/root USER=root LANG=zh_CN.UTF-8 DISPLAY=":$n" \
    WINEPREFIX=/mnt/run/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" XDG_RUNTIME_DIR=/mnt/run/xdg \
    ${WENV:-} "$@"
}
prefix=$run/prefix
instdir="$prefix/drive_c/Program Files/CertDesk"
exe='C:\Program Files\CertDesk\certdesk.exe'
appdata="$prefix/drive_c/users/root/AppData/Roaming/CertDesk"

step "wineboot (a new prefix)"
t=$(date +%s)
W wineboot -i >/dev/null 2>&1
W wineserver -w
echo "prefix ready in $(($(date +%s) - t)) s"

step "silent install: certdesk-setup.exe /S"
W wine /mnt/dist/certdesk-setup.exe /S >/dev/null 2>&1 || fail "installer exited $?"
W wineserver -w
for f in certdesk.exe certdesk-preview.exe uninstall.exe; do
  [ -f "$instdir/$f" ] || fail "$f not installed in C:\\Program Files\\CertDesk"
done
cmp -s "$instdir/certdesk.exe" "$dist/certdesk.exe" || fail "installed certdesk.exe differs from the built one"
echo "installed: $(ls "$instdir" | tr '\n' ' ')"

step "certdesk --version"
ver=$(W wine "$exe" --version 2>/dev/null | tr -d '\r')
echo "$ver"
grep -q "windows/amd64" <<<"$ver" || fail "--version does not say windows/amd64: $ver"

step "material check: a passing and a failing scan"
convert -size 827x1169 xc:white -font /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc -fill black -pointsize 40 -annotate +100+200 '营业执照 Business licence' \
  -density 100 -units PixelsPerInch -quality 85 "$run/pass.jpg"
convert -size 827x1169 xc:white -font /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc -fill black -pointsize 40 -annotate +100+200 '营业执照 Business licence' \
  -density 72 -units PixelsPerInch -quality 85 "$run/low-dpi.jpg"
set +e
out=$(W wine "$exe" material check --lang zh 'Z:\mnt\run\pass.jpg' 2>&1 | tr -d '\r'); rc=$?
set -e
echo "$out"
[ "$rc" = 0 ] || fail "material check of a passing scan exited $rc"
set +e
out=$(W wine "$exe" material check --lang zh 'Z:\mnt\run\low-dpi.jpg' 2>&1 | tr -d '\r'); rc=$?
set -e
echo "$out"
[ "$rc" = 1 ] || fail "material check of a 72 DPI scan exited $rc, want 1"
grep -q "分辨率" <<<"$out" && grep -q "100 DPI" <<<"$out" || fail "the failing check does not explain the resolution in Chinese"
# The suggested command must work when pasted into cmd.exe: plain quotes,
# single backslashes.
grep -qF 'material fix --type doc "Z:\mnt\run\low-dpi.jpg" "Z:\mnt\run\low-dpi-fixed.jpg"' <<<"$out" ||
  fail "the suggested fix command is not a Windows command line"

step "diag --json"
W wine "$exe" diag --json >"$run/diag.json" 2>/dev/null || true # red checks (no UKEY driver under wine) exit 1
python3 - "$run/diag.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1], encoding="utf-8"))
ids = {c["id"]: c for c in r["checks"]}
for need in ("app", "platform", "datadir", "helpers", "server"):
    if need not in ids:
        sys.exit(f"diag: no {need} check in {sorted(ids)}")
if "windows/amd64" not in ids["app"]["detail"]:
    sys.exit(f"diag: the version check does not say windows/amd64: {ids['app']}")
for need in ("helpers", "server"):
    if ids[need]["level"] != "green":
        sys.exit(f"diag: {need} is {ids[need]['level']}: {ids[need]['detail']}")
print("checks:", ", ".join(f"{c['id']}={c['level']}" for c in r["checks"]))
print("platform:", ids["platform"]["detail"])
EOF

# waitexit waits up to $2 seconds for process $1 and returns its status,
# or 124 (after killing it) when it is still running: a bare wait hung CI
# once in seven runs (the probe's quit never ended the process under wine;
# the log showed only the user center's polls).
waitexit() { # pid seconds
  for _ in $(seq $(($2 * 10))); do
    kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }
    sleep 0.1
  done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  return 124
}

# gui runs guionce, once more if the process hung after the probe (said
# loudly: a second hang fails the run).
gui() { # log
  local rc=0
  guionce "$1" || rc=$?
  if [ "$rc" = 124 ]; then
    echo "WARNING: certdesk.exe did not exit within 60 s of the probe's quit (known wine flake); running it again"
    tail -5 "$run/$1.err"
    guionce "$1" || rc=$?
    [ "$rc" = 124 ] && fail "certdesk did not exit within 60 s after the probe, twice"
  fi
  return 0
}

# guionce starts the window with the probe and waits for its first frame.
guionce() { # log
  WENV="CERTDESK_PROBE=1" W wine "$exe" >"$run/$1.out" 2>"$run/$1.err" &
  local pid=$! t
  t=$(date +%s)
  for _ in $(seq 1200); do
    grep -q first-frame "$run/$1.err" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { tail -20 "$run/$1.err"; fail "certdesk exited before its first frame"; }
    sleep 0.1
  done
  grep -q first-frame "$run/$1.err" || { tail -20 "$run/$1.err"; fail "no first frame in 120 s"; }
  echo "first frame $(($(date +%s) - t)) s after start"
  sleep 1 # the probe quits after three idle seconds
  import -display ":$n" -window root "$run/$1.png"
  local rc=0
  waitexit "$pid" 60 || rc=$?
  [ "$rc" = 124 ] && return 124
  [ "$rc" = 0 ] || fail "certdesk exited $rc after the probe"
  grep -q idle-rss-kb "$run/$1.err" || fail "the probe did not report idle"
}

step "the window: first start (embedded server creates its CA in %APPDATA%\\CertDesk)"
gui gui1
[ -d "$appdata" ] || fail "no %APPDATA%\\CertDesk after the first start"
ls "$appdata"
cafiles() { (cd "$appdata/server/ca" 2>/dev/null && sha256sum root.crt root.key issuing.crt issuing.key 2>/dev/null); }
ca_before=$(cafiles)
[ "$(wc -l <<<"$ca_before")" = 4 ] || fail "the embedded server did not make its CA under %APPDATA%\\CertDesk\\server\\ca: $ca_before"
python3 - "$run/gui1.png" "$shots" <<'EOF'
# The screenshot is not blank, and the login screen's Chinese text is on it
# (read back by OCR: tesseract with its Simplified Chinese model).
import subprocess, sys, os
png, shots = sys.argv[1], sys.argv[2]
def magick(*a):
    return subprocess.run(["convert", png, *a], check=True, capture_output=True, text=True).stdout.strip()
colors = int(magick("-format", "%k", "info:"))
sd = float(magick("-colorspace", "gray", "-format", "%[fx:standard_deviation]", "info:"))
print(f"screenshot: {colors} colours, grey deviation {sd:.3f}")
if colors < 50 or sd < 0.02:
    sys.exit("the window's screenshot is blank")
os.makedirs(shots, exist_ok=True)
out = os.path.join(shots, "01-login.png")
subprocess.run(["convert", png, "-trim", "+repage", out], check=True)
big = png + ".ocr.png"
subprocess.run(["convert", out, "-resize", "200%", big], check=True)
text = subprocess.run(["tesseract", big, "-", "-l", "chi_sim"], check=True, capture_output=True, text=True).stdout
text = "".join(text.split())
want = ["证书助手", "登录", "注册", "手机号或电子邮箱", "密码"]
missing = [w for w in want if w not in text]
print("OCR:", text[:80])
if missing:
    sys.exit(f"the login screen's Chinese text is not on the screenshot: {missing}")
EOF

step "second start: the same data directory"
gui gui2
ca_after=$(cafiles)
[ "$ca_before" = "$ca_after" ] || fail "the second start did not reuse the CA in %APPDATA%\\CertDesk"
echo "the CA made at the first start is the one in use (root and issuing certificate and key unchanged)"

step "committed Chinese text into the login form: 1, 20 and 200 characters"
# What an input method commits reaches a window as WM_CHAR (one per UTF-16
# unit, a surrogate pair for 𠮷); the probe focuses the login name entry,
# commits the text through SendInput with KEYEVENTF_UNICODE, the way
# Windows delivers an IME's result or an on-screen keyboard's, and reports
# what the entry holds and how often the IME's windows were placed at the
# caret (and taken by imm32). (xdotool from the X side does not do: wine
# drops keys whose keysym has no Windows virtual key, so CJK keysyms never
# become characters; only an X input method's composed text would.)
pool='证书助手营业执照统一社会信用代码经办人𠮷身份证䶮堃喆赟'
for count in 1 20 200; do
  text=$(python3 -c "import sys; pool, n = sys.argv[1], int(sys.argv[2]); print((pool * 20)[:n], end='')" "$pool" "$count")
  hex=$(printf %s "$text" | xxd -p | tr -d '\n')
  WENV="CERTDESK_PROBE=1 CERTDESK_PROBE_TYPE=$hex" W wine "$exe" >"$run/type$count.out" 2>"$run/type$count.err" ||
    { tail -5 "$run/type$count.err"; fail "certdesk exited $? while typing"; }
  grep -q "^typed-hex" "$run/type$count.err" || { grep -v "level=" "$run/type$count.err" | tail -5; fail "the probe did not type"; }
  got=$(sed -n 's/^typed-hex //p' "$run/type$count.err" | xxd -r -p)
  [ "$got" = "$text" ] || { grep -v "level=" "$run/type$count.err" | tail -5; fail "committed $count characters, the entry holds ${#got}: $got"; }
  read -r placed _ taken <<<"$(sed -n 's/^ime-placements //p' "$run/type$count.err")"
  [ "${placed:-0}" -ge 2 ] || fail "the IME was placed ${placed:-0} times: want on focus and again after the caret moved"
  [ "${taken:-0}" -ge 1 ] || fail "imm32 took none of the IME placements"
  echo "$count characters arrived exactly ($(printf %s "$text" | head -c 30)…); IME placed $placed times, imm32 took $taken"
done

step "the file dialog: Windows' own open dialog (选择文件…), a path typed into it"
# The probe opens the dialog as the materials page does; the path is typed
# from the X side (XTEST, ASCII keys wine maps) into the dialog's file name
# box, which has the focus, and Enter; the program must get that file.
WENV="CERTDESK_PROBE=1 CERTDESK_PROBE_PICK=certdesk-pick-probe" W wine "$exe" >"$run/pick.out" 2>"$run/pick.err" &
pid=$!
dlg=
for _ in $(seq 600); do
  dlg=$(xdotool search --name certdesk-pick-probe 2>/dev/null | head -1 || true)
  [ -n "$dlg" ] && break
  kill -0 "$pid" 2>/dev/null || { tail -5 "$run/pick.err"; fail "certdesk exited before its open dialog appeared"; }
  sleep 0.2
done
[ -n "$dlg" ] || fail "no open dialog titled certdesk-pick-probe in 120 s"
sleep 2 # the dialog lists the folder
xdotool windowfocus --sync "$dlg" # no window manager under Xvfb gives it the focus
xdotool type --delay 30 'Z:\mnt\run\pass.jpg'
sleep 0.5
import -display ":$n" -window root "$run/pick.png"
xdotool key Return
rc=0
waitexit "$pid" 120 || rc=$?
[ "$rc" = 0 ] || fail "certdesk exited $rc after the dialog (124: still running after 120 s, killed)"
picked=$(sed -n 's/^picked //p' "$run/pick.err" | tr -d '\r')
[ "$picked" = 'Z:\mnt\run\pass.jpg' ] || { grep -v "level=" "$run/pick.err" | tail -5; fail "the dialog returned '$picked', want Z:\\mnt\\run\\pass.jpg"; }
mkdir -p "$shots" && cp "$run/pick.png" "$shots/02-open-dialog.png"
echo "the open dialog (window $dlg) returned $picked; screenshot $shots/02-open-dialog.png"

step "upgrade in place (the same version again)"
W wine /mnt/dist/certdesk-setup.exe /S >/dev/null 2>&1 || fail "second install exited $?"
W wineserver -w
cmp -s "$instdir/certdesk.exe" "$dist/certdesk.exe" || fail "certdesk.exe after the upgrade differs"
[ "$(ls "$prefix/drive_c/Program Files" | grep -c CertDesk)" = 1 ] || fail "the upgrade made a second folder"
[ -d "$appdata" ] || fail "the upgrade lost %APPDATA%\\CertDesk"
W wine "$exe" --version >/dev/null 2>&1 || fail "the upgraded certdesk.exe does not run"
echo "upgraded in place; data kept"

step "uninstall (silent): the program goes, the data stays"
W wine 'C:\Program Files\CertDesk\uninstall.exe' /S >/dev/null 2>&1 || fail "uninstaller exited $?"
W wineserver -w # the uninstaller copies itself away and returns at once
[ ! -e "$instdir/certdesk.exe" ] || fail "certdesk.exe still there after uninstall"
[ -d "$appdata" ] || fail "uninstall removed %APPDATA%\\CertDesk without being asked"
echo "removed; %APPDATA%\\CertDesk kept"

step "install again, uninstall /S /DELETEDATA: the data goes too"
W wine /mnt/dist/certdesk-setup.exe /S >/dev/null 2>&1 || fail "reinstall exited $?"
W wineserver -w
W wine 'C:\Program Files\CertDesk\uninstall.exe' /S /DELETEDATA >/dev/null 2>&1 || fail "uninstaller exited $?"
W wineserver -w
[ ! -e "$instdir/certdesk.exe" ] || fail "certdesk.exe still there"
[ ! -e "$appdata" ] || fail "/DELETEDATA left %APPDATA%\\CertDesk"
echo "removed with its data"

echo
echo "wine smoke test passed in $(($(date +%s) - t0)) s (chroot $t_chroot s); screenshot: $shots/01-login.png"
