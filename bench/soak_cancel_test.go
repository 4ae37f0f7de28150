package bench

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A soak whose context ends before its last sample (Ctrl-C) returns the
// context's error and no result, rather than a result as if it had run
// its course.
func TestSoakInterruptedIsNotJudged(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	samples := 0
	res, err := Soak(ctx, SoakConfig{
		Bench:    Config{Store: StoreEmbedded, Clients: 2, Batch: 10, TempDir: t.TempDir()},
		Duration: time.Minute, Rate: 100, Every: 200 * time.Millisecond, Seed: 5,
		OnSample: func(SoakSample) {
			// Interrupted at the second sample, long before the minute.
			if samples++; samples == 2 {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted soak: result %+v, error %v; want an error wrapping context.Canceled", res, err)
	}
	if res != nil {
		t.Errorf("interrupted soak returned a result %+v beside its error", res)
	}
	if !strings.Contains(err.Error(), "interrupted") || !strings.Contains(err.Error(), "not judged") {
		t.Errorf("error %q does not say the soak was interrupted and not judged", err)
	}
}

// At a low rate each client waits seconds for its tokens. The load must
// hold until the last sample: a client that stopped early (a limiter wait
// refused because it would pass the run's deadline, or the messages
// running out) lowers the goroutines of the last sample by one each, a
// false drift. The goroutine count of a sample also moves with the
// connections the clients happen to open, so the test counts the clients
// themselves: at each sample (OnSample runs inside it), the goroutines
// that Soak started, read from the process's goroutine dump. All four must
// still run at the last sample; the old code had none left.
func TestSoakLowRateHoldsClientsToTheEnd(t *testing.T) {
	const clients = 4
	var running []int
	res, err := Soak(context.Background(), SoakConfig{
		Bench:    Config{Store: StoreEmbedded, Clients: clients, Batch: 20, TempDir: t.TempDir()},
		Duration: 4 * time.Second, Rate: 20, Every: time.Second, Seed: 7,
		OnSample: func(SoakSample) { running = append(running, startedBySoak()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Samples) < 4 || len(running) != len(res.Samples) {
		t.Fatalf("%d samples (%d seen by OnSample), want at least 4 over 4 s at one a second", len(res.Samples), len(running))
	}
	for i, n := range running {
		if n != clients {
			t.Errorf("sample %d at %.2f s: %d client goroutines running, want all %d until the last sample (per sample: %v)",
				i, res.Samples[i].Seconds, n, clients, running)
			break
		}
	}
	// The last sample is taken at the run's end or after it, however late
	// a busy machine runs the samples before it.
	last := res.Samples[len(res.Samples)-1]
	if last.Seconds < 4 {
		t.Errorf("last sample at %.2f s, before the end of the 4 s run", last.Seconds)
	}
	if last.Sent == 0 {
		t.Error("nothing acknowledged")
	}
}

// startedBySoak counts the goroutines whose go statement is in Soak
// itself: its load clients (and its lookup loop, off in the test above).
func startedBySoak() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return strings.Count(string(buf), "created by github.com/idgraph/cdp/bench.Soak in goroutine")
}
