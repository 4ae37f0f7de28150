package destination

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// TestRetryAfterNeverOverflows: a Retry-After of more seconds than a
// Duration holds waits as long as one can, never a negative time.
func TestRetryAfterNeverOverflows(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"120":                           2 * time.Minute,
		"-5":                            0,
		"soon":                          0,
		"10000000000":                   time.Duration(9223372036) * time.Second, // math.MaxInt64 ns, in whole seconds
		"99999999999999999999999":       time.Duration(9223372036) * time.Second,
		"Fri, 04 Dec 2026 12:00:30 GMT": 30 * time.Second,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestTransportErrorHidesTheResolver: a failed lookup names the host, not
// the address of the server's DNS resolver.
func TestTransportErrorHidesTheResolver(t *testing.T) {
	err := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "hooks.example.com", Server: "10.0.0.2:53", IsNotFound: true}}
	got := transportError(err)
	if strings.Contains(got, "10.0.0.2") || !strings.Contains(got, "hooks.example.com") || !strings.Contains(got, "no such host") {
		t.Errorf("transportError = %q, want the host and the reason without the resolver", got)
	}
	if got := transportError(errors.Join(errors.New("x"), ErrBlocked)); !strings.HasPrefix(got, "refused") {
		t.Errorf("a blocked address: %q", got)
	}
}
