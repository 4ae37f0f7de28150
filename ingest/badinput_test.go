package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

func gz(data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

// TestBadInputCorpus sends hostile and broken requests. Each one must get
// a clear 4xx naming the problem: never a 5xx, a crash or a hang.
func TestBadInputCorpus(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{WriteKeys: map[string]string{}})
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	deepObj := `{"batch":[{"type":"track","event":"e","userId":"u","properties":` + strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000) + `}]}`
	huge := `{"type":"track","event":"e","userId":"u","properties":{"s":"` + strings.Repeat("x", 40<<10) + `"}}`
	hugeBatch := `{"batch":[` + strings.Repeat(`{"type":"track","event":"e","userId":"u","properties":{"s":"`+strings.Repeat("y", 20<<10)+`"}},`, 30) + `{}]}`
	bomb := gz(bytes.Repeat([]byte(" "), 20<<20))
	cases := []struct {
		name   string
		method string
		path   string
		body   []byte
		hdr    map[string]string
		status int
		says   string
	}{
		{"truncated batch", "POST", "/v1/batch", []byte(`{"batch":[{"type":"track","event":"e","userId":"u"}`), nil, 400, "malformed JSON"},
		{"truncated single", "POST", "/v1/track", []byte(`{"event":"e","userId":`), nil, 400, "malformed JSON"},
		{"empty body", "POST", "/v1/identify", nil, nil, 400, "empty"},
		{"empty batch body", "POST", "/v1/batch", nil, nil, 400, "empty"},
		{"not JSON at all", "POST", "/v1/batch", []byte("userId=u&event=e"), nil, 400, "malformed JSON"},
		{"array for the batch body", "POST", "/v1/batch", []byte(`[{"type":"track"}]`), nil, 400, "must be a JSON object"},
		{"array for a message", "POST", "/v1/track", []byte(`[{"event":"e","userId":"u"}]`), nil, 400, "must be a JSON object, not an array"},
		{"string for a message", "POST", "/v1/track", []byte(`"hello"`), nil, 400, "must be a JSON object, not a string"},
		{"object for the batch", "POST", "/v1/batch", []byte(`{"batch":{"type":"track"}}`), nil, 400, "batch must be an array"},
		{"batch missing", "POST", "/v1/batch", []byte(`{"messages":[]}`), nil, 400, "batch is missing"},
		{"batch empty", "POST", "/v1/batch", []byte(`{"batch":[]}`), nil, 400, "batch is empty"},
		{"array for the batch context", "POST", "/v1/batch", []byte(`{"batch":[{"type":"track","event":"e","userId":"u"}],"context":[]}`), nil, 400, "context must be an object"},
		{"sentAt a number", "POST", "/v1/batch", []byte(`{"batch":[{"type":"track","event":"e","userId":"u"}],"sentAt":5}`), nil, 400, "sentAt must be an ISO-8601 string"},
		// A sentAt is checked through the time it corrects: year 9999
		// dates this event before 2000.
		{"sentAt year 9999", "POST", "/v1/track", []byte(`{"event":"e","userId":"u","timestamp":"2025-03-10T11:00:00Z","sentAt":"9999-01-01T00:00:00Z"}`), nil, 400, "timestamp after clock-skew correction"},
		{"invalid UTF-8", "POST", "/v1/track", []byte("{\"event\":\"caf\xe9\",\"userId\":\"u\"}"), nil, 400, "not valid UTF-8"},
		{"10,000-deep arrays", "POST", "/v1/batch", []byte(deep), nil, 400, "deeper than 66 levels"},
		{"10,000-deep objects in a message", "POST", "/v1/batch", []byte(deepObj), nil, 400, "deeper than 66 levels"},
		{"10,000-deep single", "POST", "/v1/track", []byte(deep), nil, 400, "deeper than 64 levels"},
		{"huge single message", "POST", "/v1/track", []byte(huge), nil, 413, "32 KiB per-message limit"},
		{"huge request", "POST", "/v1/batch", []byte(hugeBatch), nil, 413, "500 KiB per-request limit"},
		{"gzip bomb", "POST", "/v1/batch", bomb, map[string]string{"Content-Encoding": "gzip"}, 413, "500 KiB per-request limit"},
		{"not gzip", "POST", "/v1/batch", []byte(`{"batch":[]}`), map[string]string{"Content-Encoding": "gzip"}, 400, "not valid gzip"},
		{"truncated gzip", "POST", "/v1/batch", gz([]byte(`{"batch":[{"type":"track","event":"e","userId":"u"}]}`))[:30], map[string]string{"Content-Encoding": "gzip"}, 400, "not valid gzip"},
		{"brotli", "POST", "/v1/batch", []byte(`{}`), map[string]string{"Content-Encoding": "br"}, 415, `"br" is not supported`},
		{"GET", "GET", "/v1/track", nil, nil, 405, "method GET is not allowed"},
		{"PUT", "PUT", "/v1/batch", []byte(`{}`), nil, 405, "takes POST"},
		{"unknown endpoint", "POST", "/v1/purchase", []byte(`{}`), nil, 404, "no endpoint at this path"},
		{"no identifier single", "POST", "/v1/track", []byte(`{"event":"e","properties":{"a":1}}`), nil, 400, "no identifier"},
		{"only unusable identifiers", "POST", "/v1/identify", []byte(`{"userId":"undefined","traits":{"email":"not-an-email"}}`), nil, 400, "no usable identifier"},
		{"unknown type single", "POST", "/v1/track", []byte(`{"type":"purchase","userId":"u"}`), nil, 400, "type is not one of"},
		{"year 9999 single", "POST", "/v1/track", []byte(`{"event":"e","userId":"u","timestamp":"9999-12-31T23:59:59Z"}`), nil, 400, "outside the accepted range"},
		{"bad source header", "POST", "/v1/track", []byte(`{"event":"e","userId":"u"}`), map[string]string{ingest.SourceHeader: "crm; drop"}, 400, "is not a source name"},
		// A manual correction's links are labelled "manual": events that
		// said so would pass for a person's decision in explanations.
		{"reserved source header", "POST", "/v1/track", []byte(`{"event":"e","userId":"u"}`), map[string]string{ingest.SourceHeader: "manual"}, 400, `"manual" is reserved`},
		{"reserved source header in another case", "POST", "/v1/batch", []byte(`{"batch":[{"type":"track","event":"e","userId":"u"}]}`), map[string]string{ingest.SourceHeader: "RULES"}, 400, `"RULES" is reserved`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, h.srv.URL+c.path, bytes.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.hdr {
				req.Header.Set(k, v)
			}
			r := h.do(t, req)
			if r.status != c.status || r.body.Success || !strings.Contains(r.body.Error, c.says) {
				t.Fatalf("got %d %s; want %d with an error containing %q", r.status, r.raw, c.status, c.says)
			}
		})
	}
	if got := h.metric(t, "cdp_ingest_events_stored_total"); got != 0 {
		t.Fatalf("bad input stored %v events", got)
	}
}

