package embedded

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// TestEventRecordDigestTail: the digest and message id ride in a tail that
// records written before them lack. Such a record still reads (both
// empty), an event without them is written exactly as before, and every
// form of the tail reads back as written.
func TestEventRecordDigestTail(t *testing.T) {
	base := graph.Event{ID: "web/m-1", Type: "track", Name: "n", Channel: "web", Source: "web", Timestamp: t0, ReceivedAt: t0,
		Properties: map[string]any{"a": int64(1)}, Keys: []string{"user_id:u"}}
	// The layout before the tail, written field by field.
	old := enc(nil).str("track").str("n").str("web").str("web").time(t0).time(t0).strs([]string{"user_id:u"}).bytes([]byte(`{"a":1}`)).bytes(nil)
	got, err := decodeEvent(base.ID, old)
	if err != nil || !reflect.DeepEqual(got, base) {
		t.Fatalf("a record without the tail reads as %+v, %v; want %+v", got, err, base)
	}
	v, err := encodeEvent(&base)
	if err != nil || !bytes.Equal(v, old) {
		t.Fatalf("an event without digest or message id is written as %x, %v; want the old layout %x", v, err, []byte(old))
	}

	hexDigest := strings.Repeat("0123456789abcdef", 4)
	for _, c := range []struct {
		name       string
		digest, id string
		msgID      string
		size       int // bytes of the tail
	}{
		{"hex digest, id after the source", hexDigest, "web/m-1", "m-1", 1 + 32 + 1},
		{"hex digest, no message id", hexDigest, "web/m-1", "", 1 + 32 + 1},
		{"upper-case hex kept as a string", strings.ToUpper(hexDigest), "web/m-1", "m-1", 1 + 1 + 64 + 1},
		{"other digest", "d1", "web/m-1", "m-1", 1 + 1 + 2 + 1},
		{"no digest, message id", "", "web/m-1", "m-1", 1 + 1},
		{"message id not in the id", hexDigest, "legacy", "m-9", 1 + 32 + 1 + 1 + 3},
		{"id of another source's form", hexDigest, "crm/m-1", "m-1", 1 + 32 + 1 + 1 + 3},
	} {
		ev := base
		ev.ID, ev.Digest, ev.MessageID = c.id, c.digest, c.msgID
		v, err := encodeEvent(&ev)
		if err != nil {
			t.Fatal(err)
		}
		if tail := len(v) - len(old); tail != c.size {
			t.Errorf("%s: tail of %d bytes, want %d", c.name, tail, c.size)
		}
		got, err := decodeEvent(ev.ID, v)
		if err != nil || !reflect.DeepEqual(got, ev) {
			t.Errorf("%s: %+v came back as %+v, %v", c.name, ev, got, err)
		}
		// Rewriting a record from its parsed form (as erasure does) keeps it.
		r, err := parseEvent(ev.ID, v)
		if err != nil || !bytes.Equal(r.encode(), v) {
			t.Errorf("%s: re-encoded record differs (%v)", c.name, err)
		}
		if _, err := decodeEvent(ev.ID, v[:len(v)-1]); err == nil {
			t.Errorf("%s: a truncated tail decodes without error", c.name)
		}
	}
	if _, err := decodeEvent(base.ID, append(bytes.Clone(old), 7)); err == nil {
		t.Error("an unknown tail tag decodes without error")
	}
}
