package dump

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
)

// The kinds of the access capability, read and written through its
// contract (access.Store), which keeps every field as given.
const (
	APIKeys Kind = "api_keys" // access.Key, hash and times included
	Audit   Kind = "audit"    // access.AuditEntry
)

// Stream is the whole record stream of one store: the graph kinds through
// the store's Reader, and the kinds of each capability the store holds
// through that capability's contract. It is a Reader itself.
type Stream struct {
	st     graph.Store
	r      Reader
	access access.Store // nil when the store holds no API keys
}

// NewStream returns the stream of st.
//
// Errors: st does not implement Reader.
func NewStream(st graph.Store) (*Stream, error) {
	r, ok := st.(Reader)
	if !ok {
		return nil, fmt.Errorf("the store %T cannot be read as a record stream", st)
	}
	s := &Stream{st: st, r: r}
	s.access, _ = st.(access.Store)
	return s, nil
}

// Store returns the stream's store.
func (s *Stream) Store() graph.Store { return s.st }

// Kinds lists the kinds the store holds, in load order: the graph kinds,
// then API keys and the audit log.
func (s *Stream) Kinds() []Kind {
	out := append([]Kind(nil), Kinds...)
	if s.access != nil {
		out = append(out, APIKeys, Audit)
	}
	return out
}

func (s *Stream) holds(k Kind) bool {
	for _, x := range s.Kinds() {
		if x == k {
			return true
		}
	}
	return false
}

// Count implements Reader.
func (s *Stream) Count(ctx context.Context, k Kind) (int, error) {
	switch {
	case !s.holds(k):
		return 0, fmt.Errorf("the store %T holds no %s", s.st, k)
	case k == APIKeys:
		return s.access.CountKeys(ctx)
	case k == Audit:
		// The contract has no count: page through the log.
		n, after := 0, ""
		for {
			b, err := s.Page(ctx, Audit, after, access.MaxPage)
			if err != nil {
				return 0, err
			}
			n += len(b.Audit)
			if b.Next == "" {
				return n, nil
			}
			after = b.Next
		}
	}
	return s.r.Count(ctx, k)
}

// Page implements Reader. API keys come by id, the audit log newest first.
func (s *Stream) Page(ctx context.Context, k Kind, after string, limit int) (Batch, error) {
	limit = max(1, limit)
	switch {
	case !s.holds(k):
		return Batch{}, fmt.Errorf("the store %T holds no %s", s.st, k)
	case k == APIKeys:
		limit = min(limit, access.MaxPage)
		keys, err := s.access.Keys(ctx, limit, after)
		if err != nil {
			return Batch{}, err
		}
		b := Batch{Kind: k, APIKeys: keys}
		if len(keys) == limit {
			b.Next = keys[len(keys)-1].ID
		}
		return b, nil
	case k == Audit:
		limit = min(limit, access.MaxPage)
		q := access.AuditQuery{Limit: limit}
		if after != "" {
			at, id, ok := strings.Cut(after, " ")
			t, err := time.Parse(time.RFC3339Nano, at)
			if !ok || err != nil {
				return Batch{}, fmt.Errorf("bad audit cursor %q", after)
			}
			q.After = access.AuditCursor{At: t, ID: id}
		}
		entries, err := s.access.Audit(ctx, q)
		if err != nil {
			return Batch{}, err
		}
		b := Batch{Kind: k, Audit: entries}
		if len(entries) == limit {
			last := entries[len(entries)-1]
			b.Next = last.At.UTC().Format(time.RFC3339Nano) + " " + last.ID
		}
		return b, nil
	}
	return s.r.Page(ctx, k, after, limit)
}

// Load writes b into the stream's store as Load does; API keys and audit
// entries already stored (by id) are kept as they are. Keys are written
// one transaction each (the contract creates one at a time; stores hold
// few), audit entries one transaction per batch.
func (s *Stream) Load(ctx context.Context, b Batch) error {
	switch b.Kind {
	case APIKeys, Audit:
		if s.access == nil {
			return fmt.Errorf("the store %T holds no %s", s.st, b.Kind)
		}
	default:
		return Load(ctx, s.st, b)
	}
	if b.Kind == APIKeys {
		for _, k := range b.APIKeys {
			if err := s.access.CreateKey(ctx, k); err != nil && graph.ErrorCode(err) != graph.ECONFLICT {
				return fmt.Errorf("API key %s: %w", k.ID, err)
			}
		}
		return nil
	}
	if len(b.Audit) == 0 {
		return nil
	}
	err := s.access.AppendAudit(ctx, b.Audit)
	if graph.ErrorCode(err) != graph.ECONFLICT {
		return err
	}
	// Some are stored already (a copy run again): append the others.
	for _, e := range b.Audit {
		if err := s.access.AppendAudit(ctx, []access.AuditEntry{e}); err != nil && graph.ErrorCode(err) != graph.ECONFLICT {
			return fmt.Errorf("audit entry %s: %w", e.ID, err)
		}
	}
	return nil
}

// CountAll counts every kind the stream holds.
func (s *Stream) CountAll(ctx context.Context) (Counts, error) {
	out := Counts{}
	for _, k := range s.Kinds() {
		n, err := s.Count(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("count %s: %w", k, err)
		}
		out[k] = n
	}
	return out, nil
}
