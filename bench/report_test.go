package bench

import (
	"encoding/json"
	"testing"
	"time"
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
