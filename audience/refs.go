package audience

// References between definitions: a filter's computed conditions name
// computed traits, and its inAudience conditions name audiences. A store
// keeps every stored filter's references stored (Store.PutAudience,
// DeleteComputedTrait, DeleteAudience), checking them in the transaction
// of the write; these are the helpers both stores share to do it alike.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/idgraph/cdp/graph"
)

// Walk calls fn on every node of f, f first, then the children of And,
// Or and Not in that order (Check's order), with the path of each: path
// for f, path+".and[0]" for its first And child, path+".not" for its Not.
func Walk(f *Filter, path string, fn func(n *Filter, path string)) {
	fn(f, path)
	for i := range f.And {
		Walk(&f.And[i], fmt.Sprintf("%s.and[%d]", path, i), fn)
	}
	for i := range f.Or {
		Walk(&f.Or[i], fmt.Sprintf("%s.or[%d]", path, i), fn)
	}
	if f.Not != nil {
		Walk(f.Not, path+".not", fn)
	}
}

// ComputedNames returns the names of the computed traits f's computed
// conditions compare, each once, sorted.
func (f *Filter) ComputedNames() []string {
	var out []string
	Walk(f, "", func(n *Filter, _ string) {
		if n.Computed != nil {
			out = append(out, n.Computed.Name)
		}
	})
	slices.Sort(out)
	return slices.Compact(out)
}

// AudienceIDs returns the ids of the audiences f's inAudience conditions
// name, each once, sorted.
func (f *Filter) AudienceIDs() []string {
	var out []string
	Walk(f, "", func(n *Filter, _ string) {
		if n.InAudience != nil {
			out = append(out, *n.InAudience)
		}
	})
	slices.Sort(out)
	return slices.Compact(out)
}

// RefNeedle is text that the stored form of every filter naming ref (a
// computed trait's name or an audience id) holds (EncodeFilter writes it
// as a JSON string): a store looking for the filters that name ref may
// skip, without decoding it, one whose stored form does not hold it. A
// filter that holds it may still not name ref (a trait value, say), so
// what is left is decoded and checked.
func RefNeedle(ref string) string {
	b, err := json.Marshal(ref)
	if err != nil { // a string always encodes
		return ref
	}
	return string(b)
}

// MissingRef returns the first condition of f, in Check's order, that
// names a computed trait computed does not report stored, or an audience
// that audience does not report stored; nil when every one is. A nil
// function reports nothing stored.
func MissingRef(f *Filter, computed, audience func(string) bool) *MissingRefError {
	var out *MissingRefError
	Walk(f, "", func(n *Filter, path string) {
		switch {
		case out != nil:
		case n.Computed != nil && (computed == nil || !computed(n.Computed.Name)):
			out = &MissingRefError{Path: path + ".computed.name", Computed: n.Computed.Name}
		case n.InAudience != nil && (audience == nil || !audience(*n.InAudience)):
			out = &MissingRefError{Path: path + ".inAudience", Audience: *n.InAudience}
		}
	})
	return out
}

// MissingRefError is PutAudience's refusal of a filter with a condition
// that names a computed trait or an audience that is not stored. Its code
// is EINVALID and its message Check's for the same condition, the filter
// given as "filter" (At gives it for another path).
type MissingRefError struct {
	// Path is the condition's place inside the filter, after the filter's
	// own path: ".and[1].computed.name", ".inAudience".
	Path string
	// Computed is the computed trait's name, or Audience the audience's
	// id: the one that is not stored.
	Computed string
	Audience string
}

// At is the refusal as Check words it for the filter given as path
// ("input.filter").
func (e *MissingRefError) At(path string) *graph.Error {
	if e.Audience != "" || e.Computed == "" {
		id := e.Audience
		if !ValidAudienceID(id) { // never stored; clipped as Check clips it
			id = quoteClip(id)
		}
		return graph.Errorf(graph.EINVALID, "%s%s: audience %s does not exist", path, e.Path, id)
	}
	return graph.Errorf(graph.EINVALID, "%s%s: computed trait %s is not defined", path, e.Path, quoteClip(e.Computed))
}

func (e *MissingRefError) Error() string { return e.At("filter").Message }

// Unwrap gives the refusal as a *graph.Error, for graph.ErrorCode and
// graph.ErrorMessage.
func (e *MissingRefError) Unwrap() error { return e.At("filter") }

// InUseError is the refusal (ECONFLICT) of DeleteComputedTrait or
// DeleteAudience to delete a computed trait or an audience that the filter
// of a stored audience names, or an audience that a stored destination
// sends (its audienceIds).
type InUseError struct {
	// Computed is the computed trait's name, or Audience the audience's
	// id: the one whose deletion is refused.
	Computed string
	Audience string
	// Users are the ids of the audiences whose filters name it, sorted.
	Users []string
	// Destinations are the ids of the destinations that send the
	// audience, sorted. The message names the audiences when there are
	// any, else the destinations.
	Destinations []string
}

func (e *InUseError) Error() string { return e.err().Message }

// Unwrap gives the refusal as a *graph.Error, for graph.ErrorCode and
// graph.ErrorMessage.
func (e *InUseError) Unwrap() error { return e.err() }

