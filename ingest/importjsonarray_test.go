package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestImportNDJSONThatIsJSON: an export saved as one JSON document (an
// array of messages, on one line or spread over many, or one message
// spread over many lines) is not NDJSON. It stops the import before
// anything is sent, with an error that says so and how to convert it,
// instead of one reject per line ("malformed JSON") or one message over
// the size limit. An NDJSON file whose first line is a bad array of
// another kind still has that line rejected, and the rest stored.
func TestImportNDJSONThatIsJSON(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		ctx := context.Background()
		msg := `{"type":"identify","userId":"ja-1","traits":{"name":"Ann"}}`
		cfg := func(rejects *bytes.Buffer) ingest.ImportConfig {
			return ingest.ImportConfig{Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatNDJSON, Concurrency: 1, Rejects: rejects}
		}
		for name, in := range map[string]string{
			"an array on one line":      "[" + msg + "," + strings.Replace(msg, "ja-1", "ja-2", 1) + "]\n",
			"an array over many lines":  "[\n  {\n    \"type\": \"identify\",\n    \"userId\": \"ja-1\"\n  }\n]\n",
			"an array, BOM and CRLF":    "\ufeff[ {\r\n  \"type\": \"identify\", \"userId\": \"ja-1\"\r\n} ]\r\n",
			"an object over many lines": "{\n  \"type\": \"identify\",\n  \"userId\": \"ja-1\"\n}\n",
		} {
			var rejects bytes.Buffer
			stats, err := ingest.Import(ctx, strings.NewReader(in), cfg(&rejects))
			var ie *ingest.ImportError
			if !errors.As(err, &ie) || !strings.Contains(ie.Error(), "is not NDJSON") || !strings.Contains(ie.Error(), "jq -c") {
				t.Errorf("%s: error %v, want an ImportError saying the input is not NDJSON and how to convert it (%+v, rejects %q)", name, err, stats, rejects.String())
				continue
			}
			if strings.Contains(err.Error(), "ja-1") || stats.Rows != 0 || rejects.Len() != 0 {
				t.Errorf("%s: %+v, error %q, rejects %q; want nothing read, no cell repeated", name, stats, err, rejects.String())
			}
		}
		if _, err := h.eng.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: "ja-1"}); graph.ErrorCode(err) != graph.ENOTFOUND {
			t.Errorf("ja-1: %v, want nothing stored", err)
		}

		var rejects bytes.Buffer
		stats, err := ingest.Import(ctx, strings.NewReader(`["not","an","object"]`+"\n"+msg+"\n"), cfg(&rejects))
		if err != nil || stats.Rows != 2 || stats.Stored != 1 || stats.Rejected != 1 || !strings.Contains(rejects.String(), `"line":1,"reason":"line must be a JSON object`) {
			t.Fatalf("NDJSON with a bad first line: %+v, %v, rejects %q; want line 1 rejected, line 2 stored", stats, err, rejects.String())
		}
	})
}
