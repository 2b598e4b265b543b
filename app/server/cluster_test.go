package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/material/testimg"
	"certdesk/app/server/blob/s3test"
	"certdesk/app/server/store"

	"github.com/minio/minio-go/v7"
)

// cluster is what issue 21 deploys: PostgreSQL, an S3-compatible object
// store (versitygw), several `certdesk-server serve` processes sharing
// both, and a load balancer in front (httputil.ReverseProxy with a health
// check, as a real one has). SMS go to a loopback gateway that counts them,
// e-mail to mailpit (a real SMTP server, STARTTLS and AUTH).
type cluster struct {
	t       testing.TB
	bin     string
	dsn     string
	s3      *s3test.Server
	sms     *smsCounter
	mailAPI string // mailpit's API, which counts the e-mails
	conf    string
	env     []string
	addrs   []string
	data    []string
	procs   []*exec.Cmd
	lb      *balancer
	lbSrv   *httptest.Server
	shared  string
}

// smsCounter is the SMS gateway's receiving end: it answers as dysmsapi
// does and counts each message by its OutId (our message ID). The
// signature is checked by TestAliyunSMS; here only delivery is counted.
type smsCounter struct {
	mu  sync.Mutex
	got map[string]int
}

func (g *smsCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("OutId") == "" {
		w.WriteHeader(400)
		return
	}
	g.mu.Lock()
	g.got[r.PostForm.Get("OutId")]++
	g.mu.Unlock()
	_, _ = io.WriteString(w, `{"Code":"OK","Message":"OK","RequestId":"r","BizId":"b"}`)
}

// balancer sends each request to the next live instance in turn; an
// instance that fails its /readyz is left out until it answers again.
type balancer struct {
	backends []*url.URL
	up       []atomic.Bool
	next     atomic.Uint64
	proxy    *httputil.ReverseProxy
	served   []atomic.Int64
}

