package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// endless is an input that never ends: head, then filler bytes for ever.
// It refuses to be read past guard bytes, so an importer that would hold
// the whole of a huge file in memory fails here instead.
type endless struct {
	head  []byte
	fill  byte
	n     int64
	guard int64
}

var errPastGuard = errors.New("test input: read past its guard")

func (e *endless) Read(p []byte) (int, error) {
	if e.n >= e.guard {
		return 0, errPastGuard
	}
	k := 0
	for k < len(p) && e.n < e.guard {
		if int(e.n) < len(e.head) {
			p[k] = e.head[e.n]
		} else {
			p[k] = e.fill
		}
		k++
		e.n++
	}
	return k, nil
}

// TestImportCSVRowWithoutEnd: a CSV row that never ends (a quoted field
// that never closes in a file of gigabytes, or a file with no line end the
// reader knows) stops the import once it runs past 1 MiB, with an error
// naming the line it starts on, after the rows before it are stored: it
// is not read whole into memory. A header without an end is named as the
// header.
func TestImportCSVRowWithoutEnd(t *testing.T) {
	const guard = 64 << 20
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		in := &endless{head: []byte("id,note\nr-1,ok\nr-2,\"never closed "), fill: 'x', guard: guard}
		var rejects bytes.Buffer
		stats, err := ingest.Import(context.Background(), in, ingest.ImportConfig{
			Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatCSV, Concurrency: 1, Rejects: &rejects,
			Identifiers: []ingest.Mapping{{Name: "user_id", Column: "id"}},
		})
		var ie *ingest.ImportError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "the row that starts on line 3 runs past 1 MiB") {
			t.Fatalf("error %v, want an ImportError naming the row on line 3 and the 1 MiB", err)
		}
		if strings.Contains(err.Error(), "never closed") || strings.Contains(err.Error(), "xxxx") {
			t.Errorf("error %q repeats the row", err)
		}
		if in.n > 8<<20 {
			t.Errorf("read %d bytes of the input before stopping, want at most 8 MiB", in.n)
		}
		if stats.Stored != 1 {
			t.Errorf("stats %+v, want the row before it stored", stats)
		}
		h.profile(t, graph.TypeUserID, "r-1")
	})

	in := &endless{head: []byte("id,"), fill: 'y', guard: guard}
	_, err := ingest.Import(context.Background(), in, ingest.ImportConfig{
		Server: "http://127.0.0.1:1", Source: "crm", Format: ingest.FormatCSV, Rejects: io.Discard,
		Identifiers: []ingest.Mapping{{Name: "user_id", Column: "id"}},
	})
	if err == nil || !strings.Contains(err.Error(), "the CSV header runs past 1 MiB") {
		t.Fatalf("a header without an end: %v, want it named", err)
	}
	if in.n > 8<<20 {
		t.Errorf("read %d bytes of the input before stopping, want at most 8 MiB", in.n)
	}
}