func (e *InUseError) err() *graph.Error {
	users := strings.Join(e.Users, ", ")
	if len(e.Users) == 0 && len(e.Destinations) > 0 {
		return graph.Errorf(graph.ECONFLICT, "audience %s is sent by destination %s; remove it from that destination's audienceIds first", e.Audience, strings.Join(e.Destinations, ", "))
	}
	if e.Audience != "" || e.Computed == "" {
		return graph.Errorf(graph.ECONFLICT, "audience %s is named by inAudience in audience %s; change that filter first", e.Audience, users)
	}
	return graph.Errorf(graph.ECONFLICT, "computed trait %s is used by the filter of audience %s; change that filter first", e.Computed, users)
}

// ComputedUsers returns, sorted, the ids of the audiences among stored
// whose filter uses the computed trait name.
func ComputedUsers(stored []Audience, name string) []string {
	var out []string
	for i := range stored {
		if slices.Contains(stored[i].Filter.ComputedNames(), name) {
			out = append(out, stored[i].ID)
		}
	}
	slices.Sort(out)
	return out
}

// AudienceUsers returns, sorted, the ids of the audiences among stored,
// other than id itself, whose filter names the audience id.
func AudienceUsers(stored []Audience, id string) []string {
	var out []string
	for i := range stored {
		if stored[i].ID != id && slices.Contains(stored[i].Filter.AudienceIDs(), id) {
			out = append(out, stored[i].ID)
		}
	}
	slices.Sort(out)
	return out
}

// CycleError is PutAudience's refusal (EINVALID) of a filter whose
// inAudience conditions reach the audience being put, directly or through
// the filters of stored audiences: its membership would depend on itself.
// Its message is the resolver's for the same filter, given as "filter"
// (At gives it for another path).
type CycleError struct {
	// Path is the inAudience condition's place inside the filter, after
	// the filter's own path: ".or[0].inAudience".
	Path string
	// Audience is the id of the audience being put; Chain the audiences
	// from the one the condition names to Audience, each naming the next.
	Audience string
	Chain    []string
}

// At is the refusal for the filter given as path ("input.filter").
func (e *CycleError) At(path string) *graph.Error {
	return graph.Errorf(graph.EINVALID, "%s%s: audience %s would contain itself (inAudience %s)", path, e.Path, e.Audience, strings.Join(e.Chain, " -> "))
}

func (e *CycleError) Error() string { return e.At("filter").Message }

// Unwrap gives the refusal as a *graph.Error, for graph.ErrorCode and
// graph.ErrorMessage.
func (e *CycleError) Unwrap() error { return e.At("filter") }

// FindCycle returns the refusal of f as the filter of audience self when
// one of its inAudience conditions (the first, in Check's order) reaches
// self through the stored audiences' filters, with the shortest chain
// from it (ties go to the audience named first); nil when none does.
// filters returns the stored filters of the audiences given, leaving out
// those not stored. FindCycle asks for every audience the conditions
// reach, once each, a level at a time (the audiences the conditions name,
// then those they name, and so on; self's stored filter is not read), so
// that a store can lock the audiences of a level before reading them: one
// call per level, at most as many levels as audiences.
func FindCycle(self string, f *Filter, filters func(ids []string) (map[string]Filter, error)) (*CycleError, error) {
	type cond struct{ id, path string }
	var conds []cond
	Walk(f, "", func(n *Filter, path string) {
		if n.InAudience != nil {
			conds = append(conds, cond{*n.InAudience, path + ".inAudience"})
		}
	})
	// names[id] is what the stored filter of id names, in Check's order;
	// absent for an audience not stored, and for self.
	names := map[string][]string{}
	seen := map[string]bool{self: true}
	var level []string
	for _, c := range conds {
		if !seen[c.id] {
			seen[c.id] = true
			level = append(level, c.id)
		}
	}
	for len(level) > 0 {
		slices.Sort(level)
		got, err := filters(level)
		if err != nil {
			return nil, err
		}
		var next []string
		for _, id := range level {
			g, ok := got[id]
			if !ok {
				continue
			}
			names[id] = g.inAudienceOrder()
			for _, sub := range names[id] {
				if !seen[sub] {
					seen[sub] = true
					next = append(next, sub)
				}
			}
		}
		level = next
	}
	for _, c := range conds {
		chain := map[string][]string{c.id: {c.id}}
		for frontier := []string{c.id}; len(frontier) > 0; {
			if slices.Contains(frontier, self) {
				return &CycleError{Path: c.path, Audience: self, Chain: chain[self]}, nil
			}
			var next []string
			for _, id := range frontier {
				for _, sub := range names[id] {
					if _, ok := chain[sub]; !ok {
						chain[sub] = append(slices.Clone(chain[id]), sub)
						next = append(next, sub)
					}
				}
			}
			frontier = next
		}
	}
	return nil, nil
}

// inAudienceOrder returns the ids f's inAudience conditions name, in
// Check's order, each once.
func (f *Filter) inAudienceOrder() []string {
	var out []string
	Walk(f, "", func(n *Filter, _ string) {
		if n.InAudience != nil && !slices.Contains(out, *n.InAudience) {
			out = append(out, *n.InAudience)
		}
	})
	return out
}
