package app_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A destination belongs to the service, not to the key that created it:
// a destination with includePII made by a key that is then revoked keeps
// delivering unmasked values, as the README says; the audit log names the
// key that created it, so an operator revoking a key finds, and deletes,
// what it set up.
func TestDestinationOutlivesItsCreatorsKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		var (
			mu     sync.Mutex
			bodies []string
		)
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
		}))
		t.Cleanup(rcv.Close)
		_, root := addKey(t, st, "keys:admin", "profiles:read", "pii:read", "audiences:write", "events:write", "audit:read")
		dial := startWebhookService(t, st, 0)

		var made struct {
			C struct {
				Secret string
				Key    struct{ ID string }
			} `json:"createApiKey"`
		}
		gqlData(t, dial, root, `mutation { createApiKey(input: {name: "integrator", scopes: ["profiles:read", "pii:read", "audiences:write"]}) { secret key { id } } }`, &made)
		var created struct {
			D struct{ ID string } `json:"createDestination"`
		}
		gqlData(t, dial, made.C.Secret, fmt.Sprintf(`mutation { createDestination(input: {name: "crm", url: %q, secret: "outlive-secret-0123456789", kinds: [EVENT_ADDED], includePII: true}) { id } }`,
			rcv.URL), &created)
		var revoked struct {
			R struct{ ID string } `json:"revokeApiKey"`
		}
		gqlData(t, dial, root, fmt.Sprintf(`mutation { revokeApiKey(id: %q) { id } }`, made.C.Key.ID), &revoked)
		if r := send(t, "POST", "http://"+dial+"/graphql", "", made.C.Secret, `{"query":"{ viewer { keyId } }"}`); r.status != 401 {
			t.Fatalf("the revoked key answered %d", r.status)
		}

		if st := collect(t, dial, root, `{"userId":"u-1","messageId":"outlive-1","traits":{"email":"ann@example.com"}}`); st != 200 {
			t.Fatalf("collector: %d", st)
		}
		waitFor(t, "a delivery", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(bodies) > 0
		})
		mu.Lock()
		if !strings.Contains(bodies[0], "ann@example.com") {
			t.Errorf("the destination of a revoked key delivered %s, want the unmasked email", bodies[0])
		}
		mu.Unlock()

		var log struct {
			A struct {
				Nodes []struct{ Reason string }
			} `json:"auditLog"`
		}
		gqlData(t, dial, root, fmt.Sprintf(`{ auditLog(filter: {keyId: %q, action: "createDestination"}) { nodes { reason } } }`, made.C.Key.ID), &log)
		if len(log.A.Nodes) != 1 || log.A.Nodes[0].Reason != "destination "+created.D.ID {
			t.Errorf("createDestination entries of the revoked key: %+v, want one naming %s", log.A.Nodes, created.D.ID)
		}
	})
}
