package resolver

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
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
		if sub, ok := v.(map[string]any); ok {
			return r.traitMap(ctx, map[string]any{name: sub})[name]
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

// engineDescribe is how the engine names an identifier in its messages.
func engineDescribe(ref graph.IdentifierRef) string {
	v := ref.Value
	if len(v) > 64 {
		v = v[:64] + "…"
	}
	return fmt.Sprintf("%s %q", ref.Type, v)
}

// identErr rewrites an engine error whose message names identifiers so that
// it names the arguments instead: no error repeats an identifier value,
// whatever the caller's scopes. Other errors pass through domainErr.
func identErr(err error, args ...identArg) error {
	if err == nil {
		return nil
	}
	code := graph.ErrorCode(err)
	if code == graph.EINTERNAL {
		return domainErr(err)
	}
	msg := graph.ErrorMessage(err)
	holds := func(a identArg) bool {
		for _, ref := range []graph.IdentifierRef{a.raw, a.norm} {
			if ref.Value != "" && (strings.Contains(msg, engineDescribe(ref)) || strings.Contains(msg, strconv.Quote(ref.Value))) {
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
	switch {
	case code == graph.ENOTFOUND && strings.Contains(msg, "not linked directly") && len(args) == 2:
		return graph.Errorf(code, "the identifiers of arguments %q and %q are not linked directly; explainLink shows what joins them", args[0].name, args[1].name)
	case code == graph.ENOTFOUND:
		return graph.Errorf(code, "%s: identifier not found", named[0].label())
	case code == graph.EINVALID:
		return graph.Errorf(code, "%s: identifier not usable", named[0].label())
	default:
		return graph.Errorf(code, "%s: the operation failed (%s)", named[0].label(), strings.ToLower(codeOf(code)))
	}
}
