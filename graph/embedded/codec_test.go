package embedded

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/graph"
)

// Times the records must keep exactly: zero, before 1970, far outside the
// years JSON can write, and with nanoseconds.
var codecTimes = []time.Time{
	{},
	time.Unix(0, 0).UTC(),
	time.Date(1900, 2, 3, 4, 5, 6, 7000, time.UTC),
	time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(30000, 12, 31, 23, 59, 59, 999999999, time.UTC),
	t0.Add(123456 * time.Microsecond),
}

func TestProfileRecordRoundTrip(t *testing.T) {
	for _, at := range codecTimes {
		for _, p := range []graph.Profile{
			{ID: "p1", CreatedAt: at, UpdatedAt: t0, Size: 3, Counts: map[string]int{"email": 1, "user_id": 2}},
			{ID: "p\x00\xff", CreatedAt: t0, UpdatedAt: at, MergedInto: "p2"},
			{ID: "", CreatedAt: at, UpdatedAt: at, Size: -1},
		} {
			got, err := decodeProfile(p.ID, encodeProfile(p))
			if err != nil || !reflect.DeepEqual(got, p) {
				t.Errorf("profile %+v came back as %+v, %v", p, got, err)
			}
		}
	}
	// An empty map reads back as none, as it did through JSON.
	got, err := decodeProfile("p", encodeProfile(graph.Profile{ID: "p", Counts: map[string]int{}}))
	if err != nil || got.Counts != nil {
		t.Errorf("empty counts came back as %#v, %v", got.Counts, err)
	}
	if _, err := decodeProfile("p", encodeProfile(graph.Profile{ID: "p", Size: 2})[:3]); err == nil {
		t.Error("a truncated profile decodes without error")
	}
}

func TestLinkRecordRoundTrip(t *testing.T) {
	for _, at := range codecTimes {
		l := graph.Link{A: "anonymous_id:a", B: "user_id:\x00b", Source: "web", Evidence: "m-1", FirstSeen: at, LastSeen: t0, Count: 1 << 40}
		got, err := decodeLink(l.A, l.B, encodeLink(l))
		if err != nil || !reflect.DeepEqual(got, l) {
			t.Errorf("link %+v came back as %+v, %v", l, got, err)
		}
	}
}

func TestEventRecordRoundTrip(t *testing.T) {
	for _, at := range codecTimes {
		ev := graph.Event{
			ID: "m-1", Type: "track", Name: "Viewed \xff", Channel: "web", Source: "site", Timestamp: at, ReceivedAt: t0,
			Properties: map[string]any{"path": "/x", "value": 19.5, "n": map[string]any{"a": []any{int64(1), "b", nil}}},
			Traits:     map[string]any{"plan": "pro"},
			Keys:       []string{"anonymous_id:a", "user_id:u"},
		}
		v, err := encodeEvent(&ev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeEvent(ev.ID, v)
		if err != nil || !reflect.DeepEqual(got, ev) {
			t.Errorf("event %+v came back as %+v, %v", ev, got, err)
		}
	}
	// Empty maps and keys read back as none, as they did through JSON.
	ev := graph.Event{ID: "m-2", Properties: map[string]any{}, Traits: map[string]any{}, Keys: []string{}}
	v, err := encodeEvent(&ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeEvent(ev.ID, v)
	if err != nil || got.Properties != nil || got.Traits != nil || got.Keys != nil {
		t.Errorf("empty event came back as %+v, %v", got, err)
	}
}

func TestIdentifierRecordRoundTrip(t *testing.T) {
	for _, at := range codecTimes {
		for key, r := range map[string]identRecord{
			"email:a@b.c":      {Type: "email", Value: "a@b.c", FirstSeen: at, LastSeen: t0, Sources: []string{"web", `q"\<`}, Profile: "p_1"},
			"user_id:\xff\x00": {Type: "user_id", Value: "\xff\x00", FirstSeen: t0, LastSeen: at},
			"odd":              {Type: "odd", Value: "", FirstSeen: at, LastSeen: at},
			"x:y":              {Type: "a:b", Value: "c", FirstSeen: at, LastSeen: at, Profile: "p\n2"},
			"t:v": {Type: "t", Value: "v", FirstSeen: at, LastSeen: at, Traits: map[string]graph.TraitValue{
				"plan": {Value: "pro", Source: "crm", At: t0},
			}},
		} {
			v, err := encodeIdent(key, &r)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(v) {
				t.Fatalf("identifier %q is stored as invalid JSON %s", key, v)
			}
			got, err := decodeIdent(key, v)
			if err != nil || !reflect.DeepEqual(*got, r) {
				t.Errorf("identifier %q %+v came back as %+v, %v", key, r, got, err)
			}
		}
	}
}

// cdp bench reads an identifier's profile straight from the file: the
// "profile" field of the JSON in the identifiers bucket under the key's
// length as a uvarint, the key, then a zero byte. rawIdentKey spells that
// out as bench/lookup.go does, so a change of layout fails here first.
func rawIdentKey(k string) []byte {
	b := binary.AppendUvarint(nil, uint64(len(k)))
	return append(append(b, k...), 0)
}

// The raw read of cdp bench finds the profile the store answers.
func TestIdentifierProfileReadableAsJSON(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	e := graph.NewEngine(s, nil)
	applyBatch(t, e, event("m-1", t0, user("u1"), anon("a1")))
	var want string
	view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
		ids, err := tx.Identifiers(ctx, []string{"user_id:u1"})
		want = ids["user_id:u1"].ProfileID
		return err
	})
	if want == "" {
		t.Fatal("no profile")
	}
	err := s.db.View(func(btx *bolt.Tx) error {
		var rec struct {
			Profile string `json:"profile"`
		}
		if err := json.Unmarshal(btx.Bucket([]byte("identifiers")).Get(rawIdentKey("user_id:u1")), &rec); err != nil {
			return err
		}
		if rec.Profile != want {
			t.Errorf("raw read finds profile %q, want %q", rec.Profile, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
