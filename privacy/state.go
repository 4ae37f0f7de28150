package privacy

import (
	"slices"
	"strings"
	"time"
)

// ConsentState is a profile's consent for one purpose, and the record
// behind it (nil, with At and Source zero, for UNKNOWN).
type ConsentState struct {
	Purpose string
	State   State
	At      time.Time
	Source  string
	Record  *Record
}

// Compare orders records from oldest to newest: by At, then by ReceivedAt,
// then by ID (byte order). It returns -1, 0 or +1 like cmp.Compare; two
// records compare equal only when all three match, which record ids, unique
// in a ledger, rule out. The newest record is the greatest; a store asked
// for the newest sorts the same way (at, receivedAt, id).
func Compare(a, b Record) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	if c := a.ReceivedAt.Compare(b.ReceivedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// StateOf applies the state rule to the records of one profile (all its
// identifiers' records; those for other purposes are ignored): the newest
// record for purpose by Compare gives the state, a GRANTED record whose
// ExpiresAt is set and not after now gives EXPIRED, and no record gives
// UNKNOWN. Record points to a copy.
func StateOf(records []Record, purpose string, now time.Time) ConsentState {
	var newest *Record
	for i := range records {
		r := &records[i]
		if r.Purpose == purpose && (newest == nil || Compare(*r, *newest) > 0) {
			newest = r
		}
	}
	return stateFrom(purpose, newest, now)
}

// States gives one state per known purpose, in the purposes' order.
// Records for purposes the rules no longer list are ignored.
func States(records []Record, p *Purposes, now time.Time) []ConsentState {
	newest := make(map[string]*Record, len(p.list))
	for i := range records {
		r := &records[i]
		if cur, ok := newest[r.Purpose]; p.known[r.Purpose] && (!ok || Compare(*r, *cur) > 0) {
			newest[r.Purpose] = r
		}
	}
	out := make([]ConsentState, len(p.list))
	for i, purpose := range p.list {
		out[i] = stateFrom(purpose, newest[purpose], now)
	}
	return out
}

func stateFrom(purpose string, r *Record, now time.Time) ConsentState {
	if r == nil {
		return ConsentState{Purpose: purpose, State: StateUnknown}
	}
	c := *r
	s := State(c.Status)
	if c.Status == StatusGranted && !c.ExpiresAt.IsZero() && !c.ExpiresAt.After(now) {
		s = StateExpired
	}
	return ConsentState{Purpose: purpose, State: s, At: c.At, Source: c.Source, Record: &c}
}

// History returns the records for purpose ("" for every purpose), newest
// first (Compare, reversed), in a new slice.
func History(records []Record, purpose string) []Record {
	out := make([]Record, 0, len(records))
	for _, r := range records {
		if purpose == "" || r.Purpose == purpose {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Record) int { return Compare(b, a) })
	return out
}