func newBalancer(addrs []string) *balancer {
	b := &balancer{up: make([]atomic.Bool, len(addrs)), served: make([]atomic.Int64, len(addrs))}
	for i, a := range addrs {
		b.backends = append(b.backends, &url.URL{Scheme: "http", Host: a})
		b.up[i].Store(true)
	}
	b.proxy = &httputil.ReverseProxy{
		Director: func(r *http.Request) {
			i := b.pick()
			r.URL.Scheme, r.URL.Host = b.backends[i].Scheme, b.backends[i].Host
			r.Header.Set("X-Test-Backend", strconv.Itoa(i))
		},
		ModifyResponse: func(res *http.Response) error {
			i, _ := strconv.Atoi(res.Request.Header.Get("X-Test-Backend"))
			b.served[i].Add(1)
			res.Header.Set("X-Test-Backend", strconv.Itoa(i))
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { w.WriteHeader(http.StatusBadGateway) },
		ErrorLog:     nil,
	}
	return b
}

func (b *balancer) pick() int {
	for range len(b.backends) {
		i := int(b.next.Add(1) % uint64(len(b.backends)))
		if b.up[i].Load() {
			return i
		}
	}
	return int(b.next.Load() % uint64(len(b.backends)))
}

func (b *balancer) health(ctx context.Context) {
	hc := &http.Client{Timeout: 300 * time.Millisecond}
	for ctx.Err() == nil {
		for i, u := range b.backends {
			r, err := hc.Get(u.String() + "/readyz")
			ok := err == nil && r.StatusCode == 200
			if err == nil {
				r.Body.Close()
			}
			b.up[i].Store(ok)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.proxy.ServeHTTP(w, r) }

const clusterPassphrase = "cluster-test-ca-passphrase"

// startInstances runs migrate once, gives every instance the CA keys and
// server key it made, and starts n instances behind the balancer.
func startInstances(t testing.TB, n int) *cluster { return startInstancesOn(t, n, false) }

// startInstancesOn with local set starts one instance the single-machine
// way instead (SQLite and the local disk), for comparison.
func startInstancesOn(t testing.TB, n int, local bool) *cluster {
	t.Helper()
	c := &cluster{t: t, sms: &smsCounter{got: map[string]int{}}, shared: t.TempDir()}
	server := ""
	if !local {
		if c.dsn = engines(t)["postgres"]; c.dsn == "" {
			t.Skip("no PostgreSQL")
		}
		c.s3 = s3test.Start(t)
		server = fmt.Sprintf("[server]\nblobs = %q\nblobs_access_key = %q\nblobs_secret_env = \"CERTDESK_TEST_S3_SECRET\"\n", c.s3.URL(), c.s3.Access)
		c.env = append(c.env, "CERTDESK_TEST_S3_SECRET="+c.s3.Secret)
	}
	c.bin = buildServer(t, t.TempDir())
	gw := httptest.NewServer(c.sms)
	t.Cleanup(gw.Close)
	c.conf = filepath.Join(t.TempDir(), "certdesk.toml")
	mailPort, mailAPI, _, mailCA := mailpit(t)
	c.mailAPI = mailAPI
	conf := server + fmt.Sprintf(`
[mail]
host = "127.0.0.1"
port = %d
username = "certdesk"
password_env = "CERTDESK_TEST_MAIL_PASSWORD"
from = "noreply@ca.example.cn"
ca_file = %q

[sms]
provider = "aliyun"
endpoint = %q
access_key_id = "LTAI5tClusterTest"
access_key_secret_env = "CERTDESK_TEST_SMS_SECRET"
sign_name = "证书助手"
per_mobile_hour = 100000

[sms.templates]
status = "SMS_100001"
download_code = "SMS_100002"
unlock_code = "SMS_100003"
renewal = "SMS_100004"
`, mailPort, mailCA, gw.URL)
	if err := os.WriteFile(c.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c.env = append(append(os.Environ(), c.env...), "CERTDESK_TEST_SMS_SECRET=cluster-sms-secret", "CERTDESK_TEST_MAIL_PASSWORD=cluster-mail-secret",
		"CERTDESK_CA_PASSPHRASE="+clusterPassphrase, "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=")
	if !local {
		mig := exec.Command(c.bin, "migrate", "--data", c.shared, "--dsn", c.dsn, "--blobs", c.s3.URL())
		mig.Env = append(c.env, "AWS_ACCESS_KEY_ID="+c.s3.Access, "AWS_SECRET_ACCESS_KEY="+c.s3.Secret)
		if out, err := mig.CombinedOutput(); err != nil {
			t.Fatalf("migrate: %v\n%s", err, out)
		}
	}
	for i := range n {
		d := filepath.Join(t.TempDir(), fmt.Sprintf("inst%d", i))
		// The shared configuration: the same CA keys and server key on
		// every instance (a copy here; a read-only mount on real machines).
		if out, err := exec.Command("cp", "-a", c.shared, d).CombinedOutput(); err != nil {
			t.Fatalf("copy shared configuration: %v %s", err, out)
		}
		_ = os.Remove(filepath.Join(d, "certdesk.db"))
		c.data = append(c.data, d)
		c.addrs = append(c.addrs, freeAddr(t))
		c.procs = append(c.procs, nil)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); c.start(i) }()
	}
	wg.Wait()
	c.lb = newBalancer(c.addrs)
	ctx, cancel := context.WithCancel(context.Background())
	go c.lb.health(ctx)
	c.lbSrv = httptest.NewServer(c.lb)
	t.Cleanup(func() {
		cancel()
		c.lbSrv.Close()
		for _, p := range c.procs {
			if p != nil && p.ProcessState == nil {
				_ = p.Process.Signal(os.Interrupt)
				_ = p.Wait()
			}
		}
	})
	return c
}

// start runs instance i (serve --no-migrate on the shared database,
// object store and configuration) and waits for /readyz.
func (c *cluster) start(i int) {
	args := []string{"serve", "--insecure-http", "--addr", c.addrs[i], "--data", c.data[i], "--config", c.conf, "--outbox-lease", "3s"}
	if c.dsn != "" {
		args = append(args, "--no-migrate", "--dsn", c.dsn)
	}
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env
	logf, _ := os.OpenFile(filepath.Join(filepath.Dir(c.data[i]), fmt.Sprintf("inst%d.log", i)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		c.t.Error(err)
		return
	}
	c.procs[i] = cmd
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if r, err := http.Get("http://" + c.addrs[i] + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return
			}
		}
	}
	b, _ := os.ReadFile(logf.Name())
	c.t.Errorf("instance %d did not become ready:\n%s", i, b)
}

// cpu is the CPU time the instances have used (Linux /proc: utime+stime).
func (c *cluster) cpu() time.Duration {
	var ticks int64
	for _, p := range c.procs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Process.Pid))
		if err != nil {
			continue
		}
		// The fields after the command's closing parenthesis; utime and
		// stime are the 12th and 13th of them.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + st
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ = 100
}

