package neo4jstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

// A neo4j:// URI goes through the driver's routing: the server hands out a
// routing table, writes go to a writer and reads to a reader (on the dev
// instance, both are the one server). A write and a read-your-write both
// work through it.
func TestRoutingURI(t *testing.T) {
	neo4jStore(t) // the test lock, and an empty database
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, cfg := openScheme(ctx, t, "neo4j")
	e := graph.NewEngine(s, nil)
	res, err := e.ApplyBatch(ctx, []graph.Event{
		event("r1", 1, ref(graph.TypeUserID, "U1"), ref(graph.TypeEmail, "r1@example.com")),
		event("r2", 2, ref(graph.TypeEmail, "r1@example.com"), ref(graph.TypeDeviceID, "D1")),
	})
	if err != nil {
		t.Fatalf("write through %s: %v", cfg.URI, err)
	}
	if len(res.Results) != 2 {
		t.Fatalf("%d results for 2 events", len(res.Results))
	}
	// Read in a read transaction: the two events linked three identifiers
	// into one profile.
	p, err := e.ProfileByIdentifier(ctx, ref(graph.TypeDeviceID, "D1"))
	if err != nil {
		t.Fatalf("read through %s: %v", cfg.URI, err)
	}
	if p.Size != 3 {
		t.Fatalf("profile of D1 has %d identifiers, want 3 (U1, r1@example.com, D1)", p.Size)
	}
	got, err := e.Events(ctx, []string{"r1", "r2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("read back %d of 2 events", len(got))
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping through %s: %v", cfg.URI, err)
	}
}

// An error naming the URI never holds a password written into it.
func TestOpenErrorHidesPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const pw = "s3cret-in-uri"
	s, err := neo4jstore.Open(ctx, neo4jstore.Config{URI: "neo4j://neo4j:" + pw + "@127.0.0.1:1"})
	if err == nil {
		_ = s.Close(ctx)
		t.Fatal("Open succeeded against a closed port")
	}
	if strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("err = %v; want the address without the password", err)
	}

	// A password with a % that starts no escape, or with a space, makes
	// the URI unreadable as a URL: the error says so and shows none of
	// its user information, nor the piece of the password that is a bad
	// escape.
	for _, pw := range []string{"s3cret%zz-in-uri", "s3cret%2-in-uri", "s3cret in-uri"} {
		s, err := neo4jstore.Open(ctx, neo4jstore.Config{URI: "bolt://neo4j:" + pw + "@127.0.0.1:1"})
		if err == nil {
			_ = s.Close(ctx)
			t.Fatalf("Open succeeded with the URI of password %q", pw)
		}
		for _, piece := range []string{"s3cret", "in-uri", "%zz", "%2-"} {
			if strings.Contains(err.Error(), piece) {
				t.Errorf("err = %v; it shows %q of the password", err, piece)
			}
		}
		if !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "not a valid URL") {
			t.Errorf("err = %v; want the address, and that the URI is not a valid URL", err)
		}
	}
}

// Reads run in read transactions, which Neo4j routes to a reader in a
// cluster and where it refuses any write; writes run in write
// transactions. Checked through bolt:// and neo4j:// alike: a write put
// inside View fails and leaves nothing, the same write inside Update is
// stored.
func TestReadsRunInReadTransactions(t *testing.T) {
	neo4jStore(t) // the test lock, and an empty database
	for _, scheme := range []string{"bolt", "neo4j"} {
		t.Run(scheme, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			s, _ := openScheme(ctx, t, scheme)
			inView, inUpdate := "user_id:view-"+scheme, "user_id:update-"+scheme
			if err := neo4jstore.WriteInView(ctx, s, inView); err == nil {
				t.Error("a write inside View succeeded: View does not run in a read transaction")
			}
			if err := neo4jstore.WriteInUpdate(ctx, s, inUpdate); err != nil {
				t.Fatalf("the same write inside Update: %v", err)
			}
			var got map[string]graph.Identifier
			if err := s.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
				var err error
				got, err = tx.Identifiers(ctx, []string{inView, inUpdate})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if _, ok := got[inView]; ok {
				t.Error("the write refused inside View was stored")
			}
			if _, ok := got[inUpdate]; !ok {
				t.Error("the write inside Update was not stored")
			}
		})
	}
}

// openScheme opens the test Neo4j (NEO4J_URI) with its URI's scheme
// replaced by scheme ("bolt", "neo4j"), closed when the test ends.
func openScheme(ctx context.Context, t *testing.T, scheme string) (*neo4jstore.Store, neo4jstore.Config) {
	t.Helper()
	cfg := storetest.Neo4jConfigAs(t, scheme)
	s, err := neo4jstore.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open %s: %v", cfg.URI, err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s, cfg
}

