package destination_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
)

// fakeDNS answers names from a table: it stands for DNS, not a database.
type fakeDNS map[string][]string

func (f fakeDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range f[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func TestCheckURL(t *testing.T) {
	dns := fakeDNS{"hooks.example.com": {"93.184.215.14"}, "rebind.example.com": {"93.184.215.14", "10.1.2.3"},
		"v6.example.com": {"2606:4700::1111"}, "mapped.example.com": {"::ffff:192.168.1.1"}}
	for _, c := range []struct {
		url     string
		allowed bool // without --destinations-allow-private
		why     string
	}{
		{"https://hooks.example.com/cdp", true, ""},
		{"http://v6.example.com/", true, ""},
		{"http://10.0.0.1/", false, "private"},
		{"http://169.254.169.254/", false, "link-local"},
		{"http://127.0.0.1:8080/", false, "loopback"},
		{"http://[::1]/", false, "loopback"},
		{"http://0.0.0.0/", false, "unspecified"},
		{"http://224.0.0.1/", false, "multicast"},
		{"http://100.64.1.1/", false, "shared"},
		{"http://192.168.0.10/", false, "private"},
		{"http://[fe80::1]/", false, "link-local"},
		{"http://[fc00::1]/", false, "private"},
		{"http://rebind.example.com/", false, destination.HostNotPublic},
		{"http://mapped.example.com/", false, destination.HostNotPublic},
		{"http://nowhere.example.com/", false, destination.HostNotPublic},
		// IPv6 forms that carry an IPv4 address are judged by it.
		{"http://[64:ff9b::a9fe:a9fe]/", false, "link-local"},
		{"http://[64:ff9b::5db8:d70e]/", true, ""},
		{"http://[64:ff9b:1::a00:1]/", false, "NAT64"},
		{"http://[::7f00:1]/", false, "loopback"},
		{"http://[2002:a00:1::1]/", false, "private"},
		{"http://[2002:5db8:d70e::1]/", true, ""},
		// Teredo: server 93.184.215.14, client 10.0.0.1 stored inverted.
		{"http://[2001:0:5db8:d70e::f5ff:fffe]/", false, "private"},
		{"http://[fec0::1]/", false, "site-local"},
		{"http://198.18.0.1/", false, "benchmarking"},
		{"http://240.0.0.1/", false, "reserved"},
	} {
		err := destination.CheckURL(context.Background(), "input.url", c.url, false, dns)
		if c.allowed != (err == nil) {
			t.Errorf("%s: error %v, want allowed %v", c.url, err, c.allowed)
			continue
		}
		if err != nil && (graph.ErrorCode(err) != graph.EINVALID || !strings.Contains(err.Error(), c.why) || !strings.Contains(err.Error(), "input.url")) {
			t.Errorf("%s: error %q, want EINVALID naming input.url and saying %q", c.url, err, c.why)
		}
		if !strings.Contains(c.url, "nowhere") {
			if err := destination.CheckURL(context.Background(), "input.url", c.url, true, dns); err != nil {
				t.Errorf("%s with private addresses allowed: %v", c.url, err)
			}
		}
	}
	for _, c := range []struct{ url, why string }{
		{"ftp://hooks.example.com/", "http or https"},
		{"file:///etc/passwd", "http or https"},
		{"hooks.example.com/x", "http or https"},
		{"https://user:pw@hooks.example.com/", "credentials"},
		{"https:///x", "host"},
		{"https://hooks.example.com:0/", "port"},
		{"https://hooks.example.com:65536/", "port"},
		{"http://[::1]:99999/", "port"},
		{"", "missing"},
	} {
		err := destination.CheckURL(context.Background(), "input.url", c.url, true, dns)
		if graph.ErrorCode(err) != graph.EINVALID || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%q: error %v, want EINVALID saying %q", c.url, err, c.why)
		}
		if strings.Contains(c.url, "pw@") && err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("%q: the error repeats the credentials", c.url)
		}
	}
}

// brokenDNS fails every lookup, as a resolver that times out does.
type brokenDNS struct{}

func (brokenDNS) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return nil, errors.New("lookup timed out (test)")
}

// A host name that resolves to a private address, one that resolves to
// nothing, and one whose lookup fails are refused in the same words, which
// name no address: a caller cannot map the server's internal DNS.
func TestCheckURLHidesResolution(t *testing.T) {
	dns := fakeDNS{"db.internal.example": {"10.1.2.3"}, "mixed.example.com": {"93.184.215.14", "fd00::7"}}
	want := "input.url: the URL's host must resolve to public addresses only: " +
		"destinations must be public unless the server runs with --destinations-allow-private"
	for _, c := range []struct {
		url string
		r   destination.Resolver
	}{
		{"https://db.internal.example/hook", dns},
		{"https://mixed.example.com/hook", dns},
		{"https://nowhere.internal.example/hook", dns},
		{"https://db.internal.example/hook", brokenDNS{}},
	} {
		err := destination.CheckURL(context.Background(), "input.url", c.url, false, c.r)
		if graph.ErrorCode(err) != graph.EINVALID || err.Error() != want {
			t.Errorf("%s: error %q, want EINVALID %q", c.url, err, want)
		}
	}
}

