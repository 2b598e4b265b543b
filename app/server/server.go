// Package server assembles the enrollment server: store, blob store,
// service, HTTP API and outbox worker. CertDesk starts it in-process on
// 127.0.0.1 with a random port (the embedded default); certdesk-server
// serve runs the same thing standalone with TLS.
package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"certdesk/app/api"
	"certdesk/app/server/alipay"
	"certdesk/app/server/blob"
	"certdesk/app/server/ca"
	"certdesk/app/server/console"
	"certdesk/app/server/devprov"
	"certdesk/app/server/httpapi"
	"certdesk/app/server/outbox"
	"certdesk/app/server/payprov"
	"certdesk/app/server/service"
	"certdesk/app/server/store"
	"certdesk/app/server/wechatpay"
)

// Config configures a server.
type Config struct {
	// Addr to listen on; default 127.0.0.1:0 (a random loopback port).
	Addr string
	// Listener, when set, is used instead of listening on Addr: the
	// client opens it first, so it knows the URL and can show its window
	// while the server is still starting (connections wait in the
	// listener's backlog meanwhile).
	Listener net.Listener
	// DataDir holds the SQLite database (unless DSN is set) and the blobs.
	DataDir string
	// DSN selects PostgreSQL (postgres://…); empty means SQLite in DataDir.
	DSN string
	// Blobs selects where material files live: empty is DataDir/files on
	// the local disk; s3://bucket?endpoint=host:port an S3-compatible
	// bucket (blob.OpenS3), shared by several instances. BlobsAccessKey
	// and BlobsSecretKey are its credentials (default AWS_ACCESS_KEY_ID
	// and AWS_SECRET_ACCESS_KEY).
	Blobs                          string
	BlobsAccessKey, BlobsSecretKey string
	// OpenS3 opens an s3:// blob store (s3blob.Open), given by
	// certdesk-server, left out of the desktop client, which embeds this
	// server on the local disk and need not link an S3 client.
	OpenS3 func(ctx context.Context, url, accessKey, secretKey string) (blob.Blobs, error)
	// TLS: a certificate and key file, or DevTLS to generate a self-signed
	// one in DataDir. Neither: plain HTTP (embedded on loopback only).
	TLSCert, TLSKey string
	DevTLS          bool
	Log             *slog.Logger
	Service         service.Config
	Provider        outbox.Provider
	// TrustedProxies are the CA's reverse proxies, whose X-Forwarded-For
	// is believed (httpapi.ParseProxies reads the list).
	TrustedProxies []netip.Prefix
	// CAPassphrase encrypts the CA keys at rest; empty uses a development
	// passphrase, with a loud warning.
	CAPassphrase string
	// PublicURL is how clients reach this server (for the CRL URL in
	// certificates); Start defaults it to the listening URL.
	PublicURL string
	// CertValidity is how long issued certificates are valid (default a year).
	CertValidity time.Duration
	// CAKeyType is the issuing CA's key type when the CA is created:
	// "rsa2048" (default) or "p256".
	CAKeyType string
	// HSM, when set, holds the issuing CA's key in a PKCS#11 HSM.
	HSM *HSMConfig
	// DevProviders turns on the development face-ID provider and payment
	// sandbox (the embedded server's default; never for a real CA).
	DevProviders bool
	// RemindEvery is how often the renewal-reminder job runs (default an
	// hour; it also runs at start). Every run is idempotent.
	RemindEvery time.Duration
	// NoMigrate leaves the schema to `certdesk-server migrate` and refuses
	// a database that is behind (instances sharing one database).
	NoMigrate bool
	// OutboxLease is how long an instance holds the messages it took to
	// send (default outbox.Lease): a dead instance's wait that long.
	OutboxLease time.Duration
	// ConsoleIdle ends a staff console session after this long without a
	// request (default 15 minutes).
	ConsoleIdle time.Duration
}

// Server is a running enrollment server.
type Server struct {
	URL     string
	Service *service.Service
	Store   *store.Store
	Handler *httpapi.Handler
	// CertPEM is the server's certificate when TLS is on, for clients to pin.
	CertPEM []byte
	// Sandbox is the payment sandbox when DevProviders is on.
	Sandbox *devprov.Sandbox
	// WeChat is the WeChat Pay sandbox when DevProviders is on.
	WeChat *devprov.WeChat
	// Console is the staff review console under /staff/.
	Console *console.Console

	http      *http.Server
	closeHSM  func()
	cancel    context.CancelFunc
	done      chan struct{}
	reminders chan struct{} // closed when the reminder job's first run is over
}

// RemindersRan is closed once the renewal reminders due at start are queued.
func (s *Server) RemindersRan() <-chan struct{} { return s.reminders }

