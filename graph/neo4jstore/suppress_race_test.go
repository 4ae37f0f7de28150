package neo4jstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// An erasure that commits between an ingest's suppression check and its
// locks: the check's first read does not lock the list, so the ingest
// created the erased identifier again and stored its event. The check is
// read again once the identifiers are locked, and the event is refused as
// suppressed, as if the erasure had come first.
func TestIngestDuringAnErasure(t *testing.T) {
	s := storetest.Neo4j(t)
	ctx := context.Background()
	eng := graph.NewEngine(s, nil)
	list, err := privacy.OpenSuppressionList(ctx, s.(privacy.SuppressionStore))
	storetest.Must(t, err)
	x := privacy.NewEraser(eng, list)
	at := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	ann := graph.IdentifierRef{Type: "email", Value: "ann@example.com"}
	_, err = eng.ApplyBatch(ctx, []graph.Event{{ID: "web/m1", Type: "track", Name: "V", Source: "web",
		Timestamp: at, ReceivedAt: at, Identifiers: []graph.IdentifierRef{ann}}})
	storetest.Must(t, err)
	// The collector's filter (ingest.Collector.suppressedEvents), by hash.
	runs := 0
	filter := func(ctx context.Context, tx graph.Tx, events []graph.Event) ([]string, error) {
		runs++
		reasons := make([]string, len(events))
		for i, ev := range events {
			for _, k := range ev.Keys {
				on, err := list.SuppressedIn(ctx, tx, []string{list.Hash(k)})
				if err != nil {
					return nil, err
				}
				if len(on) > 0 {
					reasons[i] = "suppressed"
				}
			}
		}
		return reasons, nil
	}
	// Another transaction holds the new event's id (a retry of the same
	// message on another replica, say): the ingest waits there, after its
	// first check and before its locks, while the erasure commits.
	rtx, err := rawSession(t).BeginTransaction(ctx)
	storetest.Must(t, err)
	if _, err := rtx.Run(ctx, `CREATE (:Event {id: 'web/m2'})`, nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var res graph.BatchResult
	go func() {
		var err error
		res, err = eng.ApplyBatch(graph.WithEventFilter(ctx, filter), []graph.Event{{ID: "web/m2", Type: "track", Name: "V", Source: "web",
			Timestamp: at.Add(time.Minute), ReceivedAt: at.Add(time.Minute), Identifiers: []graph.IdentifierRef{ann}}})
		done <- err
	}()
	waitBlockedN(t, 1)
	_, _, err = x.ForgetIdentifier(ctx, ann, "gdpr", privacy.Requester{}, nil)
	storetest.Must(t, err)
	storetest.Must(t, rtx.Rollback(ctx))
	storetest.Must(t, <-done)
	if len(res.Results) != 1 || res.Results[0].Status != graph.StatusRejected || res.Results[0].Reason != "suppressed" {
		t.Errorf("the ingest of the erased email: %+v, want rejected as suppressed", res.Results)
	}
	ids, err := eng.Identifiers(ctx, []string{"email:ann@example.com"})
	storetest.Must(t, err)
	if len(ids) > 0 {
		t.Errorf("the erased, suppressed identifier is stored again: %+v", ids)
	}
	if runs < 3 {
		t.Errorf("the filter ran %d times, want 3: before the locks, after them, and in the run again", runs)
	}
}
