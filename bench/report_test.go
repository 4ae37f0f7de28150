package bench

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
)

func TestJSONRoundsFiguresNotCounts(t *testing.T) {
	r := &Result{Store: StoreEmbedded, Ingest: IngestResult{Messages: 100000, Stored: 98955, PerSecond: 7329.123456, Ratio: 0.355912345}}
	line, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(line, &obj); err != nil {
		t.Fatal(err)
	}
	if obj["stored"] != 98955.0 || obj["messages"] != 100000.0 {
		t.Errorf("counts changed: stored %v, messages %v", obj["stored"], obj["messages"])
	}
	if obj["ingest_ratio"] != 0.3559 || obj["ingest_events_per_s"] != 7329.0 {
		t.Errorf("figures not rounded to four digits: ratio %v, events/s %v", obj["ingest_ratio"], obj["ingest_events_per_s"])
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want float64
	}{{0.5, 50}, {0.99, 99}, {1, 100}, {0.001, 1}} {
		if got := percentile(ds, c.q); got != c.want {
			t.Errorf("p%v = %v ms, want %v", c.q*100, got, c.want)
		}
	}
	if percentile(nil, 0.5) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// TestErasePersonEvents checks the shape of what the erasure measure
// builds: the other person's identify, then 200 events of hers, of which
// 9 link her identifiers and 1 (200/1000, at least 1) also carries the
// other person's user id; every event carries one or two of her 10
// identifiers, and all 10 are used.
func TestErasePersonEvents(t *testing.T) {
	p := newErasePerson(0)
	evs := p.events(200, 0)
	if len(evs) != 201 {
		t.Fatalf("%d events, want 201 (the other person's identify and 200 of hers)", len(evs))
	}
	hers := map[graph.IdentifierRef]bool{}
	for _, r := range p.ids {
		hers[r] = true
	}
	if len(hers) != 10 {
		t.Fatalf("%d distinct identifiers, want 10", len(hers))
	}
	used, ids := map[graph.IdentifierRef]bool{}, map[string]bool{}
	shared, withEmail := 0, 0
	for i, e := range evs[1:] {
		if ids[e.ID] {
			t.Fatalf("event id %d repeated", i)
		}
		ids[e.ID] = true
		n := 0
		for _, r := range e.Identifiers {
			switch {
			case hers[r]:
				n++
				used[r] = true
			case r == p.other:
				shared++
			default:
				t.Fatalf("event %d carries an identifier that is neither hers nor the other person's user id", i)
			}
		}
		if n < 1 || n > 2 {
			t.Errorf("event %d carries %d of her identifiers, want 1 or 2", i, n)
		}
		if e.Traits["email"] == p.email || e.Properties["contact"] == p.email || e.Properties["note"] == p.email {
			withEmail++
		}
	}
	if shared != 1 || len(used) != 10 || withEmail == 0 {
		t.Errorf("%d shared events, %d of her identifiers used, %d events holding her email; want 1, 10 and some", shared, len(used), withEmail)
	}
}
