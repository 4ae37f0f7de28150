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

// FeedWriter writes feed entries as they are, Seq and time included. Both
// stores implement it beside graph.FeedStore.
type FeedWriter interface {
	// LoadFeed makes the stored feed at the Seqs from to to (1 <= from
	// <= to) hold entries and nothing else, in one transaction: entries,
	// whose Seqs lie in [from, to] and grow, are stored as they are, those
	// with consecutive Seqs and one time as one transaction's
	// (graph.FeedRuns); an entry stored at a Seq of the range that is not
	// among them goes, becoming a gap, as on a source that redacted it,
	// whatever the stored runs that held it (a run reaching out of the
	// range keeps its entries outside it); stored entries outside the
	// range stay. The feed's head becomes at least to, so that a gap's
	// Seq is not used again. An empty entries clears the range.
	//
	// Errors: EINVALID for a range or Seqs out of these bounds, or an
	// unknown kind.
	LoadFeed(ctx context.Context, from, to uint64, entries []graph.FeedEntry) error
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
	// The page covers the Seqs from the one after the cursor to its last
	// entry, and the last page to the head: pages read one after the
	// other cover every Seq from 1 to the head once, so that the target
	// drops what it holds at a Seq the source left a gap, at the start
	// of a page, inside it, or at the feed's end (FeedWriter.LoadFeed).
	b := Batch{Kind: Feed, Feed: es, FeedFrom: from + 1, FeedTo: from}
	if len(es) > 0 {
		b.FeedTo = es[len(es)-1].Seq
	}
	if len(es) >= min(limit, graph.MaxFeedPage) {
		b.Next = strconv.FormatUint(es[len(es)-1].Seq, 10)
		return b, nil
	}
	if b.FeedHead, b.FeedTrimmed, err = s.FeedMarks(ctx); err != nil {
		return Batch{}, err
	}
	b.FeedTo = max(b.FeedTo, b.FeedHead)
	return b, nil
}

// loadFeed writes a page of the feed read by pageFeed: its entries over
// the range of Seqs it covers, then the source's marks on the last page.
func (s *Stream) loadFeed(ctx context.Context, b Batch) error {
	from, to := b.FeedFrom, b.FeedTo
	if from == 0 && to == 0 && len(b.Feed) > 0 {
		from, to = b.Feed[0].Seq, b.Feed[len(b.Feed)-1].Seq
	}
	if from >= 1 && from <= to {
		if err := s.feed.LoadFeed(ctx, from, to, b.Feed); err != nil {
			return err
		}
	} else if len(b.Feed) > 0 {
		return fmt.Errorf("feed page of %d entries covers Seqs %d to %d", len(b.Feed), from, to)
	}
	if b.FeedHead == 0 && b.FeedTrimmed == 0 {
		return nil
	}
	return s.feed.LoadFeedMarks(ctx, b.FeedHead, b.FeedTrimmed)
}