// bolt+s:// and neo4j+s:// speak TLS to the dev instance, which serves a
// self-signed certificate beside plain Bolt on the same port; Config.CAFile
// makes the store trust it. A write and a read-your-write work through
// each scheme. Without the CA file the certificate is refused at once as a
// configuration error, not reported as Neo4j being unreachable (which
// start-up would wait out for --store-timeout).
func TestTLSURIs(t *testing.T) {
	ca := storetest.DevCAFile(t)
	neo4jStore(t) // the test lock, and an empty database
	for i, scheme := range []string{"bolt+s", "neo4j+s"} {
		t.Run(scheme, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cfg := storetest.Neo4jConfigAs(t, scheme)
			cfg.CAFile = ca
			s, err := neo4jstore.Open(ctx, cfg)
			if err != nil {
				t.Fatalf("open %s trusting %s: %v", cfg.URI, ca, err)
			}
			defer s.Close(context.Background())
			e := graph.NewEngine(s, nil)
			user := fmt.Sprintf("T%d", i)
			if _, err := e.ApplyBatch(ctx, []graph.Event{
				event(scheme+"-1", 1, ref(graph.TypeUserID, user), ref(graph.TypeEmail, user+"@example.com")),
			}); err != nil {
				t.Fatalf("write through %s: %v", cfg.URI, err)
			}
			p, err := e.ProfileByIdentifier(ctx, ref(graph.TypeEmail, user+"@example.com"))
			if err != nil {
				t.Fatalf("read through %s: %v", cfg.URI, err)
			}
			if p.Size != 2 {
				t.Fatalf("profile of %s@example.com has %d identifiers, want 2", user, p.Size)
			}

			cfg.CAFile = ""
			s2, err := neo4jstore.Open(ctx, cfg)
			if err == nil {
				_ = s2.Close(ctx)
				t.Fatalf("open %s without the CA file: the self-signed certificate was trusted", cfg.URI)
			}
			if graph.ErrorCode(err) == graph.EUNAVAILABLE || !strings.Contains(err.Error(), "TLS certificate is not trusted") {
				t.Fatalf("open %s without the CA file: %v (code %q); want a configuration error naming the untrusted certificate", cfg.URI, err, graph.ErrorCode(err))
			}
		})
	}
}

// A CA file is refused before any connection when the URI's scheme does
// not check certificates, and when the file holds no certificate.
func TestCAFileErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ uri, file, want string }{
		{"bolt://127.0.0.1:1", empty, `a CA file needs a bolt+s:// or neo4j+s:// URI, got "bolt://127.0.0.1:1"`},
		{"neo4j://127.0.0.1:1", empty, "a CA file needs a bolt+s:// or neo4j+s:// URI"},
		{"neo4j+ssc://127.0.0.1:1", empty, "a CA file needs a bolt+s:// or neo4j+s:// URI"},
		{"neo4j+s://127.0.0.1:1", empty, "the CA file " + empty + " holds no PEM certificate"},
		{"bolt+s://127.0.0.1:1", filepath.Join(dir, "missing.pem"), "read the CA file"},
	} {
		s, err := neo4jstore.Open(ctx, neo4jstore.Config{URI: c.uri, CAFile: c.file})
		if err == nil {
			_ = s.Close(ctx)
			t.Fatalf("%s with CA file %s: opened", c.uri, c.file)
		}
		if !strings.Contains(err.Error(), c.want) || graph.ErrorCode(err) == graph.EUNAVAILABLE {
			t.Errorf("%s with CA file %s: %v; want a configuration error containing %q", c.uri, c.file, err, c.want)
		}
	}
}

// A URI whose address no server can have is a wrong configuration, not
// an outage: Open refuses it at once with an error that is not
// EUNAVAILABLE, so that callers waiting for Neo4j to answer (cdp serve's
// --store-timeout) do not wait for it.
func TestOpenRefusesAURIWithoutAnAddress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for uri, says := range map[string]string{
		"bolt://127.0.0.1:99999":    "port 99999",
		"neo4j://127.0.0.1:0":       "port 0",
		"bolt://127.0.0.1:":         "an empty port",
		"neo4j+s://":                "no host",
		"bolt://ann:pw@[::1]:65536": "port 65536",
		// A password with a # not percent-encoded: the host would be
		// "ann" and the port 2024.
		"bolt://ann:2024#pw@127.0.0.1:7687": "user information cut short",
	} {
		s, err := neo4jstore.Open(ctx, neo4jstore.Config{URI: uri})
		if err == nil {
			_ = s.Close(ctx)
			t.Errorf("Open(%q) succeeded", uri)
			continue
		}
		if graph.ErrorCode(err) == graph.EUNAVAILABLE || !strings.Contains(err.Error(), says) {
			t.Errorf("Open(%q) = %v (code %s); want a configuration error saying %q", uri, err, graph.ErrorCode(err), says)
		}
	}
}

// The system database holds Neo4j's own settings, not a store: naming it
// is a configuration to fix, refused before any connection, whatever its
// case. It was tried, and failed with a bare SemanticError.
func TestOpenRefusesTheSystemDatabase(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, db := range []string{"system", "SYSTEM", "System"} {
		s, err := neo4jstore.Open(ctx, neo4jstore.Config{URI: "bolt://127.0.0.1:1", Database: db})
		if err == nil {
			_ = s.Close(ctx)
			t.Errorf("Open with database %q succeeded", db)
			continue
		}
		if graph.ErrorCode(err) == graph.EUNAVAILABLE || !strings.Contains(err.Error(), "the system database") {
			t.Errorf("Open with database %q = %v (code %s); want a configuration error naming the system database", db, err, graph.ErrorCode(err))
		}
	}
}
