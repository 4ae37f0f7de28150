package dump

import (
	"context"
	"fmt"
)

// LeftoverReader is implemented by a store that can tell what it holds
// besides the records its kinds count: state a store just made does not
// hold and a copy does not write, such as Neo4j's tombstone of an audience
// deletion that stopped half-way. Both stores implement it.
type LeftoverReader interface {
	// Leftovers names what the store holds other than a new store's
	// state, one short phrase each, with no record's content ("2
	// AudienceDeletion nodes"); none on a store nothing was written to.
	// It may read everything the store holds: Holdings calls it only when
	// every count is 0.
	Leftovers(ctx context.Context) ([]string, error)
}

// Holdings lists what keeps the stream's store from being an empty target
// for a copy, given its counts c (CountAll): each kind it holds records of
// ("profiles=3"; a suppression secret that keys no hash does not count,
// every server makes one at start and a copy replaces it), its feed's head
// and retention mark when not 0 (a feed that ran and was trimmed to
// nothing keeps them, and a copy would raise them, not set them), and,
// when none of those, the store's own Leftovers. Nil: the store is empty.
func (s *Stream) Holdings(ctx context.Context, c Counts) ([]string, error) {
	var out []string
	for _, k := range allKinds {
		if c.holds(k) {
			out = append(out, fmt.Sprintf("%s=%d", k, c[k]))
		}
	}
	head, trimmed, err := s.FeedMarks(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the feed's marks: %w", err)
	}
	if head != 0 {
		out = append(out, fmt.Sprintf("feed head=%d", head))
	}
	if trimmed != 0 {
		out = append(out, fmt.Sprintf("feed trimmed=%d", trimmed))
	}
	if len(out) > 0 {
		return out, nil
	}
	if lr, ok := s.st.(LeftoverReader); ok {
		left, err := lr.Leftovers(ctx)
		if err != nil {
			return nil, fmt.Errorf("look for leftovers: %w", err)
		}
		out = append(out, left...)
	}
	return out, nil
}
