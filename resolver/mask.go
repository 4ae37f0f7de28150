package resolver

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/intel"
)

// Personal data in answers.
//
// Without pii:read, every personal value (the rules' personalData) is
// masked where it leaves a resolver: identifier values and keys, trait
// values by name, event properties and traits, the identity graph (whose
// node ids become opaque), explanations, and the engine's texts that embed
// identifier keys (history reasons). With pii:read, the values go out as
// stored, and each leaf that sends one notes it in the request's readLog,
// so that the request appends one audit entry per root field that returned
// personal data (see audit.go).

// unmasked reports whether the request's principal may read personal
// values.
func unmasked(ctx context.Context) bool {
	return access.PrincipalFrom(ctx).Has(access.ScopePIIRead)
}

// identValue is the value of an identifier of type typ as the caller may
// see it; with pii:read it notes the read.
func (r *Resolver) identValue(ctx context.Context, typ, value string) string {
	if !r.mask.PersonalType(typ) {
		return value
	}
	if !unmasked(ctx) {
		return r.mask.Value(typ, value)
	}
	r.noteRead(ctx)
	return value
}

// identKey is identValue for a graph key.
func (r *Resolver) identKey(ctx context.Context, key string) string {
	ref := graph.SplitKey(key)
	if !r.mask.PersonalType(ref.Type) {
		return key
	}
	if !unmasked(ctx) {
		return r.mask.Key(key)
	}
	r.noteRead(ctx)
	return key
}

// traitValue masks one trait value by its name.
func (r *Resolver) traitValue(ctx context.Context, name string, v any) any {
	if !r.mask.PersonalTrait(name) {
		switch v.(type) {
		case map[string]any, []any:
			return r.traitMap(ctx, map[string]any{name: v})[name]
		}
		return v
	}
	if !unmasked(ctx) {
		return r.mask.Trait(name, v)
	}
	r.noteRead(ctx)
	return v
}

// traitMap masks a JSON object of traits or properties, nested objects
// included.
func (r *Resolver) traitMap(ctx context.Context, m map[string]any) map[string]any {
	if !r.mask.HasPersonal(m) {
		return m
	}
	if !unmasked(ctx) {
		return r.mask.Traits(m)
	}
	r.noteRead(ctx)
	return m
}

// text masks the personal keys a text of the engine embeds.
func (r *Resolver) text(ctx context.Context, s string) string {
	masked := r.mask.Text(s)
	if masked == s {
		return s
	}
	if !unmasked(ctx) {
		return masked
	}
	r.noteRead(ctx)
	return s
}

// maskedGraph returns the nodes and edges of an identity graph as the
// caller may see them. Without pii:read, a node whose id (its key) embeds
// a personal value gets the opaque id "n" and its position (from 1) in the
// graph's node order, and its value is masked; edges refer to the same
// ids, so the answer still draws. The ids depend only on the graph, not on
// the page asked for, so nodes and edges agree however they are cut.
func (r *Resolver) maskedGraph(ctx context.Context, g *gql.IdentityGraph) ([]*gql.IdentityNode, []*gql.IdentityEdge) {
	personal := false
	for _, n := range g.Nodes {
		if r.mask.PersonalType(n.Type) {
			personal = true
			break
		}
	}
	edgeText := false
	for _, e := range g.Edges {
		if r.mask.Text(e.Evidence) != e.Evidence || (e.Reason != nil && r.mask.Text(*e.Reason) != *e.Reason) {
			edgeText = true
			break
		}
	}
	if !personal && !edgeText {
		return g.Nodes, g.Edges
	}
	if unmasked(ctx) {
		r.noteRead(ctx)
		// The far ends of refused links are other people's identifiers:
		// the read is theirs too.
		for _, pid := range farProfiles(r.mask, g) {
			r.noteRead(graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "IdentityNode", Result: &graph.Profile{ID: pid}}))
		}
		return g.Nodes, g.Edges
	}
	ids := make(map[string]string, len(g.Nodes))
	nodes := make([]*gql.IdentityNode, len(g.Nodes))
	for i, n := range g.Nodes {
		c := *n
		if r.mask.PersonalType(n.Type) {
			c.ID = "n" + strconv.Itoa(i+1)
			c.Value = r.mask.Value(n.Type, n.Value)
			ids[n.ID] = c.ID
		}
		nodes[i] = &c
	}
	idOf := func(key string) string {
		if id, ok := ids[key]; ok {
			return id
		}
		return r.mask.Key(key) // an end the graph does not list
	}
	edges := make([]*gql.IdentityEdge, len(g.Edges))
	for i, e := range g.Edges {
		c := *e
		c.From, c.To = idOf(e.From), idOf(e.To)
		c.Evidence = r.mask.Text(e.Evidence)
		if e.Reason != nil {
			s := r.mask.Text(*e.Reason)
			c.Reason = &s
		}
		edges[i] = &c
	}
	return nodes, edges
}

