package embedded

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// TestEventRecordCampaign: the campaign rides last in the tail, only when
// the event has one, so an event without one is written as before and a
// record written before campaigns were kept reads back with none.
func TestEventRecordCampaign(t *testing.T) {
	hexDigest := strings.Repeat("0123456789abcdef", 4)
	base := graph.Event{ID: "web/m-1", MessageID: "m-1", Digest: hexDigest, Type: "track", Name: "n", Channel: "web", Source: "web",
		Timestamp: t0, ReceivedAt: t0, Keys: []string{"user_id:u"}}
	// The layout before campaigns, written field by field: the tail is the
	// hex digest (1, then 32 bytes) and the short message id (1).
	old := enc(nil).str("track").str("n").str("web").str("web").time(t0).time(t0).strs([]string{"user_id:u"}).bytes(nil).bytes(nil)
	old = append(old.uint(tailShort), bytes.Repeat([]byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}, 4)...)
	old = old.uint(tailShort)
	got, err := decodeEvent(base.ID, old)
	if err != nil || !reflect.DeepEqual(got, base) {
		t.Fatalf("a record written before campaigns reads as %+v, %v; want %+v", got, err, base)
	}
	if v, err := encodeEvent(&base); err != nil || !bytes.Equal(v, old) {
		t.Fatalf("an event without a campaign is written as %x, %v; want the old layout %x", v, err, []byte(old))
	}

	for _, c := range []struct {
		name string
		ev   graph.Event
		tail []byte // the bytes after the fields every record has
	}{
		{"with digest and message id", withCampaign(base, "spring-sale"),
			append(append([]byte{tailShort}, old[len(old)-33:len(old)-1]...), tailShort, 11, 's', 'p', 'r', 'i', 'n', 'g', '-', 's', 'a', 'l', 'e')},
		{"without digest or message id", withCampaign(graph.Event{ID: "e", Type: "track", Timestamp: t0, ReceivedAt: t0}, "Été"),
			[]byte{tailNone, tailNone, 5, 0xc3, 0x89, 't', 0xc3, 0xa9}},
	} {
		v, err := encodeEvent(&c.ev)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasSuffix(v, c.tail) {
			t.Errorf("%s: record %x does not end in %x", c.name, v, c.tail)
		}
		got, err := decodeEvent(c.ev.ID, v)
		if err != nil || !reflect.DeepEqual(got, c.ev) {
			t.Errorf("%s: %+v came back as %+v, %v", c.name, c.ev, got, err)
		}
		// Rewriting a record from its parsed form (as erasure and the
		// removal of a key do) keeps its campaign.
		r, err := parseEvent(c.ev.ID, v)
		if err != nil || !bytes.Equal(r.encode(), v) || r.Campaign != c.ev.Campaign {
			t.Errorf("%s: re-encoded record differs (%v)", c.name, err)
		}
		if _, err := decodeEvent(c.ev.ID, v[:len(v)-1]); err == nil {
			t.Errorf("%s: a truncated campaign decodes without error", c.name)
		}
	}
	// A zero after the message id would be an empty campaign, which is
	// never written: the record is damaged.
	if _, err := decodeEvent(base.ID, append(bytes.Clone(old), 0)); err == nil {
		t.Error("a record padded with a zero decodes without error")
	}
}

func withCampaign(ev graph.Event, c string) graph.Event {
	ev.Campaign = c
	return ev
}
