package neo4jstore_test

import (
	"context"
	"testing"
)

// TestLoadFeedMarksOnlyRaise: a copy's feed marks raise the counter's
// head and trimmed mark, and lower neither.
func TestLoadFeedMarksOnlyRaise(t *testing.T) {
	s := neo4jStore(t)
	ctx := context.Background()
	for _, m := range [][2]uint64{{15, 3}, {12, 2}} {
		if err := s.LoadFeedMarks(ctx, m[0], m[1]); err != nil {
			t.Fatal(err)
		}
	}
	head, err := s.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	trimmed, err := s.FeedTrimmed(ctx)
	if err != nil || head != 15 || trimmed != 3 {
		t.Fatalf("marks %d and %d (%v), want 15 and 3", head, trimmed, err)
	}
}
