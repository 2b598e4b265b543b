package httpapi

import (
	"net/http/httptest"
	"testing"
)

// The throttles key on clientAddr: a client must not be able to choose it
// by writing X-Forwarded-For itself.
func TestClientAddrBehindTrustedProxies(t *testing.T) {
	proxies, err := ParseProxies("10.0.0.0/8, 192.0.2.7,::1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseProxies("10.0.0.0/8,proxy.example"); err == nil {
		t.Fatal("a host name accepted as a proxy")
	}
	h := &Handler{TrustedProxies: proxies}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct, header ignored", "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"one proxy", "10.1.2.3:4000", []string{"203.0.113.5"}, "203.0.113.5"},
		{"client's own entry left of the proxy's", "10.1.2.3:4000", []string{"1.2.3.4, 203.0.113.5"}, "203.0.113.5"},
		{"two proxies", "192.0.2.7:4000", []string{"6.6.6.6, 203.0.113.5, 10.9.9.9"}, "203.0.113.5"},
		{"headers joined in order", "10.1.2.3:4000", []string{"6.6.6.6", "203.0.113.5"}, "203.0.113.5"},
		{"garbage from the client", "10.1.2.3:4000", []string{"<script>, 203.0.113.5"}, "203.0.113.5"},
		{"garbage as the only hop", "10.1.2.3:4000", []string{"not-an-ip"}, "10.1.2.3"},
		{"no header", "10.1.2.3:4000", nil, "10.1.2.3"},
		{"all hops trusted", "10.1.2.3:4000", []string{"10.0.0.1"}, "10.0.0.1"},
		{"hop with a port", "10.1.2.3:4000", []string{"203.0.113.5:5555"}, "203.0.113.5"},
		{"IPv6 loopback proxy", "[::1]:4000", []string{"2001:db8::1"}, "2001:db8::1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := h.clientAddr(r); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	// No proxies configured: never believed.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	if got := (&Handler{}).clientAddr(r); got != "127.0.0.1" {
		t.Fatalf("without proxies: %q", got)
	}
}
