package dump

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/idgraph/cdp/audience"
)

// The audience kinds: definitions with their kept state, members with the
// time they entered, and the change log with its sequence numbers. They
// are read through the audience contract and written as they are through
// AudienceWriter, since the contract would compute membership and number
// the log afresh.
const (
	Audiences       Kind = "audiences"        // AudienceRecord
	AudienceMembers Kind = "audience_members" // audience.Membership
	AudienceChanges Kind = "audience_changes" // audience.Change
)

// AudienceRecord is an audience as stored: its definition, Size and
// RefreshedAt, and Seq, the number of changes it has logged (the last
// sequence number given, which the log may no longer hold when entries
// were forgotten).
type AudienceRecord struct {
	audience.Audience
	Seq uint64
}

// AudienceReader lists the profile ids that computed values and facts are
// kept for, which the audience contract finds only by profile id: ids of
// profiles, live or merged away, and any id whose profile is gone. Each
// returns up to limit ids after the id after ("" from the start), each
// once, in an order of the store's own that does not change while nothing
// writes, in one round trip.
type AudienceReader interface {
	ComputedValueProfileIDs(ctx context.Context, after string, limit int) ([]string, error)
	FactsProfileIDs(ctx context.Context, after string, limit int) ([]string, error)
}

// AudienceWriter writes audience records as they are, each call in one
// transaction and a fixed number of round trips.
type AudienceWriter interface {
	// AudienceSeqs returns the Seq of the stored audiences among ids.
	AudienceSeqs(ctx context.Context, ids []string) (map[string]uint64, error)
	// PutAudienceRecords creates the audiences, or overwrites the stored
	// ones, with every field given.
	PutAudienceRecords(ctx context.Context, as []AudienceRecord) error
	// PutAudienceMembers makes the profiles members since the time given
	// (overwriting the time of a stored member).
	PutAudienceMembers(ctx context.Context, ms []audience.Membership) error
	// PutAudienceChanges adds log entries with their sequence numbers; an
	// entry already stored (same audience, time and seq) is kept.
	PutAudienceChanges(ctx context.Context, cs []audience.Change) error
}

// audienceStore is what a store needs for the audience kinds.
type audienceStore interface {
	audience.Store
	AudienceWriter
}

const cursorSep = "\x1f"

// pageAudiences reads definitions by id.
func (s *Stream) pageAudiences(ctx context.Context, after string, limit int) (Batch, error) {
	limit = min(limit, audience.MaxPage)
	as, err := s.audW.AudiencePage(ctx, audience.Page{After: after, Limit: limit})
	if err != nil {
		return Batch{}, err
	}
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	seqs, err := s.audW.AudienceSeqs(ctx, ids)
	if err != nil {
		return Batch{}, err
	}
	b := Batch{Kind: Audiences}
	for _, a := range as {
		b.Audiences = append(b.Audiences, AudienceRecord{Audience: a, Seq: seqs[a.ID]})
	}
	if len(as) == limit {
		b.Next = as[len(as)-1].ID
	}
	return b, nil
}

// pageAudienceItems reads members (by profile id) or log entries (newest
// first) of one audience at a time. The cursor is "A" and the id of the
// last audience done, or "M" or "C", the audience id and the position
// inside it.
func (s *Stream) pageAudienceItems(ctx context.Context, k Kind, after string, limit int) (Batch, error) {
	limit = min(limit, audience.MaxPage)
	b := Batch{Kind: k}
	aid, pos, inside := "", "", false
	if after != "" {
		var ok bool
		aid, pos, ok = strings.Cut(after[1:], cursorSep)
		inside = after[0] != 'A'
		if after[0] == 'A' {
			aid, pos = after[1:], ""
		} else if !ok {
			return Batch{}, fmt.Errorf("bad audience cursor")
		}
	}
	if !inside {
		as, err := s.audW.AudiencePage(ctx, audience.Page{After: aid, Limit: 1})
		if err != nil || len(as) == 0 {
			return b, err
		}
		aid = as[0].ID
	}
	full := false
	if k == AudienceMembers {
		ms, err := s.audW.Members(ctx, aid, audience.Page{After: pos, Limit: limit})
		if err != nil {
			return Batch{}, err
		}
		b.AudienceMembers = ms
		if full = len(ms) == limit; full {
			b.Next = "M" + aid + cursorSep + ms[len(ms)-1].ProfileID
		}
	} else {
		q := audience.ChangePage{Limit: limit}
		if pos != "" {
			at, seq, _ := strings.Cut(pos, cursorSep)
			t, err := time.Parse(time.RFC3339Nano, at)
			if err != nil {
				return Batch{}, fmt.Errorf("bad audience log cursor")
			}
			n, err := strconv.ParseUint(seq, 10, 64)
			if err != nil {
				return Batch{}, fmt.Errorf("bad audience log cursor")
			}
			q.AfterAt, q.AfterSeq, q.After = t, n, true
		}
		cs, err := s.audW.Changes(ctx, aid, q)
		if err != nil {
			return Batch{}, err
		}
		b.AudienceChanges = cs
		if full = len(cs) == limit; full {
			last := cs[len(cs)-1]
			b.Next = "C" + aid + cursorSep + last.At.UTC().Format(time.RFC3339Nano) + cursorSep + strconv.FormatUint(last.Seq, 10)
		}
	}
	if !full {
		b.Next = "A" + aid
	}
	return b, nil
}

// loadAudiences writes a batch of an audience kind as it is.
func (s *Stream) loadAudiences(ctx context.Context, b Batch) error {
	switch {
	case b.Kind == Audiences && len(b.Audiences) > 0:
		return s.audW.PutAudienceRecords(ctx, b.Audiences)
	case b.Kind == AudienceMembers && len(b.AudienceMembers) > 0:
		return s.audW.PutAudienceMembers(ctx, b.AudienceMembers)
	case b.Kind == AudienceChanges && len(b.AudienceChanges) > 0:
		return s.audW.PutAudienceChanges(ctx, b.AudienceChanges)
	}
	return nil
}
