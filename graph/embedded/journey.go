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
	h := make(streams, 0, len(keys))
	for _, k := range keys {
		s := &byStream{c: t.idents.Cursor(), prefix: byPrefix(k)}
		var bound []byte
		if upper != nil {
			bound = append(append([]byte(nil), s.prefix...), upper...)
		} else {
			bound = prefixEnd(s.prefix)
		}
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
	heap.Init(&h)
	var out []graph.Event
	var last []byte
	for h.Len() > 0 && (q.Limit < 1 || len(out) < q.Limit) {
		s := h[0]
		// An event BY several members shows up once per member, at the
		// same position, so its copies come out of the heap in a row.
		if !bytes.Equal(s.cur, last) {
			last = append(last[:0], s.cur...)
			id := string(s.cur[timeLen:])
			ev, ok, err := t.event(id)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("event %q is indexed but not stored", id)
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
	return out, nil
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
