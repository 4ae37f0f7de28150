package ingest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/ingest"
)

// BenchmarkImportCSV imports a generated CRM export of b.N rows through
// the HTTP collector into the embedded store and reports rows/s. For the
// README's figure: go test ./ingest -run '^$' -bench ImportCSV -benchtime 100000x
func BenchmarkImportCSV(b *testing.B) {
	s, err := embedded.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	coll := ingest.New(graph.NewEngine(s, nil), ingest.Config{WriteKeys: map[string]string{"k": "crm"}, Logger: zerolog.Nop()})
	defer coll.Close(context.Background())
	mux := http.NewServeMux()
	mux.Handle("/v1/", coll.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	var sb strings.Builder
	sb.WriteString("customer_id,email,phone,first_name,tier\n")
	for i := range b.N {
		fmt.Fprintf(&sb, "c-%d,user%d@example.com,+1415%07d,Name%d,gold\n", i, i, i, i)
	}
	input := sb.String()
	cfg := ingest.ImportConfig{
		Server: srv.URL, WriteKey: "k", Source: "crm", Format: ingest.FormatCSV,
		Identifiers: []ingest.Mapping{{Name: "user_id", Column: "customer_id"}, {Name: "email", Column: "email"}, {Name: "phone", Column: "phone"}},
		Traits:      []ingest.Mapping{{Name: "first_name", Column: "first_name"}, {Name: "tier", Column: "tier"}},
		Rejects:     io.Discard,
	}
	b.ResetTimer()
	stats, err := ingest.Import(context.Background(), strings.NewReader(input), cfg)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if stats.Stored+stats.Duplicates != b.N || stats.Rejected != 0 {
		b.Fatalf("stats %+v for %d rows", stats, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