// TestSingleMessageMeasuredWithoutLineEnd: a single message's endpoint
// measures the message as a batch's messages are measured, without the
// spaces and line end around it (curl --data-binary @file sends the file's
// newline): exactly 32 KiB and a newline is stored, a byte more refused.
func TestSingleMessageMeasuredWithoutLineEnd(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{WriteKeys: map[string]string{}})
	msg := func(n int) string {
		head, tail := `{"event":"e","userId":"u-limit","properties":{"p":"`, `"}}`
		return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
	}
	r := h.rawPost(t, "/v1/track", []byte(msg(ingest.DefaultMaxMessageBytes)+"\r\n"), nil)
	if r.status != http.StatusOK || !r.body.Success {
		t.Fatalf("a message of exactly 32 KiB and a line end: %d %s; want 200", r.status, r.raw)
	}
	r = h.rawPost(t, "/v1/track", []byte(msg(ingest.DefaultMaxMessageBytes+1)+"\n"), nil)
	if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.body.Error, "message is 32769 bytes") {
		t.Fatalf("a byte over and a newline: %d %s; want 413 naming 32769 bytes", r.status, r.raw)
	}
}

// TestBatchPerItemRejections: in a batch, valid messages are stored and
// each invalid one is reported by index with its reason.
func TestBatchPerItemRejections(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{})
	big := `{"type":"track","event":"e","userId":"u","properties":{"s":"` + strings.Repeat("x", 33<<10) + `"}}`
	batch := `{"batch":[` + strings.Join([]string{
		`{"type":"track","event":"ok-1","userId":"u-1","messageId":"ok-1"}`, // 0 stored
		`{"type":"track","event":"e","userId":{"id":1}}`,                    // 1 wrong type
		`[1,2,3]`,                            // 2 array where an object belongs
		`{"type":"track","event":"e"}`,       // 3 no identifier
		`{"type":"purchase","userId":"u-1"}`, // 4 unknown type
		`{"type":"track","event":"e","userId":"u-1","timestamp":"9999-12-31T23:59:59Z"}`, // 5 year 9999
		big, // 6 over 32 KiB
		`{"type":"identify","userId":"null","traits":{"email":"@"}}`,                                // 7 no usable identifier (engine)
		`{"type":"identify","userId":"u-2","messageId":"ok-2","traits":{"email":"u2@example.com"}}`, // 8 stored
		`{"type":"track","event":"ok-1","userId":"u-1","messageId":"ok-1"}`,                         // 9 duplicate within the batch
		`"just a string"`,              // 10
		`{"userId":"u-1","event":"e"}`, // 11 no type in a batch
	}, ",") + `]}`
	r := h.rawPost(t, "/v1/batch", []byte(batch), map[string]string{"Authorization": basic("wk-node")})
	if r.status != http.StatusOK || !r.body.Success {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if r.body.Stored != 2 || r.body.Duplicates != 1 || r.body.Rejected != 9 {
		t.Fatalf("counts %+v", r.body)
	}
	want := map[int]string{
		1: "userId must be a string or a number", 2: "must be a JSON object, not an array", 3: "no identifier",
		4: "type is not one of", 5: "outside the accepted range", 6: "32 KiB", 7: "no usable identifier",
		10: "not a string", 11: "type is missing",
	}
	if len(r.body.Errors) != len(want) {
		t.Fatalf("errors %+v", r.body.Errors)
	}
	for i, e := range r.body.Errors {
		if i > 0 && r.body.Errors[i-1].Index >= e.Index {
			t.Errorf("errors not in index order: %+v", r.body.Errors)
		}
		if !strings.Contains(e.Reason, want[e.Index]) {
			t.Errorf("item %d: reason %q, want it to contain %q", e.Index, e.Reason, want[e.Index])
		}
	}
	if strings.Contains(r.raw, "u2@example.com") {
		t.Error("the response echoes an identifier value")
	}
	evs, err := h.eng.Events(context.Background(), []string{"node/ok-1", "node/ok-2"})
	if err != nil || len(evs) != 2 {
		t.Fatalf("valid items not stored: %v %v", evs, err)
	}
	if got := h.metric(t, "cdp_ingest_events_rejected_total"); got != 9 {
		t.Errorf("rejected metric %v, want 9", got)
	}
}

