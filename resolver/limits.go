package resolver

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
)

// Page sizes when the client gives none.
const (
	defaultProfilesPage = 50
	defaultJourneyPage  = 20
)

// requestLimits refuses operations that are too deep, that ask for pages
// over the cap, or whose fields expand (through fragments) past the
// complexity limit, before the complexity walk and before execution. It runs
// on every request, cached documents included.
type requestLimits struct {
	maxDepth       int
	maxPage        int
	maxIdentifiers int
	maxComplexity  int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = requestLimits{}

func (requestLimits) ExtensionName() string                          { return "RequestLimits" }
func (requestLimits) Validate(schema graphql.ExecutableSchema) error { return nil }

func (l requestLimits) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	op := oc.Operation
	if op == nil {
		return nil
	}
	if op.Operation == ast.Mutation {
		if n := mutationFields(oc); n > MaxMutationFields {
			e := gqlerror.Errorf("operation has %d root mutation fields, more than the limit of %d; send the others in another operation", n, MaxMutationFields)
			setCode(e, CodeQueryTooLarge)
			return e
		}
	}
	w := &limitWalker{vars: oc.Variables, maxPage: l.maxPage, maxIdentifiers: l.maxIdentifiers, frags: map[string]*fragStats{}}
	st := w.selectionSet(op.SelectionSet)
	if w.err != nil {
		return w.err
	}
	if st.depth > l.maxDepth {
		e := gqlerror.Errorf("operation has depth %d, which exceeds the limit of %d", st.depth, l.maxDepth)
		setCode(e, CodeDepthLimit)
		return e
	}
	if st.fields > l.maxComplexity {
		e := gqlerror.Errorf("operation has complexity of at least %d, which exceeds the limit of %d", st.fields, l.maxComplexity)
		setCode(e, CodeComplexityLimit)
		return e
	}
	return nil
}

// MaxMutationFields is the most root fields (aliases) a mutation
// operation may hold. Each one runs, one after another, in its own store
// write with its audit entry, a refused one too (FORBIDDEN, NOT_FOUND):
// without a bound, one request of 1,600 aliases of a mutation its key may
// not run wrote 1,600 audit entries.
const MaxMutationFields = 50

// mutationFields counts the root fields of a mutation operation as they
// will run: by response key, fragments included, __typename left out.
func mutationFields(oc *graphql.OperationContext) int {
	n := 0
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Mutation"}) {
		if !strings.HasPrefix(f.Name, "__") {
			n++
		}
	}
	return n
}

type fragStats struct {
	depth  int // nesting of fields below the spread
	fields int // fields once all spreads are expanded (saturating)
}

// limitWalker visits each fragment once, so a document that spreads
// fragments exponentially costs linear time here.
type limitWalker struct {
	vars           map[string]any
	maxPage        int
	maxIdentifiers int // the cap of Profile.identifiers
	frags          map[string]*fragStats
	err            *gqlerror.Error
}

func (w *limitWalker) selectionSet(ss ast.SelectionSet) fragStats {
	var out fragStats
	for _, sel := range ss {
		var st fragStats
		switch s := sel.(type) {
		case *ast.Field:
			if strings.HasPrefix(s.Name, "__") {
				// Introspection has its own depth rule in the validator.
				continue
			}
			w.checkPage(s)
			w.checkNames(s)
			child := w.selectionSet(s.SelectionSet)
			st = fragStats{depth: child.depth + 1, fields: satAdd(child.fields, 1)}
		case *ast.InlineFragment:
			st = w.selectionSet(s.SelectionSet)
		case *ast.FragmentSpread:
			if s.Definition == nil {
				continue
			}
			if fs, ok := w.frags[s.Name]; ok {
				st = *fs
				break
			}
			w.frags[s.Name] = &fragStats{} // a cycle (refused by validation) counts as empty
			st = w.selectionSet(s.Definition.SelectionSet)
			w.frags[s.Name] = &st
		}
		out.depth = max(out.depth, st.depth)
		out.fields = satAdd(out.fields, st.fields)
	}
	return out
}

