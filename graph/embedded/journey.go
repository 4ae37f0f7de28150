package embedded

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"

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
	for _, id := range uniqueSorted(profileIDs) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		evs, err := t.journey(t.memberKeys(mc, id), q, upper, lower)
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
	var out []graph.Event
	if h.Len() > 0 {
		out = make([]graph.Event, 0, journeyCap(q.Limit))
	}
	last := r.last[:0]
	for h.Len() > 0 && (q.Limit < 1 || len(out) < q.Limit) {
		s := h[0]
		// An event BY several members shows up once per member, at the
		// same position, so its copies come out of the heap in a row.
		if !bytes.Equal(s.cur, last) {
			last = append(last[:0], s.cur...)
			ev, ok, err := t.eventAt(r, s.cur[timeLen:])
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
	r.last = last
	return out, nil
}

// journeyCap is the room a journey starts with: most people's journeys
// are short, and a page is at most limit long.
func journeyCap(limit int) int {
	if limit < 1 || limit > 16 {
		return 16
	}
	return limit
}

// journeyReader holds what reading journeys reuses from one profile to
// the next in a transaction: cursors (a fresh bbolt cursor grows its
// stack on every search), key buffers, and the names events repeat.
type journeyReader struct {
	streams []*byStream
	heap    streams
	last    []byte
	events  *bolt.Cursor
	names   map[string]string
}

func (t *tx) journeyReader() *journeyReader {
	if t.journeys == nil {
		t.journeys = &journeyReader{events: t.events.Cursor(), names: map[string]string{}}
	}
	return t.journeys
}

// maxNames bounds the names a journeyReader keeps.
const maxNames = 4096

// name returns b as a string, the same string each time while there is
// room: event types, names, channels and sources repeat.
func (r *journeyReader) name(b []byte) string {
	if s, ok := r.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(r.names) < maxNames {
		r.names[s] = s
	}
	return s
}

// eventAt reads the event id with r's cursor.
func (t *tx) eventAt(r *journeyReader, id []byte) (graph.Event, bool, error) {
	k, v := r.events.Seek(id)
	if v == nil || !bytes.Equal(k, id) {
		return graph.Event{}, false, nil
	}
	ev, err := decodeEventNamed(string(id), v, r.name)
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