func TestDialControl(t *testing.T) {
	for addr, ok := range map[string]bool{
		"93.184.215.14:443": true, "[2606:4700::1111]:80": true,
		"127.0.0.1:80": false, "10.0.0.1:80": false, "169.254.169.254:80": false, "[::1]:443": false,
		"[::ffff:10.0.0.1]:80": false, "0.0.0.0:80": false, "255.255.255.255:80": false,
	} {
		if err := destination.DialControl("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("DialControl(%s) = %v, want allowed %v", addr, err, ok)
		}
	}
}

func TestSign(t *testing.T) {
	// Worked out apart: HMAC-SHA256("whsec-test-0123456789abcdef",
	// `1782900000.{"a":1}`).
	got := destination.Sign("whsec-test-0123456789abcdef", time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC), []byte(`{"a":1}`))
	want := "t=1782900000,v1=ab7838d829d86b53a135519513c9eea375f5ab50421bc46489849cea035784a9"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestRetryable(t *testing.T) {
	for code, want := range map[int]bool{0: true, 408: true, 429: true, 500: true, 502: true, 503: true,
		200: false, 301: false, 302: false, 307: false, 400: false, 401: false, 404: false, 410: false, 422: false} {
		if got := destination.Retryable(code); got != want {
			t.Errorf("Retryable(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	// Attempt n waits between half and all of base*2^(n-1), capped.
	for _, c := range []struct {
		n        int
		lo, high time.Duration
	}{
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{4, 4 * time.Second, 8 * time.Second},
		{30, 30 * time.Minute, time.Hour},
	} {
		for range 50 {
			if d := destination.Backoff(time.Second, time.Hour, c.n); d < c.lo || d > c.high {
				t.Fatalf("Backoff(1s, 1h, %d) = %v, want within [%v, %v]", c.n, d, c.lo, c.high)
			}
		}
	}
}

func TestCheckNamesTheField(t *testing.T) {
	base := destination.Destination{ID: destination.NewID(), Name: "n", URL: "https://hooks.example.com/", Secret: secret, BatchSize: 1, MaxAttempts: 1}
	for field, edit := range map[string]func(d *destination.Destination){
		"input.batchSize":   func(d *destination.Destination) { d.BatchSize = 0 },
		"input.maxAttempts": func(d *destination.Destination) { d.MaxAttempts = 101 },
		"input.secret":      func(d *destination.Destination) { d.Secret = "0123" },
		"input.url":         func(d *destination.Destination) { d.URL = "gopher://x" },
		"input.headers":     func(d *destination.Destination) { d.Headers = map[string]string{"X-A": "a\r\nb"} },
	} {
		d := base
		edit(&d)
		err := d.Check("input.")
		if graph.ErrorCode(err) != graph.EINVALID || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v, want EINVALID naming it", field, err)
		}
	}
	if !strings.HasPrefix(destination.SecretHint(secret), "****") || strings.Contains(destination.SecretHint(secret), secret[:8]) {
		t.Errorf("SecretHint(%q) = %q shows the secret", secret, destination.SecretHint(secret))
	}
}

// The name's and the secret's limits count characters, as the schema
// says, not bytes; the secret's hint ends on whole characters.
func TestLimitsCountCharacters(t *testing.T) {
	d := destination.Destination{ID: destination.NewID(), Name: "crm", URL: "https://hooks.example.com/", Secret: secret, BatchSize: 1, MaxAttempts: 1}
	for _, c := range []struct {
		name, secret string
		ok           bool
	}{
		{"crm", strings.Repeat("é", 8), false},  // 8 characters in 16 bytes
		{"crm", strings.Repeat("é", 16), true},  // 16 characters
		{"crm", strings.Repeat("é", 200), true}, // 200 characters in 400 bytes
		{"crm", strings.Repeat("é", 257), false},
		{strings.Repeat("é", 150), secret, true}, // 150 characters in 300 bytes
		{strings.Repeat("é", 201), secret, false},
	} {
		d.Name, d.Secret = c.name, c.secret
		if err := d.Check("input."); (err == nil) != c.ok {
			t.Errorf("name of %d characters, secret of %d: %v, want accepted %v", len([]rune(c.name)), len([]rune(c.secret)), err, c.ok)
		}
	}
	if got, want := destination.SecretHint("0123456789abcdefghé€"), "****ghé€ (20 characters)"; got != want {
		t.Errorf("SecretHint = %q, want %q", got, want)
	}
}
