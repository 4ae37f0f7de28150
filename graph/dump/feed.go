package dump

import (
	"context"
	"fmt"
	"strconv"

	"github.com/idgraph/cdp/graph"
)

// Feed is the kind of the change feed's entries (graph.FeedEntry), copied
// with their Seqs, so that a subscriber or destination resumes on the
// target from the cursor it held on the source, and the target's feed
// goes on from the source's head. Gaps left by erasure stay gaps.
const Feed Kind = "feed"

// FeedWriter writes feed entries as they are, Seq and time included:
// entries with consecutive Seqs and one time are stored as one
// transaction's, an entry whose Seq is stored already replaces it, and
// the feed's head becomes at least the greatest Seq written. Both stores
// implement it beside graph.FeedStore.
type FeedWriter interface {
	LoadFeed(ctx context.Context, entries []graph.FeedEntry) error
	// LoadFeedMarks raises the feed's head to at least head and the
	// greatest Seq its retention trimmed to at least trimmed.
	LoadFeedMarks(ctx context.Context, head, trimmed uint64) error
}

// FeedMarks returns the store's feed head and the greatest Seq its
// retention trimmed; zeros for a store that keeps no feed.
func (s *Stream) FeedMarks(ctx context.Context) (head, trimmed uint64, err error) {
	if s.feed == nil {
		return 0, 0, nil
	}
	if head, err = s.feed.FeedHead(ctx); err != nil {
		return 0, 0, err
	}
	trimmed, err = s.feed.FeedTrimmed(ctx)
	return head, trimmed, err
}

// feedStore is a store whose feed can be read and written.
type feedStore interface {
	graph.FeedStore
	FeedWriter
}

func (s *Stream) countFeed(ctx context.Context) (int, error) {
	n, after := 0, uint64(0)
	for {
		es, err := s.feed.Feed(ctx, after, nil, graph.MaxFeedPage)
		if err != nil {
			return 0, err
		}
		n += len(es)
		if len(es) < graph.MaxFeedPage {
			return n, nil
		}
		after = es[len(es)-1].Seq
	}
}

func (s *Stream) pageFeed(ctx context.Context, after string, limit int) (Batch, error) {
	var from uint64
	if after != "" {
		n, err := strconv.ParseUint(after, 10, 64)
		if err != nil {
			return Batch{}, fmt.Errorf("bad feed cursor %q", after)
		}
		from = n
	}
	es, err := s.feed.Feed(ctx, from, nil, min(limit, graph.MaxFeedPage))
	if err != nil {
		return Batch{}, err
	}
	// A page never ends inside a run (graph.FeedRuns: consecutive Seqs of
	// one time, one transaction's entries): the target stores a run as one
	// record keyed by its first Seq, so the same records come out whatever
	// the page size, and a copy run again replaces them.
	for full := len(es) == min(limit, graph.MaxFeedPage); full; {
		more, err := s.feed.Feed(ctx, es[len(es)-1].Seq, nil, graph.MaxFeedPage)
		if err != nil {
			return Batch{}, err
		}
		full = len(more) == graph.MaxFeedPage
		for _, e := range more {
			last := es[len(es)-1]
			if e.Seq != last.Seq+1 || !e.At.Equal(last.At) {
				full = false
				break
			}
			es = append(es, e)
		}
	}
	b := Batch{Kind: Feed, Feed: es}
	if len(es) >= min(limit, graph.MaxFeedPage) {
		b.Next = strconv.FormatUint(es[len(es)-1].Seq, 10)
		return b, nil
	}
	b.FeedHead, b.FeedTrimmed, err = s.FeedMarks(ctx)
	return b, err
}