// checkPage refuses first/last outside 0..maxPage on any field.
func (w *limitWalker) checkPage(f *ast.Field) {
	if w.err != nil {
		return
	}
	for _, a := range f.Arguments {
		if a.Name != "first" && a.Name != "last" {
			continue
		}
		v, err := a.Value.Value(w.vars)
		if err != nil || v == nil {
			continue
		}
		n, ok := toInt64(v)
		if !ok {
			continue
		}
		limit := w.maxPage
		parent := ""
		if f.ObjectDefinition != nil {
			parent = f.ObjectDefinition.Name + "."
			if parent == "Profile." && f.Name == "identifiers" {
				limit = w.maxIdentifiers
			}
			if parent == "AudiencePreview." && f.Name == "sample" {
				limit = maxPreviewSample
			}
		}
		if n < 0 || n > int64(limit) {
			w.err = gqlerror.Errorf("argument %q of %s%s must be between 0 and %d, got %d", a.Name, parent, f.Name, limit, n)
			w.err.Locations = []gqlerror.Location{{Line: a.Position.Line, Column: a.Position.Column}}
			setCode(w.err, CodeInvalidArgument)
			return
		}
	}
}

// nameFilters are the arguments bounded by maxNameFilter, by field.
var nameFilters = map[string][]string{
	"Profile.journey":     {"types", "channels"},
	"Profile.identifiers": {"types"},
}

// checkNames refuses a name filter of more than maxNameFilter names: each
// name is compared with every event or identifier of every profile the
// field is asked of, which the complexity limit does not see.
func (w *limitWalker) checkNames(f *ast.Field) {
	if w.err != nil || f.ObjectDefinition == nil {
		return
	}
	field := f.ObjectDefinition.Name + "." + f.Name
	for _, name := range nameFilters[field] {
		a := f.Arguments.ForName(name)
		if a == nil {
			continue
		}
		v, err := a.Value.Value(w.vars)
		if l, ok := v.([]any); err == nil && ok && len(l) > maxNameFilter {
			w.err = gqlerror.Errorf("argument %q of %s holds %d names, more than the limit of %d", name, field, len(l), maxNameFilter)
			w.err.Locations = []gqlerror.Location{{Line: a.Position.Line, Column: a.Position.Column}}
			setCode(w.err, CodeInvalidArgument)
			return
		}
	}
}

func toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case float64:
		if n > math.MaxInt64 || n < math.MinInt64 {
			return math.MaxInt64, true
		}
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			return math.MaxInt64, true
		}
		return i, true
	}
	return 0, false
}

func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

func satMul(a, b int) int {
	if a != 0 && b > math.MaxInt/a {
		return math.MaxInt
	}
	return a * b
}

// pageCost is the multiplier of a paged list: its page size, at least 1.
func pageCost(n *int, def, maxPage int) int {
	if n == nil {
		return def
	}
	return min(max(*n, 1), maxPage)
}

// boundOf is the most items a list with this first can hold: first, or
// the cap when first is absent (at least 1, for pricing).
func boundOf(first *int, cap int) int {
	if first == nil {
		return max(cap, 1)
	}
	return min(max(*first, 1), cap)
}

// firstOf keeps the first items of a list: first, or the cap when absent.
// checkPage has refused a first outside 0..cap.
func firstOf[T any](items []T, first *int, cap int) []T {
	n := cap
	if first != nil {
		n = min(max(*first, 0), cap)
	}
	if len(items) > n {
		return items[:n]
	}
	return items
}

// limitOf is first, or the cap when absent.
func (r *Resolver) limitOf(first *int, cap int) int {
	if first == nil {
		return cap
	}
	return min(max(*first, 0), cap)
}

// maxIdentifiers is the rules' most identifiers per profile, the bound of
// Profile.identifiers.
func (r *Resolver) maxIdentifiers() int {
	if rules := r.engine.Normalizer().Rules(); rules != nil && rules.MaxIdentifiers > 0 {
		return rules.MaxIdentifiers
	}
	return graph.DefaultMaxIdentifiers
}