// remind runs the renewal-reminder job at start and then every interval
// until ctx ends. With several instances on one database each one looks
// at every tick, and the one that books the run (store.TakeRun) runs it:
// the job runs about once an interval whatever the number of instances,
// and a dead instance's turn goes to the next one that looks.
func remind(ctx context.Context, st *store.Store, svc *service.Service, every time.Duration, now func() time.Time, log *slog.Logger, first chan struct{}) {
	if every <= 0 {
		every = time.Hour
	}
	if now == nil {
		now = time.Now
	}
	owner := store.NewID()
	for {
		t := now()
		// Booked a little short of the interval so that this instance's
		// own next tick finds the run due.
		mine, err := st.TakeRun(ctx, "renewal-reminders", owner, t, t.Add(every*9/10))
		if err != nil && ctx.Err() == nil {
			log.Error("renewal reminders: take the run", "err", err)
		}
		if mine {
			n, err := svc.RemindRenewals(ctx)
			if err != nil && ctx.Err() == nil {
				log.Error("renewal reminders", "err", err)
			} else if n > 0 {
				log.Info("renewal reminders queued", "certificates", n)
			}
		}
		if first != nil {
			close(first)
			first = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// Open builds the parts without listening, for the staff commands that
// work on the database directly (short-lived: an HSM session opened here
// ends with the process).
func Open(ctx context.Context, cfg Config) (*store.Store, *service.Service, error) {
	st, svc, _, err := openParts(ctx, cfg)
	return st, svc, err
}

// openParts is Open, also returning what must be closed besides the store.
func openParts(ctx context.Context, cfg Config) (*store.Store, *service.Service, func(), error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.DataDir == "" {
		return nil, nil, nil, errors.New("server: no data directory")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("data directory: %w", err)
	}
	dsn := cfg.DSN
	if dsn == "" {
		dsn = filepath.Join(cfg.DataDir, "certdesk.db")
	}
	st, err := store.OpenWith(ctx, dsn, store.Options{NoMigrate: cfg.NoMigrate})
	if err != nil {
		return nil, nil, nil, err
	}
	blobs, err := openBlobs(ctx, cfg)
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	sc := cfg.Service
	sc.Log = cfg.Log
	if sc.Secret, err = loadSecret(filepath.Join(cfg.DataDir, "secret.key")); err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	if cfg.CAPassphrase == "" {
		cfg.Log.Warn("CA keys are protected by the DEVELOPMENT passphrase: set a real one for a CA (certdesk-server serve --ca-passphrase-file)")
	}
	crlURL := ""
	if cfg.PublicURL != "" {
		crlURL = strings.TrimRight(cfg.PublicURL, "/") + api.Prefix + api.PathCRL
	}
	caCfg := ca.Config{Dir: filepath.Join(cfg.DataDir, "ca"), Passphrase: []byte(cfg.CAPassphrase), CRLURL: crlURL, Now: sc.Now, KeyType: cfg.CAKeyType, Validity: cfg.CertValidity}
	closeHSM := func() {}
	if cfg.HSM != nil {
		h, err := openHSM(*cfg.HSM)
		if err != nil {
			st.Close()
			return nil, nil, nil, err
		}
		caCfg.Signer = h
		closeHSM = func() { h.Close() }
	}
	if sc.CA, err = ca.Open(caCfg); err != nil {
		closeHSM()
		st.Close()
		return nil, nil, nil, err
	}
	return st, service.New(st, blobs, sc), closeHSM, nil
}

func openBlobs(ctx context.Context, cfg Config) (blob.Blobs, error) {
	switch {
	case cfg.Blobs == "":
		return blob.Open(filepath.Join(cfg.DataDir, "files"))
	case strings.HasPrefix(cfg.Blobs, "s3://") && cfg.OpenS3 != nil:
		return cfg.OpenS3(ctx, cfg.Blobs, cfg.BlobsAccessKey, cfg.BlobsSecretKey)
	case strings.HasPrefix(cfg.Blobs, "s3://"):
		return nil, fmt.Errorf("blob store %q: this program has no S3 client (certdesk-server has)", cfg.Blobs)
	}
	return nil, fmt.Errorf("blob store %q: want s3://bucket?endpoint=host:port (or nothing: the data directory)", cfg.Blobs)
}

// loadSecret reads the server's MAC key, making it on first start.
func loadSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) == 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("server secret: %w", err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("server secret: %w", err)
	}
	return b, nil
}

// Start opens the server and serves until ctx ends or Close is called.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	ln := cfg.Listener
	var err error
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return nil, fmt.Errorf("listen %s: %w", cfg.Addr, err)
		}
	}
	s := &Server{done: make(chan struct{})}
	s.http = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Minute, // a 2 MB upload over a poor line
		WriteTimeout:      10 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	// self reaches this server from inside it: the development providers
	// post their callbacks and notifies over real HTTP, trusting only this
	// server's own certificate.
	self := &http.Client{Timeout: 30 * time.Second}
	if cfg.TLSCert != "" || cfg.DevTLS {
		cert, certPEM, err := loadOrMakeCert(cfg)
		if err != nil {
			ln.Close()
			return nil, err
		}
		s.CertPEM = certPEM
		s.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, s.http.TLSConfig)
		scheme = "https"
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(certPEM)
		self.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	}
	s.URL = scheme + "://" + ln.Addr().String()
	if cfg.PublicURL == "" {
		cfg.PublicURL = s.URL
	}
	cfg.Service.PublicURL = cfg.PublicURL
	var sandbox *devprov.Sandbox
	var wx *devprov.WeChat
	if cfg.DevProviders {
		cfg.Log.Warn("development identity and payment providers are ON: anyone can pass the face check and pay with play money")
		if sandbox, err = devprov.NewSandbox(s.URL, self, cfg.Log); err != nil {
			ln.Close()
			return nil, err
		}
		// The sandbox is reached over HTTP through the same adapter a real
		// Alipay account uses.
		cfg.Service.Pay = payprov.Alipay{C: &alipay.Client{Gateway: sandbox.GatewayURL(), AppID: sandbox.AppID(), Key: sandbox.AppKey(),
			AlipayKey: sandbox.PublicKey(), HTTP: self}}
		if wx, err = devprov.NewWeChat(s.URL, self, cfg.Log); err != nil {
			ln.Close()
			return nil, err
		}
		cfg.Service.WeChat = payprov.WeChat{C: &wechatpay.Client{BaseURL: wx.BaseURL(), MchID: wx.MchID, AppID: wx.AppID, SerialNo: wx.Serial,
			Key: wx.Merchant, PlatformKey: &wx.Platform.PublicKey, APIv3Key: wx.APIv3Key, HTTP: self}, Now: cfg.Service.Now}
	}
	st, svc, closeHSM, err := openParts(ctx, cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s.closeHSM = closeHSM
	h := httpapi.New(svc, cfg.Log)
	h.TrustedProxies = cfg.TrustedProxies
	if sandbox != nil {
		devprov.Register(h.Mux(), sandbox, wx, devprov.NewIdentity(svc, s.URL, self))
	}
	s.Console = console.New(svc, console.Config{Idle: cfg.ConsoleIdle, CacheDir: filepath.Join(cfg.DataDir, "pdfium-cache"), ClientAddr: h.ClientAddr, Log: cfg.Log})
	s.Console.Mount(h.Mux())
	s.Service, s.Store, s.Handler, s.Sandbox, s.WeChat = svc, st, h, sandbox, wx
	s.http.Handler = h
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	prov := cfg.Provider
	if prov == nil {
		prov = outbox.Log{Logger: cfg.Log}
	}
	w := &outbox.Worker{Store: st, Provider: prov, Lease: cfg.OutboxLease, Log: cfg.Log, Now: cfg.Service.Now, Attach: svc.Attachments}
	go w.Run(wctx)
	s.reminders = make(chan struct{})
	go remind(wctx, st, svc, cfg.RemindEvery, cfg.Service.Now, cfg.Log, s.reminders)
	go func() {
		defer close(s.done)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Log.Error("serve", "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-wctx.Done():
		}
	}()
	cfg.Log.Info("enrollment server listening", "url", s.URL, "engine", st.Engine())
	return s, nil
}

// Close stops serving (letting requests in flight finish for up to 10 s)
// and closes the database.
func (s *Server) Close() error {
	s.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	<-s.done
	if cerr := s.Store.Close(); err == nil {
		err = cerr
	}
	s.closeHSM()
	return err
}

// loadOrMakeCert loads the configured certificate, or for development
// makes a self-signed one for 127.0.0.1 and localhost, kept in the data
// directory so clients can pin it across restarts.
func loadOrMakeCert(cfg Config) (tls.Certificate, []byte, error) {
	certFile, keyFile := cfg.TLSCert, cfg.TLSKey
	if certFile == "" {
		certFile, keyFile = filepath.Join(cfg.DataDir, "dev-tls.crt"), filepath.Join(cfg.DataDir, "dev-tls.key")
		if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
			if err := makeDevCert(certFile, keyFile); err != nil {
				return tls.Certificate{}, nil, err
			}
			cfg.Log.Warn("generated a self-signed development TLS certificate: use a real one for a CA", "cert", certFile)
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	pemBytes, err := os.ReadFile(certFile)
	return cert, pemBytes, err
}

func makeDevCert(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "CertDesk development server", Organization: []string{"CertDesk"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
