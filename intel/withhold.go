package intel

import "github.com/idgraph/cdp/graph"

// Keys that look like personal data.
//
// The keys of an answer (a path's event names, an attribution's names,
// channels, sources and campaigns, a funnel's channels) are totals over
// many people: which person's texts a key came from is lost, so a
// person's own values cannot be searched for in it as their journey's
// are. Where the caller may not read personal data, a key that looks like
// it by pattern (graph.LooksPersonal) is counted under one stand-in
// instead, its figures added to those of every other key counted so,
// before anything is cut or ranked: the totals still add up.

// withhold returns key, or token when token is set and key looks like
// personal data.
func withhold(key, token string) string {
	if token != "" && graph.LooksPersonal(key) {
		return token
	}
	return key
}

// Personal reports whether the answer shows a key that looks like
// personal data (graph.LooksPersonal).
func (r AttributionResult) Personal() bool {
	for _, c := range r.Credits {
		if graph.LooksPersonal(c.Key) {
			return true
		}
	}
	return false
}

// Withhold returns the answer with every key that looks like personal
// data replaced by token, and the credits of the keys that become equal
// added (with compensation), shares and order recomputed.
func (r AttributionResult) Withhold(token string) AttributionResult {
	if !r.Personal() {
		return r
	}
	sums := make(map[string]*sum, len(r.Credits))
	for _, c := range r.Credits {
		k := withhold(c.Key, token)
		s := sums[k]
		if s == nil {
			s = &sum{}
			sums[k] = s
		}
		s.add(c.Credit)
	}
	credits := make(map[string]float64, len(sums))
	for k, s := range sums {
		credits[k] = s.value()
	}
	return AttributionFrom(r.Conversions, credits)
}

// Personal reports whether the answer shows a channel that looks like
// personal data (graph.LooksPersonal).
func (r FunnelResult) Personal() bool {
	for _, s := range r.Steps {
		for c := range s.ByChannel {
			if graph.LooksPersonal(c) {
				return true
			}
		}
	}
	return false
}

// Withhold returns the answer with every channel that looks like personal
// data replaced by token, the counts of the channels that become equal
// added.
func (r FunnelResult) Withhold(token string) FunnelResult {
	if !r.Personal() {
		return r
	}
	out := r
	out.Steps = make([]FunnelStep, len(r.Steps))
	for i, s := range r.Steps {
		if s.ByChannel != nil {
			by := make(map[string]int, len(s.ByChannel))
			for c, n := range s.ByChannel {
				by[withhold(c, token)] += n
			}
			s.ByChannel = by
		}
		out.Steps[i] = s
	}
	return out
}

// PathsPersonal reports whether paths show an event name that looks like
// personal data (graph.LooksPersonal).
func PathsPersonal(paths []Path) bool {
	for _, p := range paths {
		for _, n := range p.Events {
			if graph.LooksPersonal(n) {
				return true
			}
		}
	}
	return false
}
