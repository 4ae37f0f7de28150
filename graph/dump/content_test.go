package dump

import (
	"bytes"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Every kind a copy carries is compared by content (ContentKinds), and
// the canonical form of a record is the same whatever a store may give
// back that means the same (a time in another zone, or to the nanosecond;
// none as empty), and differs wherever the records do, down to a
// microsecond, an integer against an integral float, or a facts value JSON
// would not tell apart.
func TestCanonicalRecord(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	paris := at.In(time.FixedZone("CET", 3600)).Add(789 * time.Nanosecond)
	later := at.Add(time.Microsecond)
	entry := graph.FeedEntry{Seq: 3, At: at, Kind: graph.FeedMerged, ProfileID: "p_a", PreviousIDs: []string{"p_b"}}
	facts := audience.Facts{ProfileID: "p_a", Keys: []string{"user_id:u1"}, Types: []string{"user_id"},
		Traits: []audience.TraitFact{{Name: "x", Value: map[string]any{}}}}
	otherFacts := facts
	otherFacts.Traits = []audience.TraitFact{{Name: "x", Value: audience.OtherValue{}}}
	for _, c := range []struct {
		name string
		a, b any
		same bool
	}{
		{"suppression secret", suppressionKey(bytes.Repeat([]byte{1}, 32)), suppressionKey(bytes.Repeat([]byte{2}, 32)), false},
		{"suppression in another zone", privacy.Suppression{Hash: "h", At: at}, privacy.Suppression{Hash: "h", At: paris}, true},
		{"suppression a microsecond later", privacy.Suppression{Hash: "h", At: at}, privacy.Suppression{Hash: "h", At: later}, false},
		{"retired profile id", "aa", "ab", false},
		{"receipt count", privacy.ErasureReceipt{ID: "r", At: at, Events: 1}, privacy.ErasureReceipt{ID: "r", At: paris, Events: 2}, false},
		{"computed trait", audience.ComputedTrait{Name: "n", CreatedAt: at}, audience.ComputedTrait{Name: "n", CreatedAt: paris}, true},
		{"computed value's number", audience.ComputedValue{ProfileID: "p", Name: "n", Value: int64(3), ComputedAt: at},
			audience.ComputedValue{ProfileID: "p", Name: "n", Value: 3.0, ComputedAt: at}, false},
		{"computed value's map order", audience.ComputedValue{ProfileID: "p", Name: "n", Value: map[string]any{"a": 1.5, "b": "x"}, ComputedAt: at},
			audience.ComputedValue{ProfileID: "p", Name: "n", Value: map[string]any{"b": "x", "a": 1.5}, ComputedAt: paris}, true},
		{"facts: an empty object or a value of no kind", facts, otherFacts, false},
		{"facts", facts, facts, true},
		{"audience seq", AudienceRecord{Audience: audience.Audience{ID: "a", RefreshedAt: at}, Seq: 1},
			AudienceRecord{Audience: audience.Audience{ID: "a", RefreshedAt: paris}, Seq: 2}, false},
		{"member since", audience.Membership{AudienceID: "a", ProfileID: "p", Since: at}, audience.Membership{AudienceID: "a", ProfileID: "p", Since: later}, false},
		{"audience log", audience.Change{AudienceID: "a", ProfileID: "p", Kind: audience.Entered, At: at, Seq: 1},
			audience.Change{AudienceID: "a", ProfileID: "p", Kind: audience.Exited, At: at, Seq: 1}, false},
		{"feed entry in another zone, no previous ids as empty", graph.FeedEntry{Seq: 1, At: at, Kind: graph.FeedTraitsChanged, ProfileID: "p"},
			graph.FeedEntry{Seq: 1, At: paris, Kind: graph.FeedTraitsChanged, ProfileID: "p", PreviousIDs: []string{}}, true},
		{"feed entry's previous ids", entry, graph.FeedEntry{Seq: 3, At: at, Kind: graph.FeedMerged, ProfileID: "p_a", PreviousIDs: []string{"p_c"}}, false},
		{"delivery with no entries as empty", destination.Delivery{ID: "d", Number: 1, CreatedAt: at}, destination.Delivery{ID: "d", Number: 1, CreatedAt: paris, Entries: []graph.FeedEntry{}}, true},
		{"delivery's entry", destination.Delivery{ID: "d", Number: 1, Entries: []graph.FeedEntry{entry}},
			destination.Delivery{ID: "d", Number: 1, Entries: []graph.FeedEntry{{Seq: 3, At: later, Kind: entry.Kind, ProfileID: "p_a", PreviousIDs: []string{"p_b"}}}}, false},
	} {
		a, err := CanonicalRecord(c.a)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		b, err := CanonicalRecord(c.b)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if same := bytes.Equal(a, b); same != c.same {
			t.Errorf("%s: the canonical forms are the same: %v, want %v\n%s\n%s", c.name, same, c.same, a, b)
		}
	}
	for _, k := range allKinds {
		if _, err := contentRecords(Batch{Kind: k}); err != nil {
			t.Errorf("kind %s is not compared by content: %v", k, err)
		}
	}
}