// farProfiles returns, sorted, the profiles other than g's that hold a
// node of g of a personal type: the far ends of its refused links.
func farProfiles(m *access.Masker, g *gql.IdentityGraph) []string {
	var out []string
	for _, n := range g.Nodes {
		if n.ProfileID != nil && *n.ProfileID != "" && *n.ProfileID != g.ProfileID && m.PersonalType(n.Type) {
			out = append(out, *n.ProfileID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ownerProfiles returns the profiles whose data the field being resolved
// belongs to: those of the nearest enclosing object that names one.
func ownerProfiles(ctx context.Context) []string {
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		if ids := profilesOf(fc.Result); ids != nil {
			return ids
		}
	}
	return nil
}

func profilesOf(v any) []string {
	nonEmpty := func(ids ...string) []string {
		ids = slices.DeleteFunc(ids, func(s string) bool { return s == "" })
		if len(ids) == 0 {
			return nil
		}
		return ids
	}
	switch o := v.(type) {
	case *graph.Profile:
		if o != nil {
			return nonEmpty(o.ID)
		}
	case **graph.Profile:
		if o != nil {
			return profilesOf(*o)
		}
	case *graph.Identifier:
		if o != nil {
			return nonEmpty(o.ProfileID)
		}
	case **graph.Identifier:
		if o != nil {
			return profilesOf(*o)
		}
	case *gql.IdentityGraph:
		if o != nil {
			return nonEmpty(o.ProfileID)
		}
	case *graph.ProfileChange:
		// Its reason names identifiers of both sides: a split's, those of
		// the part that left, which are another profile's now.
		if o != nil {
			return nonEmpty(o.From, o.Into)
		}
	case **graph.ProfileChange:
		if o != nil {
			return profilesOf(*o)
		}
	case *gql.LinkExplanation:
		if o != nil {
			var a, b string
			if o.ProfileA != nil {
				a = *o.ProfileA
			}
			if o.ProfileB != nil {
				b = *o.ProfileB
			}
			return nonEmpty(a, b)
		}
	}
	return nil
}

// identArg names an identifier argument of a field, for error messages that
// must not repeat its value.
type identArg struct {
	name string // "", "a" or "b": the argument object, or "" for type/value arguments
	raw  graph.IdentifierRef
	norm graph.IdentifierRef
}

func (a identArg) label() string {
	if a.name == "" {
		return `arguments "type" and "value"`
	}
	return fmt.Sprintf("argument %q", a.name)
}

// identErr rewrites an engine refusal about identifiers
// (*graph.IdentifierError) so that it names the arguments that gave them,
// found by comparing the refusal's identifiers with each argument's, as
// given and normalized. Other errors pass through domainErr.
func identErr(err error, args ...identArg) error {
	if err == nil {
		return nil
	}
	var ie *graph.IdentifierError
	if !errors.As(err, &ie) {
		return domainErr(err)
	}
	holds := func(a identArg) bool {
		for _, ref := range ie.Refs {
			if ref.Value != "" && (ref == a.raw || ref == a.norm) {
				return true
			}
		}
		return false
	}
	var named []identArg
	for _, a := range args {
		if holds(a) {
			named = append(named, a)
		}
	}
	if len(named) == 0 {
		return domainErr(err)
	}
	code := graph.ErrorCode(err)
	switch {
	case ie.Problem == graph.IdentNotLinked && len(args) == 2:
		return graph.Errorf(code, "the identifiers of arguments %q and %q are not linked directly; explainLink shows what joins them", args[0].name, args[1].name)
	case code == graph.ENOTFOUND:
		return graph.Errorf(code, "%s: identifier not found", named[0].label())
	default:
		return graph.Errorf(code, "%s: identifier not usable", named[0].label())
	}
}

// Filters on personal data.
//
// A filter that compares the value of a trait, computed trait or event
// property lets its caller recover the value one guess at a time (a
// STARTS_WITH per letter), so without pii:read a filter may compare only
// the values masking shows the caller: a condition on a value masking
// hides is refused with FORBIDDEN naming it and the scope. EXISTS and
// NOT_EXISTS stay allowed: masking shows that the value is there. The
// rule is masking's own: hiddenAt and computedHidden ask the masking
// functions of the answers what they would hide.

// maskProbe stands for a value when the masking is asked what it hides.
type maskProbe struct{}

// hiddenAt reports whether masking hides, from a caller without pii:read,
// the value at path inside traits or event properties (each element the
// key of a nested object; a trait condition's name is one element, never
// split on dots). It asks Masker.Traits, which traitMap applies to traits
// and properties: a personal name at any depth hides all below it.
func (r *Resolver) hiddenAt(path ...string) bool {
	if len(path) == 0 {
		return false
	}
	var v any = maskProbe{}
	for i := len(path) - 1; i >= 0; i-- {
		v = map[string]any{path[i]: v}
	}
	got := any(r.mask.Traits(v.(map[string]any)))
	for _, k := range path {
		m, ok := got.(map[string]any)
		if !ok {
			return true
		}
		got = m[k]
	}
	return got != any(maskProbe{})
}

// computedHidden reports whether masking hides the values of the computed
// trait d from a caller without pii:read: what computedValue does. ctx
// must be a request without pii:read (computedValue then notes no read).
func (r *Resolver) computedHidden(ctx context.Context, d audience.ComputedTrait) bool {
	return r.computedValue(ctx, d, maskProbe{}) != any(maskProbe{})
}

// comparesValue reports whether op reads a value, beyond its existence.
func comparesValue(op audience.Op) bool {
	return op != audience.OpExists && op != audience.OpNotExists
}

// maskedFilterErr refuses the condition at path, which compares the
// value of what ("trait \"last_name\""), hidden from the caller.
func maskedFilterErr(ctx context.Context, path, what string) error {
	return &gqlerror.Error{
		Message: fmt.Sprintf("%s: compares the value of %s, which is personal data and masked without the scope %s, which the request's key does not hold; without it only EXISTS and NOT_EXISTS apply to it",
			path, what, access.ScopePIIRead),
		Path:       graphql.GetPath(ctx),
		Extensions: map[string]any{"code": CodeForbidden, "scope": string(access.ScopePIIRead)},
	}
}

// checkFilterPII refuses, for a caller without pii:read, the first
// condition of f (given as path) that compares a value masking hides from
// it: a trait, a computed trait (defs by name; an unknown one is left to
// audience.Check) or an event condition's property. f must have passed
// audience.Check.
func (r *Resolver) checkFilterPII(ctx context.Context, f *audience.Filter, defs map[string]audience.ComputedTrait, path string) error {
	if unmasked(ctx) {
		return nil
	}
	var err error
	walkFilter(f, path, func(n *audience.Filter, p string) {
		if err != nil {
			return
		}
		switch {
		case n.Trait != nil:
			if comparesValue(n.Trait.Op) && r.hiddenAt(n.Trait.Name) {
				err = maskedFilterErr(ctx, p+".trait", fmt.Sprintf("trait %q", clip(n.Trait.Name, 64)))
			}
		case n.Computed != nil:
			if d, ok := defs[n.Computed.Name]; ok && comparesValue(n.Computed.Op) && r.computedHidden(ctx, d) {
				err = maskedFilterErr(ctx, p+".computed", fmt.Sprintf("computed trait %q", clip(n.Computed.Name, 64)))
			}
		case n.Event != nil:
			err = r.checkWherePII(ctx, n.Event.Where, p+".event.where")
		}
	})
	return err
}

// checkWherePII refuses, for a caller without pii:read, the first property
// filter of where (given as path) that compares the value of an event
// property masking hides from it.
func (r *Resolver) checkWherePII(ctx context.Context, where []audience.PropertyFilter, path string) error {
	if unmasked(ctx) {
		return nil
	}
	for i, w := range where {
		if comparesValue(w.Op) && r.hiddenAt(strings.Split(w.Path, ".")...) {
			return maskedFilterErr(ctx, fmt.Sprintf("%s[%d]", path, i), fmt.Sprintf("event property %q", clip(w.Path, 64)))
		}
	}
	return nil
}

// filterErr is domainErr for errors that may hold a refusal of
// checkFilterPII or checkWherePII, which it passes through.
func filterErr(err error) error {
	var ge *gqlerror.Error
	if errors.As(err, &ge) {
		return err
	}
	return domainErr(err)
}

// lookalikeReasons are the reasons of a lookalike match as the caller may
// see them: the value a trait or computed trait feature names is shown as
// the traits and computed fields of the profile p show it (masked without
// pii:read; with it, the read is noted for p). defs are the computed
// traits by name. A trait or computed trait reason whose value could not
// be checked against p's (not held by p, or not taken apart) is never
// shown as it is without pii:read: whatever follows its name's first "="
// is masked; with pii:read it is shown as it is and the read noted. A
// value masking by name shows is also searched for the person's own
// values (the search x builds, personValues of p's members), as p's
// traits are (hideFound), and so is the name of an event or a channel
// feature, as the person's journey shows it.
func (r *Resolver) lookalikeReasons(ctx context.Context, p *graph.Profile, m *intel.LookalikeMatch, defs map[string]audience.ComputedTrait, x func() *graph.Erased) []string {
	out := make([]string, 0, len(m.Reasons))
	// The reasons belong to p, as its traits field does: a read is noted
	// for it (ownerProfiles finds it here).
	pctx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "LookalikeMatch", Result: p})
	for i, reason := range m.Reasons {
		kind, rest, _ := strings.Cut(reason, " ")
		if kind == "event" || kind == "channel" {
			// An event's name or channel, one of the person's texts: their
			// own values in it are hidden as their journey hides them.
			if v, ok := r.hideFound(pctx, x, rest).(string); ok {
				out = append(out, kind+" "+v)
				continue
			}
		}
		if (kind == "trait" || kind == "computed") && (i >= len(m.Why) || !m.Why[i].Held) {
			out = append(out, r.uncheckedReason(pctx, reason))
			continue
		}
		if i >= len(m.Why) || m.Why[i].Value == nil {
			out = append(out, reason)
			continue
		}
		w := m.Why[i]
		var v any
		switch w.Kind {
		case "trait":
			v = r.traitValue(pctx, w.Name, w.Value)
			if !r.mask.PersonalTrait(w.Name) {
				v = r.hideFound(pctx, x, v)
			}
		case "computed":
			d, ok := defs[w.Name]
			switch {
			case ok:
				v = r.computedShown(pctx, x, d, w.Value)
			case unmasked(ctx):
				r.noteRead(pctx)
				v = w.Value
			default:
				v = access.Masked // deleted since: its masking is unknown
			}
		default:
			out = append(out, reason)
			continue
		}
		out = append(out, w.Kind+" "+w.Name+"="+fmt.Sprint(v))
	}
	return out
}

// uncheckedReason is a trait or computed trait lookalike reason whose
// value could not be checked against the profile's, as the caller may see
// it: without pii:read, whatever follows the first "=" is masked (the
// name of a number's feature, which names no value, is shown as it is);
// with it, the reason as it is, the read noted.
func (r *Resolver) uncheckedReason(ctx context.Context, reason string) string {
	name, _, hasValue := strings.Cut(reason, "=")
	switch {
	case !hasValue:
		return reason
	case unmasked(ctx):
		r.noteRead(ctx)
		return reason
	default:
		return name + "=" + access.Masked
	}
}

// finder is find, built once in the request for key (an event, or a
// profile id): a journey's every text of one event, and every trait of
// one profile, share one search.
func (r *Resolver) finder(ctx context.Context, key any, find func() *graph.Erased) func() *graph.Erased {
	return func() *graph.Erased {
		s := r.loaders(ctx)
		s.mu.Lock()
		x, ok := s.finders[key]
		s.mu.Unlock()
		if ok {
			return x
		}
		x = find()
		s.mu.Lock()
		if s.finders == nil {
			s.finders = map[any]*graph.Erased{}
		}
		s.finders[key] = x
		s.mu.Unlock()
		return x
	}
}

// eventFinder is eventValues of ev, built when first needed and once in
// the request: for all the events carrying the same identifiers and no
// trait under a personal name (a journey's, mostly), one search.
func (r *Resolver) eventFinder(ctx context.Context, ev *graph.Event) func() *graph.Erased {
	var key any = eventKeys(strings.Join(ev.Keys, "\x00"))
	for name := range ev.Traits {
		if r.mask.PersonalTrait(name) {
			key = ev // its own traits are searched for too
			break
		}
	}
	return r.finder(ctx, key, func() *graph.Erased { return r.eventValues(ev) })
}

// eventKeys are an event's identifier keys joined, as a finder's key.
type eventKeys string

// membersFinder is personValues of ms, the members of profile pid, built
// when first needed and once in the request.
func (r *Resolver) membersFinder(ctx context.Context, pid string, ms []graph.Identifier) func() *graph.Erased {
	return r.finder(ctx, pid, func() *graph.Erased { return r.personValues(ms) })
}

// eventValues finds, inside an event's other texts, the values of the
// personal identifiers it carried and of its own personal traits: a
// page's url or search holding the visitor's email (ann%40example.com), a
// track named "Invited ann@example.com" (access.Masker.Finder). Nil when
// there is nothing to find.
func (r *Resolver) eventValues(ev *graph.Event) *graph.Erased {
	traits := make(map[string][]any, len(ev.Traits))
	for name, v := range ev.Traits {
		traits[name] = []any{v}
	}
	return r.mask.Finder(r.engine.Normalizer(), ev.Keys, traits)
}

// personValues is eventValues for the texts of a profile's traits and
// computed traits: the values of its members ms of personal types, and
// of their personal traits.
func (r *Resolver) personValues(ms []graph.Identifier) *graph.Erased {
	return r.mask.MembersFinder(r.engine.Normalizer(), ms)
}

// eventText is a free text of ev (its name, channel or campaign) as the
// caller may see it (hideFound with eventValues).
func (r *Resolver) eventText(ctx context.Context, ev *graph.Event, s string) string {
	if s == "" {
		return s
	}
	return r.hideFound(ctx, r.eventFinder(ctx, ev), s).(string)
}

// eventMap is traitMap for ev's properties or traits m, which also hides
// the personal values eventValues finds in the strings below names that
// are not personal (at any depth, in lists too).
func (r *Resolver) eventMap(ctx context.Context, ev *graph.Event, m map[string]any) map[string]any {
	out := r.traitMap(ctx, m)
	if len(out) == 0 {
		return out
	}
	return r.hideFound(ctx, r.eventFinder(ctx, ev), out).(map[string]any)
}

// hideFound returns v, a value masking by name has shown the caller, as
// the caller may see it: without pii:read, every value the search find
// builds finds in its strings (but under personal names, masked already)
// reads access.Masked; with it, v as it is, the read noted when the search
// finds one. With pii:read, no search is made once the read is noted (or
// when there is nowhere to note it): v is shown as it is either way. A nil
// find, or a nil search, finds nothing.
func (r *Resolver) hideFound(ctx context.Context, find func() *graph.Erased, v any) any {
	if unmasked(ctx) && r.readNoted(ctx) {
		return v
	}
	if find == nil {
		return v
	}
	x := find()
	if x == nil {
		return v
	}
	hidden, changed := r.mask.Hide(x, v)
	if !changed {
		return v
	}
	if unmasked(ctx) {
		r.noteRead(ctx)
		return v
	}
	return hidden
}

// hideTraitValues is hideFound for the values of trait list, of the
// profile whose members are ms, but those under personal names (masked
// by name when each is read).
func (r *Resolver) hideTraitValues(ctx context.Context, pid string, ms []graph.Identifier, list []*gql.TraitValue) []*gql.TraitValue {
	x := r.membersFinder(ctx, pid, ms)
	out := list
	for i, tv := range list {
		if r.mask.PersonalTrait(tv.Name) {
			continue
		}
		v := r.hideFound(ctx, x, tv.Value)
		if reflect.DeepEqual(v, tv.Value) {
			continue
		}
		if &out[0] == &list[0] {
			out = slices.Clone(list)
		}
		c := *tv
		c.Value = v
		out[i] = &c
	}
	return out
}
