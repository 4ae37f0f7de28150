package neo4jstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

// The slots migration names a node whose JSON it cannot read without the
// identifier's value: an identifier's key holds it (an email), and
// Migrate's error ends cdp serve's start and cdp migrate, into the log.
func TestMigrateErrorHoldsNoIdentifierValue(t *testing.T) {
	s := neo4jStore(t)
	ctx := context.Background()
	sess := rawSession(t)
	// An identifier stored before slots existed whose traits do not
	// decode, with the migration not yet marked done.
	single(t, sess, `CREATE (i:Identifier {key: 'email:ann@example.com', type: 'email', value: 'ann@example.com', traits: '{"plan": '}) RETURN 1`, nil)
	single(t, sess, `OPTIONAL MATCH (m:Migration) DETACH DELETE m RETURN 1`, nil)
	t.Cleanup(func() {
		single(t, sess, `MATCH (i:Identifier {key: 'email:ann@example.com'}) DETACH DELETE i RETURN 1`, nil)
		if _, err := s.Migrate(ctx); err != nil {
			t.Errorf("migrate after cleanup: %v", err)
		}
	})
	_, err := s.Migrate(ctx)
	if err == nil {
		t.Fatal("Migrate read traits that are not JSON")
	}
	if strings.Contains(err.Error(), "ann@example.com") {
		t.Fatalf("Migrate's error quotes the identifier's value: %v", err)
	}
	if !strings.Contains(err.Error(), graph.KeyRef("email:ann@example.com")) {
		t.Errorf("Migrate's error does not name the identifier by its reference: %v", err)
	}
}

// CountConsent keeps Neo4j's error as the other reads do: a database that
// is not served is UNAVAILABLE (a 503 to the backup's caller, retried), and
// Neo4j's message is not repeated.
func TestCountConsentKeepsNeo4jError(t *testing.T) {
	_ = neo4jStore(t) // the test's Neo4j, reachable
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := neo4jstore.Open(ctx, storetest.Neo4jConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	neo4jstore.UseDatabase(s, "no-such-db")
	for what, count := range map[string]func(context.Context) (int, error){"CountSuppressed": s.CountSuppressed, "CountConsent": s.CountConsent} {
		_, err := count(ctx)
		if graph.ErrorCode(err) != graph.EUNAVAILABLE || strings.Contains(err.Error(), "no-such-db") {
			t.Errorf("%s on a database not served: %q, %v; want UNAVAILABLE without Neo4j's message", what, graph.ErrorCode(err), err)
		}
	}
}
