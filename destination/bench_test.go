package destination_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// BenchmarkCommitToWebhook measures, one event at a time, the time from
// the commit of an event (ApplyBatch returning) to its arrival at a
// webhook receiver on 127.0.0.1, and reports p50 and p99: "kick" as the
// service does after each of its own commits (Kick), "poll" as for a
// commit made by another process, found by the default poll.
//
//	go test ./destination -run '^$' -bench CommitToWebhook/.*/kick -benchtime 300x
//	go test ./destination -run '^$' -bench CommitToWebhook/.*/poll -benchtime 50x
func BenchmarkCommitToWebhook(b *testing.B) {
	for _, c := range []struct {
		name string
		kick bool
	}{{"embedded/kick", true}, {"embedded/poll", false}, {"neo4j/kick", true}, {"neo4j/poll", false}} {
		name, kick := c.name[:len(c.name)-5], c.kick
		b.Run(c.name, func(b *testing.B) {
			gs := storetest.Open(b, name)
			s := gs.(store)
			e := graph.NewEngine(gs, nil)
			ctx := context.Background()
			var mu sync.Mutex
			arrived := map[string]chan struct{}{}
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var p destination.Payload
				if err := jsonDecode(r, &p); err == nil {
					mu.Lock()
					for _, en := range p.Entries {
						if ch, ok := arrived[en.EventID]; ok {
							close(ch)
							delete(arrived, en.EventID)
						}
					}
					mu.Unlock()
				}
			}))
			defer rcv.Close()
			_, err := s.CreateDestination(ctx, destination.Destination{ID: destination.NewID(), Name: "bench", URL: rcv.URL,
				Secret: secret, Kinds: []graph.FeedKind{graph.FeedEventAdded}, CreatedAt: graph.Now(), UpdatedAt: graph.Now()})
			if err != nil {
				b.Fatal(err)
			}
			w := destination.NewWorker(destination.WorkerConfig{Store: s, Feed: s, AllowPrivate: true, Logger: zerolog.Nop(),
				Profiles: destination.Profiles{Engine: e, Consent: s, Masker: access.NewMasker(graph.DefaultRules())}})
			w.Start()
			defer w.Close(ctx)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				if !kick {
					// Commits land at any point of the poll, not just
					// after a delivery, when the worker looks again at once.
					b.StopTimer()
					time.Sleep(rand.N(destination.DefaultPoll))
					b.StartTimer()
				}
				ev := event(fmt.Sprintf("b%d", i), fmt.Sprintf("u%d", i%50), "")
				ch := make(chan struct{})
				mu.Lock()
				arrived[ev.ID] = ch
				mu.Unlock()
				if _, err := e.ApplyBatch(ctx, []graph.Event{ev}); err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if kick {
					w.Kick()
				}
				select {
				case <-ch:
				case <-time.After(60 * time.Second):
					b.Fatalf("event %d never arrived", i)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
		})
	}
}

func jsonDecode(r *http.Request, v any) error { return json.NewDecoder(r.Body).Decode(v) }
