package app

import (
	"context"
	"time"

	"github.com/idgraph/cdp/graph"
)

// DefaultFeedRetention is how long change feed entries are kept when
// `--feed-retention` is not given.
const DefaultFeedRetention = 7 * 24 * time.Hour

// feedTrimEvery is how often the feed is trimmed; feedTrimBatch how many
// transactions' entries one trim deletes, so that a trim is a small
// transaction however much is due.
const (
	feedTrimEvery = time.Minute
	feedTrimBatch = 100
)

// trimFeed deletes the feed entries older than the retention, in small
// transactions, at once and every every, until ctx ends.
func (s *Service) trimFeed(ctx context.Context, fs graph.FeedStore, retention, every time.Duration) {
	defer s.pruneEnded.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		before := time.Now().Add(-retention)
		total := 0
		for ctx.Err() == nil {
			n, err := fs.TrimFeed(ctx, before, feedTrimBatch)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn().Err(err).Msg("feed: trimming old entries failed; retrying within a minute")
				}
				break
			}
			total += n
			if n == 0 {
				break
			}
		}
		if total > 0 {
			s.log.Debug().Int("entries", total).Time("before", before).Msg("feed: trimmed entries past their retention")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
