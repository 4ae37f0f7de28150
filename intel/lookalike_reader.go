package intel

import (
	"context"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Ingredients are what Features reads of a profile.
type Ingredients struct {
	// Traits are the profile's current top-level traits (the values of
	// graph.FoldTraits over its identifiers).
	Traits map[string]any
	// Computed are the computed trait values, as keep.Subjects computes
	// them (a nil value left out).
	Computed map[string]any
	// Names counts its events by EventName, Channels by channel (those
	// with one), Events all of them; Last is the time of the latest (zero
	// for none).
	Names    map[string]int
	Channels map[string]int
	Events   int
	Last     time.Time
}

// IngredientsOf gives the ingredients of the Subject s.
func IngredientsOf(s *audience.Subject) Ingredients {
	in := Ingredients{Traits: s.Traits, Computed: s.Computed, Names: map[string]int{}, Channels: map[string]int{}, Events: len(s.Events)}
	for i := range s.Events {
		e := &s.Events[i]
		in.Names[EventName(e)]++
		if e.Channel != "" {
			in.Channels[e.Channel]++
		}
		if e.Timestamp.After(in.Last) {
			in.Last = e.Timestamp
		}
	}
	return in
}

// LookalikeRow is one live profile as a lookalike reads it: whether it is
// a member of the audience, whether its consent for the purpose is
// GRANTED (true when there is no purpose), and its ingredients.
type LookalikeRow struct {
	ProfileID string
	Member    bool
	Granted   bool
	Ingredients
}

// LookalikeReader is a store that gathers what a lookalike reads in its
// database: Neo4j, in one streaming Cypher statement per call.
//
// LookalikeRows calls fn with the row of every live profile, in
// ascending id order, each once: Member says whether the profile is a
// kept member of audienceID (or, when scope.Filter is set, whether that
// holds: the seed's membership, SeedOf), Granted whether its consent for
// scope.Purpose is GRANTED at scope.Now (true when Purpose is ""), and
// the ingredients are those of its Subject as keep.Subjects reads it at
// scope.Now (computed traits from scope.Computed, event properties shown
// by scope's priorities). scope.Sample is not read. An
// error from fn stops the call and is returned as it is.
type LookalikeReader interface {
	LookalikeRows(ctx context.Context, audienceID string, scope audience.FilterQuery, fn func(LookalikeRow) error) error
}

// LookalikeFrom is Lookalike over the rows of rd: two calls of
// LookalikeRows, one per pass. scope gives the time, purpose,
// priorities and computed definitions (LookalikeReader).
func LookalikeFrom(ctx context.Context, rd LookalikeReader, audienceID string, size int, scope audience.FilterQuery) ([]LookalikeMatch, error) {
	return lookalike(ctx, audienceID, size, scope.Now, func(fn func(LookalikeRow) error) error {
		return rd.LookalikeRows(ctx, audienceID, scope, fn)
	})
}

// SeedOf is the membership of audience id a lookalike learns from: its
// kept members, and, when it has a purpose, only while they grant it
// (audience.Filter.WithPurposesOf), as Audience.members lists them.
func SeedOf(ctx context.Context, st audience.AudienceReader, id string) (*audience.Filter, error) {
	return (&audience.Filter{InAudience: &id}).WithPurposesOf(ctx, st)
}

// subjectRows is the pass over the Subjects of every live profile, page
// by page, as rows.
func subjectRows(ctx context.Context, st graph.Store, subjects SubjectsFunc, audienceID string, seed *audience.Filter, purpose string, now time.Time) func(fn func(LookalikeRow) error) error {
	return func(fn func(LookalikeRow) error) error {
		return eachPage(ctx, st, subjects, func(ids []string, subs map[string]*audience.Subject) error {
			for _, id := range ids {
				s, ok := subs[id]
				if !ok {
					continue
				}
				row := LookalikeRow{ProfileID: id, Member: s.Audiences[audienceID], Granted: true, Ingredients: IngredientsOf(s)}
				if seed != nil {
					row.Member = seed.Eval(s, now)
				}
				if purpose != "" {
					row.Granted = privacy.StateOf(s.Consent, purpose, now).State == privacy.StateGranted
				}
				if err := fn(row); err != nil {
					return err
				}
			}
			return nil
		})
	}
}