// errorLines are the instances' logged errors.
func (c *cluster) errorLines() string {
	var out strings.Builder
	for i, d := range c.data {
		b, _ := os.ReadFile(filepath.Join(filepath.Dir(d), fmt.Sprintf("inst%d.log", i)))
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "level=ERROR") {
				fmt.Fprintf(&out, "%d: %s\n", i, l)
			}
		}
	}
	return out.String()
}

func (c *cluster) kill(i int) {
	_ = c.procs[i].Process.Signal(syscall.SIGKILL)
	_ = c.procs[i].Wait()
}

// front is the balancer, for the test's clients.
func (c *cluster) front() *Server { return &Server{URL: c.lbSrv.URL} }

// instance is one instance reached directly, past the balancer.
func (c *cluster) instance(i int) *Server { return &Server{URL: "http://" + c.addrs[i]} }

// clusterScan is a real JPEG scan of about 1 MB that passes the licence's
// checks (A4 at 200 DPI).
func clusterScan(t testing.TB) []byte {
	b := testimg.JPEG(testimg.Scan(1654, 2339, 7), 80, 200)
	t.Logf("the scan: %d bytes", len(b))
	return b
}

// TestSeveralInstancesBehindABalancer is issue 21's test: three serve
// processes on one PostgreSQL and one S3 store behind a balancer take a
// mixed load (logins, creates, status reads, 1 MB uploads sent in two
// halves so that most resume on another instance); one instance is
// SIGKILLed mid-burst. Afterwards every request answered 2xx is there,
// every material's object in the bucket has its SHA-256, five wrong
// passwords spread over the instances lock the name on all of them, and
// every SMS queued reached the gateway exactly once.
func TestSeveralInstancesBehindABalancer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, an S3 server and three server processes")
	}
	cl := startInstances(t, 3)
	scan := clusterScan(t)
	const workers = 6
	type worker struct {
		c      *client
		mobile string
	}
	ws := make([]*worker, workers)
	for i := range ws {
		c := applicant(t, cl.front())
		c.hc.Timeout = 10 * time.Second
		ws[i] = &worker{c: c, mobile: c.login}
	}
	var (
		mu        sync.Mutex
		created   = map[string]*client{} // application → owner
		submitted = map[string]bool{}
		materials = map[string]string{} // material → application
		resumedOn = map[[2]int]int{}    // (first half's instance, second's) → uploads
		sessions  []string              // tokens of acknowledged logins
		logins    atomic.Int64
		reads     atomic.Int64
		acks      atomic.Int64
	)
	backend := func(r resp) int {
		i, err := strconv.Atoi(r.header.Get("X-Test-Backend"))
		if err != nil {
			return -1
		}
		return i
	}
	// upload sends the scan in two halves, resuming from what the store
	// says it holds, whichever instance answers.
	upload := func(c *client, appID string) (string, bool) {
		r, err := rawDo(c, "POST", "/applications/"+appID+"/uploads", api.CreateUploadRequest{Type: apply.MatOrgLicense, FileName: "licence.jpg", Bytes: int64(len(scan)), SHA256: sha(scan)})
		if err != nil || r.status != 201 {
			return "", false
		}
		acks.Add(1)
		var u api.Upload
		_ = jsonUnmarshal(r.body, &u)
		half := len(scan) / 2
		first := -1
		if r, err := rawDo(c, "PATCH", "/uploads/"+u.ID, scan[:half], api.HeaderUploadOff, "0", "Content-Type", "application/offset+octet-stream"); err == nil && r.status == 200 {
			first = backend(r)
			acks.Add(1)
		}
		for try := 0; try < 20; try++ {
			h, err := rawDo(c, "HEAD", "/uploads/"+u.ID, nil)
			if err != nil || h.status != 200 {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			off, _ := strconv.Atoi(h.header.Get(api.HeaderUploadOff))
			r, err := rawDo(c, "PATCH", "/uploads/"+u.ID, scan[off:], api.HeaderUploadOff, strconv.Itoa(off), "Content-Type", "application/offset+octet-stream")
			if err != nil || r.status != 200 {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			var done api.Upload
			_ = jsonUnmarshal(r.body, &done)
			if done.Material == nil {
				continue
			}
			acks.Add(1)
			if off > 0 && first >= 0 {
				mu.Lock()
				resumedOn[[2]int{first, backend(r)}]++
				mu.Unlock()
			}
			return done.Material.ID, true
		}
		return "", false
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w, wk := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := wk.c
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if i%3 == 0 {
					r, err := rawDo(c, "POST", api.PathLogin, api.LoginRequest{Login: c.login, Password: c.password})
					if err == nil && r.status == 201 {
						logins.Add(1)
						acks.Add(1)
						var sess api.Session
						if jsonUnmarshal(r.body, &sess) == nil {
							mu.Lock()
							sessions = append(sessions, sess.Token)
							mu.Unlock()
						}
					}
				}
				a, err := tryCreate(c)
				if err != nil {
					continue // an instance went away mid-request: the next goes elsewhere
				}
				acks.Add(1)
				mu.Lock()
				created[a] = c
				mu.Unlock()
				form := orgForm(fmt.Sprintf("cl%dx%d", w, i))
				form[apply.FHandlerMobile] = wk.mobile
				if !tryDo(c, "PATCH", "/applications/"+a, api.UpdateFormRequest{Form: form, Submit: true}) {
					continue
				}
				acks.Add(1)
				mu.Lock()
				submitted[a] = true
				mu.Unlock()
				if r, err := rawDo(c, "GET", "/applications/"+a, nil); err == nil && r.status == 200 {
					reads.Add(1)
					acks.Add(1)
				}
				if m, ok := upload(c, a); ok {
					mu.Lock()
					materials[m] = a
					mu.Unlock()
				}
			}
		}()
	}
	for acks.Load() < 60 {
		time.Sleep(10 * time.Millisecond)
	}
	cl.kill(1)
	killedAt := acks.Load()
	for acks.Load() < killedAt+60 {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d acknowledged requests (%d logins, %d applications, %d submitted, %d status reads, %d materials); instance 1 SIGKILLed after %d; served per instance %d/%d/%d; uploads (first half's instance, second's): %v",
		acks.Load(), logins.Load(), len(created), len(submitted), reads.Load(), len(materials), killedAt, cl.lb.served[0].Load(), cl.lb.served[1].Load(), cl.lb.served[2].Load(), resumedOn)
	across := 0
	for k, n := range resumedOn {
		if k[0] != k[1] {
			across += n
		}
	}
	if across == 0 {
		t.Error("no upload was resumed on another instance")
	}
	if len(materials) < 5 {
		t.Errorf("only %d uploads completed", len(materials))
	}

	// The killed instance comes back (a restarted machine).
	cl.start(1)

	// Every acknowledged write is there, read through each instance.
	for id, c := range created {
		for i := range 3 {
			d := *c
			d.base = cl.instance(i).URL + api.Prefix
			r := d.do("GET", "/applications/"+id, nil)
			if r.status != 200 {
				t.Fatalf("application %s on instance %d: %d", id, i, r.status)
			}
			var a api.Application
			_ = jsonUnmarshal(r.body, &a)
			if submitted[id] && a.State == apply.StateDraft {
				t.Fatalf("application %s: acknowledged submit lost", id)
			}
		}
	}
	for _, tok := range sessions {
		for i := range 3 {
			d := newClient(t, cl.instance(i))
			d.token = tok
			if r := d.do("GET", api.PathMe, nil); r.status != 200 {
				t.Fatalf("a session from an acknowledged login, on instance %d: %d", i, r.status)
			}
		}
	}
	for mid, appID := range materials {
		r := created[appID].do("GET", "/applications/"+appID+"/materials/"+mid+"/data", nil)
		if r.status != 200 || sha(r.body) != sha(scan) {
			t.Fatalf("material %s: %d, %d bytes", mid, r.status, len(r.body))
		}
	}
	// Underneath: every material row names an object in the bucket whose
	// content has that SHA-256.
	ctx := context.Background()
	st, err := store.Open(ctx, cl.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows := 0
	for id := range created {
		ms, err := st.Materials(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			rows++
			o, err := cl.s3.Client.GetObject(ctx, cl.s3.Bucket, "blobs/"+m.SHA256[:2]+"/"+m.SHA256, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			_, err = io.Copy(h, o)
			o.Close()
			if err != nil || hex.EncodeToString(h.Sum(nil)) != m.SHA256 {
				t.Fatalf("material %s: the object does not verify (%v)", m.ID, err)
			}
		}
	}
	if rows < len(materials) {
		t.Fatalf("%d material rows for %d acknowledged uploads", rows, len(materials))
	}

	// Five wrong passwords through the balancer (over the three instances)
	// lock the name on every instance.
	victim := ws[0].c
	for i := 0; i < 5; i++ {
		d := *victim
		d.token = ""
		r, err := rawDo(&d, "POST", api.PathLogin, api.LoginRequest{Login: victim.login, Password: "wrong-password-1"})
		if err != nil || (i < 4 && r.status != 401) || (i == 4 && r.status != 429) {
			t.Fatalf("wrong password %d: %v %d %s", i+1, err, r.status, r.body)
		}
	}
	for i := range 3 {
		d := newClient(t, cl.instance(i))
		d.wantErr(d.do("POST", api.PathLogin, api.LoginRequest{Login: victim.login, Password: victim.password}), 429, api.CodeRateLimited)
	}

	// Every SMS queued is sent, each exactly once, a dead instance's
	// leased ones by another after the lease.
	deadline := time.Now().Add(60 * time.Second)
	for {
		msgs, err := st.Messages(ctx, "", 100000)
		if err != nil {
			t.Fatal(err)
		}
		pending, sms := 0, 0
		for _, m := range msgs {
			if m.SentAt.IsZero() {
				pending++
			}
			if m.Channel == "sms" {
				sms++
			}
		}
		if pending == 0 {
			cl.sms.mu.Lock()
			for _, m := range msgs {
				if m.Channel == "sms" && cl.sms.got[m.ID] != 1 {
					t.Errorf("message %s (%s) reached the gateway %d times", m.ID, m.Subject, cl.sms.got[m.ID])
				}
			}
			if len(cl.sms.got) != sms {
				t.Errorf("the gateway got %d messages, the outbox holds %d", len(cl.sms.got), sms)
			}
			cl.sms.mu.Unlock()
			// The e-mails, counted by their Message-ID at the SMTP server.
			var got struct {
				Messages []struct{ MessageID string }
			}
			mpGet(t, cl.mailAPI+"/messages?limit=5000", &got)
			byID := map[string]int{}
			for _, m := range got.Messages {
				byID[m.MessageID]++
			}
			mails := 0
			for _, m := range msgs {
				if m.Channel == "email" {
					mails++
					if byID[m.ID+"@certdesk"] != 1 {
						t.Errorf("e-mail %s (%s) reached the mail server %d times", m.ID, m.Subject, byID[m.ID+"@certdesk"])
					}
				}
			}
			if len(got.Messages) != mails {
				t.Errorf("the mail server got %d e-mails, the outbox holds %d", len(got.Messages), mails)
			}
			t.Logf("%d SMS and %d e-mails, each sent once", sms, mails)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still unsent after a minute", pending)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// BenchmarkInstances measures the throughput of 1, 2 and 3 instances
// behind the balancer on this machine, all sharing one PostgreSQL and one
// S3 server on the same cores, and of one instance the single-machine way
// (SQLite, local disk) behind the same balancer, for the cost of sharing. One operation is an application's round:
// create, fill in and submit, read its status, upload a 1 MB scan (five
// requests, one of them 1 MB up). Twelve clients at once.
func BenchmarkInstances(b *testing.B) {
	for _, tc := range []struct {
		name  string
		n     int
		local bool
	}{{"sqlite-disk", 1, true}, {"instances=1", 1, false}, {"instances=2", 2, false}, {"instances=3", 3, false}} {
		n := tc.n
		b.Run(tc.name, func(b *testing.B) {
			cl := startInstancesOn(b, n, tc.local)
			scan := clusterScan(b)
			const clients = 12
			cs := make(chan *client, clients)
			for range clients {
				c := applicant(b, cl.front())
				cs <- c
			}
			var seq atomic.Int64
			var failed atomic.Int64
			var firstErr atomic.Pointer[error]
			b.SetParallelism((clients + 1) / 2) // GOMAXPROCS=2: twelve goroutines
			b.ResetTimer()
			start, cpu0 := time.Now(), cl.cpu()
			b.RunParallel(func(pb *testing.PB) {
				c := <-cs
				defer func() { cs <- c }()
				for pb.Next() {
					if err := round(c, fmt.Sprintf("bn%d", seq.Add(1)), scan); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, &err)
					}
				}
			})
			el, cpu := time.Since(start), cl.cpu()-cpu0
			b.StopTimer()
			if f := failed.Load(); f > 0 {
				b.Fatalf("%d of %d rounds failed, the first: %v\ninstances' errors:\n%s", f, b.N, *firstErr.Load(), cl.errorLines())
			}
			b.ReportMetric(float64(b.N)/el.Seconds(), "rounds/s")
			b.ReportMetric(float64(5*b.N)/el.Seconds(), "req/s")
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "server-cpu-ms/round")
		})
	}
}

// round is one application's round of the benchmark.
func round(c *client, username string, scan []byte) error {
	r, err := rawDo(c, "POST", api.PathApplications, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: api.AgreementAcceptance{Version: "2026-11", AcceptedAt: time.Now()}})
	if err != nil || r.status != 201 {
		return fmt.Errorf("create: %v %d %s", err, r.status, r.body)
	}
	var a api.Application
	if err := jsonUnmarshal(r.body, &a); err != nil {
		return err
	}
	if r, err = rawDo(c, "PATCH", "/applications/"+a.ID, api.UpdateFormRequest{Form: orgForm(username), Submit: true}); err != nil || r.status != 200 {
		return fmt.Errorf("submit: %v %d %s", err, r.status, r.body)
	}
	if r, err = rawDo(c, "GET", "/applications/"+a.ID, nil); err != nil || r.status != 200 {
		return fmt.Errorf("read: %v %d %s", err, r.status, r.body)
	}
	if r, err = rawDo(c, "POST", "/applications/"+a.ID+"/uploads", api.CreateUploadRequest{Type: apply.MatOrgLicense, Bytes: int64(len(scan)), SHA256: sha(scan)}); err != nil || r.status != 201 {
		return fmt.Errorf("create upload: %v %d %s", err, r.status, r.body)
	}
	var u api.Upload
	_ = jsonUnmarshal(r.body, &u)
	if r, err = rawDo(c, "PATCH", "/uploads/"+u.ID, scan, api.HeaderUploadOff, "0", "Content-Type", "application/offset+octet-stream"); err != nil || r.status != 200 {
		return fmt.Errorf("upload: %v %d %s", err, r.status, r.body)
	}
	return nil
}
