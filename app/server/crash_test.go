package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/server/auth"
)

// buildServer builds cmd/certdesk-server into dir.
func buildServer(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "certdesk-server")
	if out, err := exec.Command("go", "build", "-o", bin, "certdesk/cmd/certdesk-server").CombinedOutput(); err != nil {
		t.Fatalf("build certdesk-server: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startProcess runs the standalone server and waits for /readyz.
func startProcess(t *testing.T, bin, data, dsn, addr string) *exec.Cmd {
	t.Helper()
	args := []string{"serve", "--insecure-http", "--addr", addr, "--data", data}
	if dsn != "" {
		args = append(args, "--dsn", dsn)
	}
	cmd := exec.Command(bin, args...)
	logf, _ := os.OpenFile(filepath.Join(filepath.Dir(data), "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		r, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return cmd
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	t.Fatal("server did not become ready")
	return nil
}

// TestCrashDuringWrites SIGKILLs the standalone server in the middle of a
// burst of concurrent writes, restarts it on the same data, and checks that
// every write that was answered 2xx is there, whole: each application's
// state agrees with its last history row, and each material's bytes are in
// the blob store with the recorded SHA-256.
func TestCrashDuringWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a server process")
	}
	bin := buildServer(t, t.TempDir())
	for name, dsn := range engines(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			addr := freeAddr(t)
			cmd := startProcess(t, bin, data, dsn, addr)
			srv := &Server{URL: "http://" + addr}

			const workers = 6
			clients := make([]*client, workers)
			for i := range clients {
				clients[i] = applicant(t, srv)
			}
			doc, _ := scans()
			var (
				mu        sync.Mutex
				created   = map[string]*client{}
				submitted = map[string]bool{}
				materials = map[string]string{} // material ID → application ID
				ok2xx     atomic.Int64
			)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c.hc.Timeout = 5 * time.Second
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						a, err := tryCreate(c)
						if err != nil {
							return // the server is gone
						}
						mu.Lock()
						created[a] = c
						mu.Unlock()
						ok2xx.Add(1)
						if tryDo(c, "PATCH", "/applications/"+a, api.UpdateFormRequest{Form: orgForm(fmt.Sprintf("c%dx%d", w, i)), Submit: true}) {
							mu.Lock()
							submitted[a] = true
							mu.Unlock()
							ok2xx.Add(1)
							if m, ok := tryUpload(c, a, doc); ok {
								mu.Lock()
								materials[m] = a
								mu.Unlock()
								ok2xx.Add(1)
							}
						}
					}
				}()
			}
			// Let the burst build up, then pull the plug.
			for ok2xx.Load() < 40 {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(150 * time.Millisecond)
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			close(stop)
			wg.Wait()
			t.Logf("killed after %d acknowledged writes (%d applications, %d materials)", ok2xx.Load(), len(created), len(materials))

			cmd = startProcess(t, bin, data, dsn, addr)
			defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
			for id, c := range created {
				a := c.app(id)
				if len(a.History) == 0 || a.History[len(a.History)-1].To != a.State {
					t.Fatalf("application %s: state %s disagrees with history %+v", id, a.State, a.History)
				}
				if submitted[id] && a.State == apply.StateDraft {
					t.Fatalf("application %s: acknowledged submit lost", id)
				}
			}
			for mid, appID := range materials {
				c := created[appID]
				r := c.do("GET", "/applications/"+appID+"/materials/"+mid+"/data", nil)
				if r.status != 200 || sha(r.body) != sha(doc) {
					t.Fatalf("material %s: status %d, %d bytes", mid, r.status, len(r.body))
				}
			}
			// The store is consistent underneath too: no material without
			// its blob, no history gap.
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			st, _, err := Open(context.Background(), Config{DataDir: data, DSN: dsn, Log: log, Service: sessionless()})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			all, _ := st.Applications(context.Background(), "")
			for _, a := range all {
				h, _ := st.History(context.Background(), a.ID)
				if len(h) == 0 || h[len(h)-1].To != a.State {
					t.Fatalf("store: application %s half-written", a.ID)
				}
				ms, _ := st.Materials(context.Background(), a.ID)
				for _, m := range ms {
					if _, err := os.Stat(filepath.Join(data, "files", "blobs", m.SHA256[:2], m.SHA256)); err != nil {
						t.Fatalf("store: material %s without its blob", m.ID)
					}
				}
			}
		})
	}
}

func tryCreate(c *client) (string, error) {
	r, err := rawDo(c, "POST", api.PathApplications, api.CreateApplicationRequest{Kind: apply.KindOrg, Agreement: api.AgreementAcceptance{Version: "2026-11", AcceptedAt: time.Now()}})
	if err != nil || r.status != 201 {
		return "", fmt.Errorf("create: %v %d", err, r.status)
	}
	var a api.Application
	if err := jsonUnmarshal(r.body, &a); err != nil {
		return "", err
	}
	return a.ID, nil
}

func tryDo(c *client, method, path string, body any) bool {
	r, err := rawDo(c, method, path, body)
	return err == nil && r.status/100 == 2
}

func tryUpload(c *client, appID string, data []byte) (string, bool) {
	return tryUploadAs(c, appID, apply.MatOrgLicense, data)
}

func tryUploadAs(c *client, appID string, typ apply.MaterialType, data []byte) (string, bool) {
	r, err := rawDo(c, "POST", "/applications/"+appID+"/uploads", api.CreateUploadRequest{Type: typ, Bytes: int64(len(data)), SHA256: sha(data)})
	if err != nil || r.status != 201 {
		return "", false
	}
	var u api.Upload
	jsonUnmarshal(r.body, &u)
	r, err = rawDo(c, "PATCH", "/uploads/"+u.ID, data, api.HeaderUploadOff, "0")
	if err != nil || r.status != 200 {
		return "", false
	}
	jsonUnmarshal(r.body, &u)
	if u.Material == nil {
		return "", false
	}
	return u.Material.ID, true
}

func sessionless() serviceConfig {
	return serviceConfig{Params: auth.Params{MemoryKiB: 1024, Time: 1, Threads: 1}}
}
