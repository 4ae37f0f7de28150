package intel

import (
	"context"
	"slices"
	"strings"

	"github.com/idgraph/cdp/audience"
)

// Evaluator is a store that answers funnels, attributions and paths in
// its database rather than through Scan: Neo4j, where each query is one
// Cypher statement that aggregates over the identity graph. Its answers
// equal those of the accumulators over Scan.
//
// scope restricts the profiles: the live profiles that match
// scope.Filter at scope.Now (every live profile when it is nil). Its
// priorities decide which profile sees a shared event's properties, as
// graph.Engine.Journeys shows them.
type Evaluator interface {
	EvalFunnel(ctx context.Context, q FunnelQuery, scope audience.FilterQuery) (FunnelResult, error)
	EvalAttribution(ctx context.Context, q AttributionQuery, scope audience.FilterQuery) (AttributionResult, error)
	EvalPaths(ctx context.Context, q PathsQuery, scope audience.FilterQuery) (PathsResult, error)
}

// FunnelTally is what a funnel counts, per step: how many profiles
// reached it, the median seconds from the step before (nil for step 1
// and for a step nobody reached), and, when the query asks, the count by
// channel.
type FunnelTally struct {
	Profiles  int
	Counts    []int
	Medians   []*float64
	ByChannel []map[string]int
}

// Result returns the answer the tally gives.
func (t FunnelTally) Result() FunnelResult {
	out := FunnelResult{Profiles: t.Profiles}
	for k, n := range t.Counts {
		s := FunnelStep{Index: k + 1, Count: n, ConversionFromPrevious: ratio(n, n)}
		if k > 0 {
			s.ConversionFromPrevious = ratio(n, t.Counts[k-1])
			if k < len(t.Medians) {
				s.MedianSecondsFromPrevious = t.Medians[k]
			}
		}
		s.ConversionFromStart = ratio(n, t.Counts[0])
		if t.ByChannel != nil {
			s.ByChannel = t.ByChannel[k]
		}
		out.Steps = append(out.Steps, s)
	}
	return out
}

// AttributionFrom returns the answer for conversions and the credit of
// each key: the keys credited more than 0, largest first (ties by key).
func AttributionFrom(conversions int, credits map[string]float64) AttributionResult {
	out := AttributionResult{Conversions: conversions}
	for k, c := range credits {
		if c == 0 {
			continue // only weights too small to tell from 0
		}
		out.Credits = append(out.Credits, Credit{Key: k, Credit: c, Share: c / float64(conversions)})
	}
	slices.SortFunc(out.Credits, func(x, y Credit) int {
		if x.Credit != y.Credit {
			if x.Credit > y.Credit {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Key, y.Key)
	})
	return out
}

// PathsResult is a paths query's answer: how many starts were counted,
// and the most frequent paths.
type PathsResult struct {
	Starts int
	Paths  []Path
}

// PathsFrom returns the first most frequent of the paths counted (ties
// by path: name by name, a path before its extensions, names in UTF-16
// order as Neo4j orders lists of strings), with their shares of starts.
func PathsFrom(starts, first int, counted []Path) PathsResult {
	out := make([]Path, len(counted))
	for i, p := range counted {
		out[i] = Path{Events: p.Events, Count: p.Count, Share: float64(p.Count) / float64(starts)}
	}
	slices.SortFunc(out, func(a, b Path) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return slices.CompareFunc(a.Events, b.Events, audience.CompareUTF16)
	})
	return PathsResult{Starts: starts, Paths: out[:min(len(out), first)]}
}