// complexity prices list fields by their page size (first/last) or, for
// the other lists, by their first or their cap; only an event's
// identifiers (a handful per event) are priced by an estimate. The graph
// and explanations carry a fixed cost for their store reads.
func complexity(maxPage, maxIdentifiers int) gql.ComplexityRoot {
	var c gql.ComplexityRoot
	list := func(n int) func(int) int {
		return func(child int) int { return satAdd(1, satMul(n, child)) }
	}
	c.Query.Profiles = func(child int, filter *gql.AudienceFilter, first *int, _ *string, last *int, _ *string) int {
		n := defaultProfilesPage
		if first != nil {
			n = pageCost(first, defaultProfilesPage, maxPage)
		} else if last != nil {
			n = pageCost(last, defaultProfilesPage, maxPage)
		}
		cost := satAdd(1, satMul(n, child))
		if filter != nil {
			// A filtered page scans profiles, and totalCount all of them.
			cost = satAdd(cost, scanCost)
		}
		return cost
	}
	c.Query.ExplainLink = func(child int, _, _ gql.IdentifierInput) int { return satAdd(20, child) }
	c.Profile.Journey = func(child int, first *int, _ *string, _, _ []string, _, _ *time.Time) int {
		return satAdd(1, satMul(pageCost(first, defaultJourneyPage, maxPage), child))
	}
	// Unpaged lists are priced by their bound: first, or the cap.
	bounded := func(cap int) func(int, *int) int {
		return func(child int, first *int) int { return satAdd(1, satMul(boundOf(first, cap), child)) }
	}
	c.Profile.Identifiers = func(child int, _ []string, first *int) int {
		return satAdd(1, satMul(boundOf(first, maxIdentifiers), child))
	}
	c.Profile.TraitValues = bounded(maxPage)
	c.Profile.TraitSources = func(child int, _ *string, first *int) int { return satAdd(1, satMul(boundOf(first, maxPage), child)) }
	c.Profile.History = func(child int, first *int, _ *string) int { return satAdd(1, satMul(boundOf(first, maxPage), child)) }
	c.Profile.IdentityGraph = func(child int) int { return satAdd(50, child) }
	c.IdentityGraph.Nodes = bounded(maxPage)
	c.IdentityGraph.Edges = bounded(maxPage)
	c.Profile.ExplainLink = func(child int, _, _ gql.IdentifierInput) int { return satAdd(20, child) }
	c.LinkExplanation.Path = bounded(maxPage)
	c.LinkExplanation.Refusals = bounded(maxPage)
	c.Event.Identifiers = list(3)
	c.Identifier.Traits = bounded(maxPage)
	c.Mutation.Ingest = func(child int, events []*gql.EventInput) int {
		return satAdd(10, satMul(max(len(events), 1), child))
	}
	return c
}

// prices is the complexity of every field priced otherwise than 1 plus
// its children. The README's complexity table names each one.
func (r *Resolver) prices() gql.ComplexityRoot {
	cx := complexity(r.cfg.MaxPage, r.maxIdentifiers())
	r.priceConsent(&cx, r.cfg.MaxPage)
	priceAudiences(&cx)
	pricePreview(&cx)
	priceIntel(&cx)
	priceLookalikes(&cx)
	priceDestinations(&cx)
	priceAccess(&cx)
	return cx
}

// selectionLimit refuses a document holding more than max field selections
// before gqlgen validates it: the validator's overlapping-fields rule
// compares fields pairwise, so a document of 14,000 selections of one field
// would cost seconds of CPU. It runs before gqlgen's own parse (as an
// OperationParameterMutator), parses the document itself within the same
// token limit, and counts every field node: in each operation, and in each
// fragment definition once (spreads are not expanded; the complexity limit
// prices expansion). A document already in the query cache has passed.
// The same parse refuses, with a clear message, a number literal beyond
// what gqlparser reads (bigLiteral).
// A document that does not parse is left to gqlgen, which reports why.
type selectionLimit struct {
	max       int
	maxTokens int
	cache     graphql.Cache[*ast.QueryDocument]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = selectionLimit{}

func (selectionLimit) ExtensionName() string                          { return "SelectionLimit" }
func (selectionLimit) Validate(schema graphql.ExecutableSchema) error { return nil }

func (l selectionLimit) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if l.cache != nil {
		if _, ok := l.cache.Get(ctx, p.Query); ok {
			return nil
		}
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, l.maxTokens)
	if err != nil || doc == nil {
		return nil
	}
	n := 0
	for _, op := range doc.Operations {
		n += countFields(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		n += countFields(f.SelectionSet)
	}
	if n > l.max {
		e := gqlerror.Errorf("document has %d field selections, which exceeds the limit of %d", n, l.max)
		setCode(e, CodeQueryTooLarge)
		return e
	}
	if v := bigLiteral(doc); v != nil {
		return bigLiteralError(v)
	}
	return nil
}

// countFields counts the field nodes of a selection set, inline fragments'
// included; fragment spreads count nothing here.
func countFields(ss ast.SelectionSet) int {
	n := 0
	for _, sel := range ss {
		switch s := sel.(type) {
		case *ast.Field:
			n += 1 + countFields(s.SelectionSet)
		case *ast.InlineFragment:
			n += countFields(s.SelectionSet)
		}
	}
	return n
}

// maxNameFilter is the most names a list that filters a profile's events
// or identifiers (Profile.journey's types and channels,
// Profile.identifiers' types) may hold.
const maxNameFilter = 100
