package intel

import (
	"container/heap"
	"context"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// LookalikeMatch is one profile outside the audience, its score and the
// features behind it.
type LookalikeMatch struct {
	ProfileID string
	Score     float64
	Reasons   []string
	// Why takes Reasons apart, in the same order (Explain).
	Why []Reason
}

// SubjectsFunc reads the Subjects of a page of live profiles, with their
// kept audience memberships (keep.Subjects).
type SubjectsFunc func(ctx context.Context, ids []string) (map[string]*audience.Subject, error)

// eachPage calls fn with every page of live profiles' Subjects, in id
// order.
func eachPage(ctx context.Context, st graph.Store, subjects SubjectsFunc, fn func(ids []string, subs map[string]*audience.Subject) error) error {
	after := ""
	for {
		var page []graph.Profile
		err := st.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
			var err error
			page, err = tx.ProfilesPage(ctx, graph.PageQuery{After: after, Limit: profilesPerPage})
			return err
		})
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		ids := make([]string, len(page))
		for i, p := range page {
			ids[i] = p.ID
		}
		after = ids[len(ids)-1]
		subs, err := subjects(ctx, ids)
		if err != nil {
			return err
		}
		if err := fn(ids, subs); err != nil {
			return err
		}
		if len(page) < profilesPerPage {
			return nil
		}
	}
}

// Lookalike finds the size live profiles outside audienceID that most
// resemble its members (see the model in lookalike.go): one pass over
// every live profile to gather the members and a sample of the others,
// a fit, then a second pass scoring every non-member. With purpose, only
// profiles whose consent for it is GRANTED at now are returned. Ties go
// to the smaller profile id.
//
// Errors: EINVALID for size out of 1..MaxLookalike or an audience of
// fewer than MinSeed members, naming the argument.
//
// On a store that reads snapshots (graph.Snapshotter: the embedded store)
// both passes read one snapshot, subjects' reads included when it reads
// the same store with the context it is given: a profile merged meanwhile
// is seen as it was when the lookalike began, in both passes.
//
// seed, when not nil, says who the audience's members are (see
// SeedOf): a kept member who no longer grants the audience's purpose is
// neither learned from nor kept out of the matches, as Audience.members
// leaves it out. nil: every kept member.
func Lookalike(ctx context.Context, st graph.Store, subjects SubjectsFunc, audienceID string, seed *audience.Filter, size int, purpose string, now time.Time) ([]LookalikeMatch, error) {
	var out []LookalikeMatch
	err := graph.InSnapshot(ctx, st, func(ctx context.Context) error {
		var err error
		out, err = lookalike(ctx, audienceID, size, now, subjectRows(ctx, st, subjects, audienceID, seed, purpose, now))
		return err
	})
	return out, err
}

// lookalike is Lookalike over the rows each call of pass gives, in
// ascending id order: one pass to gather the members and a sample of the
// others, a fit, then a second pass scoring the non-members granted.
func lookalike(ctx context.Context, audienceID string, size int, now time.Time, pass func(fn func(LookalikeRow) error) error) ([]LookalikeMatch, error) {
	if size < 1 || size > MaxLookalike {
		return nil, graph.Errorf(graph.EINVALID, "size must be 1 to %d, got %d", MaxLookalike, size)
	}
	h := fnv.New64a()
	h.Write([]byte(audienceID))
	r := rand.New(rand.NewPCG(h.Sum64(), 1))
	var members, others []map[string]float64
	nMembers, nOthers := 0, 0
	// Reservoir samples of each class, the same for the same data.
	sample := func(rows *[]map[string]float64, seen *int, limit int, f map[string]float64) {
		*seen++
		if len(*rows) < limit {
			*rows = append(*rows, f)
		} else if j := r.IntN(*seen); j < limit {
			(*rows)[j] = f
		}
	}
	err := pass(func(row LookalikeRow) error {
		if row.Member {
			sample(&members, &nMembers, MaxSeedRows, FeaturesOf(&row.Ingredients, now))
		} else {
			sample(&others, &nOthers, MaxSampleRows, FeaturesOf(&row.Ingredients, now))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if nMembers < MinSeed {
		return nil, graph.Errorf(graph.EINVALID, "audienceId: the audience has %d members; at least %d are needed to learn from", nMembers, MinSeed)
	}
	model, err := Train(ctx, members, others)
	if err != nil {
		return nil, err
	}
	top := &matchHeap{}
	err = pass(func(row LookalikeRow) error {
		if row.Member || !row.Granted {
			return nil
		}
		score, reasons := model.Score(FeaturesOf(&row.Ingredients, now))
		m := LookalikeMatch{ProfileID: row.ProfileID, Score: score, Reasons: reasons}
		if top.Len() < size {
			m.Why = Explain(&row.Ingredients, reasons)
			heap.Push(top, m)
		} else if better(m, (*top)[0]) {
			m.Why = Explain(&row.Ingredients, reasons)
			(*top)[0] = m
			heap.Fix(top, 0)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]LookalikeMatch, top.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(top).(LookalikeMatch)
	}
	return out, nil
}

// better orders matches: higher score, then smaller id.
func better(a, b LookalikeMatch) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.ProfileID < b.ProfileID
}

// matchHeap keeps the best matches with the worst on top.
type matchHeap []LookalikeMatch

func (h matchHeap) Len() int           { return len(h) }
func (h matchHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h matchHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *matchHeap) Push(x any)        { *h = append(*h, x.(LookalikeMatch)) }
func (h *matchHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
