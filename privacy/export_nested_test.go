package privacy_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// An export reads the consent ledger in its own read of the profile: on
// the embedded store a second read transaction opened inside the first
// waits behind a writer that must grow the file, which waits for the
// first to end, and neither ever does. Exports run here while writers
// grow the file, and every export and every write must finish, each
// export with the profile's consent.
func TestExportWhileTheStoreGrows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		eng := graph.NewEngine(s, nil)
		apply(t, eng, event("grow/seed", t0, nil, "user_id:grow-ann", "email:grow-ann@example.com"))
		pid := profileOf(t, eng, "user_id:grow-ann")
		rec := privacy.Record{
			ID: privacy.NewRecordID(), Purpose: "email", Status: privacy.StatusGranted, At: t0, Source: "test",
			LegalBasis: privacy.BasisConsent, Identifier: "email:grow-ann@example.com", ReceivedAt: t0,
		}
		storetest.Must(t, s.(privacy.ConsentStore).PutConsent(context.Background(), []privacy.Record{rec}))

		x := privacy.NewExporter(eng)
		pad := strings.Repeat("x", 8<<10)
		done := make(chan error, 1)
		go func() {
			var wg sync.WaitGroup
			errs := make(chan error, 5)
			stop := make(chan struct{})
			wg.Add(1)
			go func() { // the writer: each batch grows the file by about 128 KiB
				defer wg.Done()
				defer close(stop)
				for b := range 24 {
					evs := make([]graph.Event, 16)
					for i := range evs {
						evs[i] = event(fmt.Sprintf("grow/%d-%d", b, i), t0, map[string]any{"pad": pad}, fmt.Sprintf("user_id:grow-%d-%d", b, i))
					}
					if _, err := eng.ApplyBatch(context.Background(), evs); err != nil {
						errs <- err
						return
					}
				}
			}()
			for range 4 {
				wg.Add(1)
				go func() { // exports, until the writer is done
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						ex, err := x.Prepare(context.Background(), pid)
						if err != nil {
							errs <- err
							return
						}
						if ex.Counts.Consent != 1 {
							errs <- fmt.Errorf("export counts %d consent records, want 1", ex.Counts.Consent)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			done <- <-errs
		}()
		// Not a measure of speed: a generous bound, so that a deadlock
		// fails the test instead of hanging the package.
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("exports and writes did not finish: deadlocked")
		}
	})
}