func basic(key string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":"))
}

// TestOversizedStreams: bodies with no Content-Length are cut at the limit
// too, before and after gunzip.
func TestOversizedStreams(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{WriteKeys: map[string]string{}})
	item := `{"type":"track","event":"e","userId":"u","properties":{"s":"` + strings.Repeat("z", 20<<10) + `"}},`
	plain := []byte(`{"batch":[` + strings.Repeat(item, 40) + `{}]}`)
	noise := make([]byte, 700<<10)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(rnd.Uint32()) // random bytes stay over 500 KiB compressed
	}
	if len(gz(noise)) <= 500<<10 {
		t.Fatal("the noise compressed below the limit")
	}
	for name, c := range map[string]struct {
		body []byte
		hdr  map[string]string
	}{
		"chunked plain":   {plain, nil},
		"chunked gzip":    {gz(plain), map[string]string{"Content-Encoding": "gzip"}},
		"compressed over": {gz(noise), map[string]string{"Content-Encoding": "gzip"}},
	} {
		t.Run(name, func(t *testing.T) {
			// io.MultiReader hides the length, so the client streams chunks.
			req, err := http.NewRequest("POST", h.srv.URL+"/v1/batch", io.MultiReader(bytes.NewReader(c.body)))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.hdr {
				req.Header.Set(k, v)
			}
			r := h.do(t, req)
			if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.body.Error, "500 KiB per-request limit") {
				t.Fatalf("got %d %s", r.status, r.raw)
			}
		})
	}
}
