package destination_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A receiver whose certificate does not verify (here httptest's own,
// signed by no authority the client trusts) leaves a lastError that says
// so, not a bare "connection error".
func TestCertificateFailureNamedInLastError(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		rcv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		t.Cleanup(rcv.Close)
		d := create(t, s, rcv.URL+"/hook?token=abc", func(d *destination.Destination) { d.MaxAttempts = 1 })
		startWorker(t, s, e, true)
		_, err := e.ApplyBatch(ctx, []graph.Event{event("m1", "u1", "")})
		storetest.Must(t, err)
		waitFor(t, "a dead letter", func() bool { return len(deliveries(t, s, d.ID, destination.Dead)) == 1 })
		dead := deliveries(t, s, d.ID, destination.Dead)[0]
		const want = "connection error: tls: failed to verify certificate: x509: certificate signed by unknown authority"
		if dead.LastStatusCode != 0 || dead.LastError != want {
			t.Fatalf("dead letter status %d, lastError %q; want no answer and %q", dead.LastStatusCode, dead.LastError, want)
		}
	})
}
