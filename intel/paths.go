package intel

import (
	"strings"
	"time"

	"github.com/idgraph/cdp/graph"
)

// MaxPathDepth and MaxPaths bound a paths query.
const (
	MaxPathDepth = 10
	MaxPaths     = 100
)

// PathsQuery asks for the most frequent paths after an event.
//
// Every event matching Start is a start. Its path is the names
// (EventName) of the next Depth events of the same profile in time order
// (ties by event id), only those no later than Within after the start
// when Within is set; a path that runs out of events is shorter. Paths
// are counted over every start, and the First most frequent are returned,
// ties by path. With Withhold set, each name that looks like personal
// data (graph.LooksPersonal) is counted as Withhold, before the paths are
// counted and ranked, so that paths that differ only in such names are
// one.
type PathsQuery struct {
	Start    EventMatch
	Depth    int
	First    int
	Within   time.Duration
	Window   Window
	Withhold string
}

// Check checks q.
func (q *PathsQuery) Check() error {
	if err := q.Start.Check("start"); err != nil {
		return err
	}
	if q.Depth < 1 || q.Depth > MaxPathDepth {
		return graph.Errorf(graph.EINVALID, "depth must be 1 to %d, got %d", MaxPathDepth, q.Depth)
	}
	if q.First < 1 || q.First > MaxPaths {
		return graph.Errorf(graph.EINVALID, "first must be 1 to %d, got %d", MaxPaths, q.First)
	}
	if q.Within < 0 {
		return graph.Errorf(graph.EINVALID, "within must be longer than zero")
	}
	return q.Window.Check()
}

// Path is one path with how many starts it followed and their share of
// all starts.
type Path struct {
	Events []string
	Count  int
	Share  float64
}

// Paths accumulates a paths query over timelines.
type Paths struct {
	q      PathsQuery
	starts int
	counts map[string]int
}

// NewPaths returns an empty accumulator for q, which must have passed
// Check.
func NewPaths(q PathsQuery) *Paths { return &Paths{q: q, counts: map[string]int{}} }

// pathSep joins a path's names in the counting key; names cannot hold it.
const pathSep = "\x00"

// Add counts one profile's events.
func (p *Paths) Add(events []graph.Event) {
	evs := ordered(events)
	var names []string
	for s := range evs {
		if !p.q.Window.Holds(evs[s].Timestamp) || !p.q.Start.Matches(evs[s]) {
			continue
		}
		p.starts++
		names = names[:0]
		for i := s + 1; i < len(evs) && len(names) < p.q.Depth; i++ {
			if p.q.Within > 0 && evs[i].Timestamp.After(evs[s].Timestamp.Add(p.q.Within)) {
				break
			}
			names = append(names, withhold(strings.ReplaceAll(EventName(evs[i]), pathSep, ""), p.q.Withhold))
		}
		p.counts[pathKey(names)]++
	}
}

// pathKey is the key counting a path: each name after a pathSep, so that
// the path of one empty name ("\x00" in an event's name, stripped) is not
// the empty path.
func pathKey(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return pathSep + strings.Join(names, pathSep)
}

// Starts returns how many starts were counted.
func (p *Paths) Starts() int { return p.starts }

// Result returns the First most frequent paths.
func (p *Paths) Result() []Path {
	counted := make([]Path, 0, len(p.counts))
	for k, n := range p.counts {
		var evs []string
		if k != "" {
			evs = strings.Split(k[len(pathSep):], pathSep)
		}
		counted = append(counted, Path{Events: evs, Count: n})
	}
	return PathsFrom(p.starts, p.q.First, counted).Paths
}
