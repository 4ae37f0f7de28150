package resolver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// BenchmarkProfileByIdentifier measures the front-end lookup through the
// full HTTP stack: POST /graphql, parsing (cached), limits, resolvers,
// loaders, the store, JSON out. It reports p50 and p99 latency.
//
//	go test -run '^$' -bench ProfileByIdentifier -benchtime 2000x ./resolver/
func BenchmarkProfileByIdentifier(b *testing.B) {
	const people = 1000
	for _, name := range []string{"embedded", "neo4j"} {
		b.Run(name, func(b *testing.B) {
			s := storetest.Open(b, name)
			engine := graph.NewEngine(s, nil)
			var evs []graph.Event
			for i := range people {
				evs = append(evs,
					graph.Event{ID: fmt.Sprintf("b%d-1", i), Type: "identify", Source: "bench", Channel: "web", Timestamp: t0,
						Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: fmt.Sprintf("u%d", i)}, {Type: "email", Value: fmt.Sprintf("p%d@example.com", i)}},
						Traits:      map[string]any{"name": fmt.Sprintf("Person %d", i), "plan": "pro"}},
					graph.Event{ID: fmt.Sprintf("b%d-2", i), Type: "page", Source: "bench", Channel: "web", Timestamp: t0.Add(time.Minute),
						Identifiers: []graph.IdentifierRef{{Type: "anonymous_id", Value: fmt.Sprintf("a%d", i)}, {Type: "email", Value: fmt.Sprintf("p%d@example.com", i)}}},
				)
			}
			for start := 0; start < len(evs); start += 500 {
				if _, err := engine.ApplyBatch(context.Background(), evs[start:min(start+500, len(evs))]); err != nil {
					b.Fatal(err)
				}
			}
			// As `cdp serve` runs it: the entries of unmasked reads (every
			// lookup here, in open mode) are written in the background.
			aw := NewAuditWriter(s.(access.Store), zerolog.Nop())
			b.Cleanup(func() { _ = aw.Close(context.Background()) })
			srv := httptest.NewServer(asOpen(NewHandler(engine, nil, Config{Logger: zerolog.Nop(), Audit: aw})))
			b.Cleanup(srv.Close)
			client := srv.Client()
			bodies := make([][]byte, people)
			for i := range bodies {
				bodies[i] = []byte(fmt.Sprintf(`{"query":"query($t:String!,$v:String!){profileByIdentifier(type:$t,value:$v){id identifiers{type value} traits}}","variables":{"t":"email","v":"P%d@Example.com"}}`, i))
			}
			lat := make([]time.Duration, 0, 4096)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				resp, err := client.Post(srv.URL, "application/json", bytes.NewReader(bodies[(i*7919)%people]))
				if err != nil {
					b.Fatal(err)
				}
				out, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(start))
				if err != nil || resp.StatusCode != http.StatusOK || bytes.Contains(out, []byte(`"errors"`)) || !bytes.Contains(out, []byte(`"plan":"pro"`)) {
					b.Fatalf("status %d: %s (%v)", resp.StatusCode, out, err)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
		})
	}
}
