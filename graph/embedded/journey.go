package embedded

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/graph"
)

// byStream walks one identifier's BY index backwards: newest first.
type byStream struct {
	c      *bolt.Cursor
	prefix []byte
	bound  []byte // where the walk starts
	cur    []byte // time then event id, valid until the cursor moves
}

// streams is a max-heap on cur: byte order of the index is journey order.
type streams []*byStream

func (h streams) Len() int           { return len(h) }
func (h streams) Less(i, j int) bool { return bytes.Compare(h[i].cur, h[j].cur) > 0 }
func (h streams) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *streams) Push(x any)        { *h = append(*h, x.(*byStream)) }
func (h *streams) Pop() any {
	old := *h
	s := old[len(old)-1]
	*h = old[:len(old)-1]
	return s
}

// Journeys implements graph.ReadTx. For each profile it merges the BY
// indexes of its members, newest first, reading only entries inside the
// time window and after the cursor, and stops once q.Limit events passed
// the filters. A Limit below 1 means no limit.
func (t *tx) Journeys(ctx context.Context, profileIDs []string, q graph.JourneyQuery) (map[string][]graph.Event, error) {
	// Entries are byPrefix(key) time id; upper is the exclusive bound on
	// the part after the prefix, lower the inclusive floor on its time.
	var upper, lower []byte
	if q.After != nil {
		upper = append(appendTime(nil, q.After.Timestamp), q.After.ID...)
	}
	if !q.To.IsZero() {
		if to := appendTime(nil, q.To); upper == nil || bytes.Compare(to, upper) < 0 {
			upper = to
		}
	}
	if !q.From.IsZero() {
		lower = appendTime(nil, q.From)
	}
	out := map[string][]graph.Event{}
	mc := t.members.Cursor()
	r := t.journeyReader()
	clear(r.members)
	for _, id := range uniqueSorted(profileIDs) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		keys := t.memberKeys(mc, id)
		if r.members != nil {
			r.members[id] = keys
		}
		evs, err := t.journey(keys, q, upper, lower)
		if err != nil {
			return nil, err
		}
		if len(evs) > 0 {
			out[id] = evs
		}
	}
	return out, nil
}

func (t *tx) journey(keys []string, q graph.JourneyQuery, upper, lower []byte) ([]graph.Event, error) {
	r := t.journeyReader()
	h := r.heap[:0]
	for i, k := range keys {
		if i == len(r.streams) {
			r.streams = append(r.streams, &byStream{c: t.idents.Cursor()})
		}
		s := r.streams[i]
		s.prefix = append(appendPart(s.prefix[:0], k), tagBy)
		var bound []byte
		if upper != nil {
			bound = append(append(s.bound[:0], s.prefix...), upper...)
		} else {
			bound = appendPrefixEnd(s.bound[:0], s.prefix)
		}
		s.bound = bound
		var e []byte
		if bound == nil {
			e, _ = s.c.Last()
		} else if e, _ = s.c.Seek(bound); e == nil {
			e, _ = s.c.Last()
		} else {
			e, _ = s.c.Prev()
		}
		if s.accept(e, lower) {
			h = append(h, s)
		}
	}
	r.heap = h[:0]
	heap.Init(&h)
	r.keys = keys
	out := r.out[:0]
	last := r.last[:0]
	for h.Len() > 0 && (q.Limit < 1 || len(out) < q.Limit) {
		s := h[0]
		// An event BY several members shows up once per member, at the
		// same position, so its copies come out of the heap in a row.
		if !bytes.Equal(s.cur, last) {
			last = append(last[:0], s.cur...)
			ev, ok, err := t.eventAt(r, s.cur[timeLen:], q.NoPayload)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("event %q is indexed but not stored", s.cur[timeLen:])
			}
			if q.After.Admits(ev) && q.Match(ev) {
				out = append(out, ev)
			}
		}
		if e, _ := s.c.Prev(); s.accept(e, lower) {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	r.last, r.out = last, out
	if len(out) == 0 {
		return nil, nil
	}
	return slices.Clone(out), nil
}

// journeyReader holds what reading journeys reuses from one profile to
// the next in a transaction: cursors (a fresh bbolt cursor grows its
// stack on every search), buffers, and the strings events repeat.
type journeyReader struct {
	streams []*byStream
	heap    streams
	last    []byte
	out     []graph.Event // the journey being read, copied out at its end
	events  *bolt.Cursor
	names   map[string]string
	// keys are the member keys of the profile being read; its events
	// carry them.
	keys []string
	// members holds, in a read-only transaction, the member keys the
	// last Journeys call read, by profile, for MemberKeys.
	members map[string][]string
	// name and key are r.internName and r.internKey, made once.
	name, key func([]byte) string
}

func (t *tx) journeyReader() *journeyReader {
	if t.journeys == nil {
		r := &journeyReader{events: t.events().Cursor(), names: map[string]string{}}
		if !t.btx.Writable() {
			r.members = map[string][]string{}
		}
		r.name, r.key = r.internName, r.internKey
		t.journeys = r
	}
	return t.journeys
}

// maxInternKeys bounds the member keys internKey compares a key with.
const maxInternKeys = 16

// maxNames bounds the names a journeyReader keeps.
const maxNames = 4096

// internKey returns b as a string: the member key of the profile being
// read that it equals, if any.
func (r *journeyReader) internKey(b []byte) string {
	if len(r.keys) <= maxInternKeys {
		for _, k := range r.keys {
			if k == string(b) {
				return k
			}
		}
	}
	return string(b)
}

// internName returns b as a string, the same string each time while there
// is room: event types, names, channels and sources repeat.
func (r *journeyReader) internName(b []byte) string {
	if s, ok := r.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(r.names) < maxNames {
		r.names[s] = s
	}
	return s
}

// eventAt reads the event id with r's cursor, without its properties and
// traits when noPayload is set.
func (t *tx) eventAt(r *journeyReader, id []byte, noPayload bool) (graph.Event, bool, error) {
	k, v := r.events.Seek(id)
	if v == nil || !bytes.Equal(k, id) {
		return graph.Event{}, false, nil
	}
	if noPayload {
		rec, err := parseEventNamed(string(id), v, r.name, r.key)
		return rec.Event, err == nil, err
	}
	ev, err := decodeEventNamed(string(id), v, r.name, r.key)
	return ev, err == nil, err
}

// accept moves the stream to index entry e, reporting false when e belongs
// to another identifier or falls before the window.
func (s *byStream) accept(e, lower []byte) bool {
	if e == nil || !bytes.HasPrefix(e, s.prefix) || len(e) < len(s.prefix)+timeLen {
		return false
	}
	s.cur = e[len(s.prefix):]
	return lower == nil || bytes.Compare(s.cur[:timeLen], lower) >= 0
}
