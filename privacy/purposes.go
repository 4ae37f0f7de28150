package privacy

import (
	"slices"
	"strings"

	"github.com/idgraph/cdp/graph"
)

// Purposes are the consent purposes of the rules, in their order, with the
// mapping of outside category names onto them. It is read-only once built
// and safe for concurrent use.
type Purposes struct {
	list       []string
	known      map[string]bool
	categories map[string]string // folded category name -> purpose
}

// NewPurposes builds the purposes of r (graph.Rules.Consent), checking them
// as the rules file is checked.
//
// Errors: those of graph.ConsentRules.Validate, naming the field.
func NewPurposes(r graph.ConsentRules) (*Purposes, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	p := &Purposes{
		list:       slices.Clone(r.Purposes),
		known:      make(map[string]bool, len(r.Purposes)),
		categories: make(map[string]string, len(r.Categories)),
	}
	for _, name := range r.Purposes {
		p.known[name] = true
	}
	for c, purpose := range r.Categories {
		p.categories[fold(c)] = purpose
	}
	return p, nil
}

// List returns the purposes in the rules' order.
func (p *Purposes) List() []string { return slices.Clone(p.list) }

// Known reports whether name is a purpose.
func (p *Purposes) Known(name string) bool { return p.known[name] }

// Check returns nil for a known purpose.
//
// Errors: EINVALID, listing the known purposes.
func (p *Purposes) Check(name string) error {
	if p.known[name] {
		return nil
	}
	return graph.Errorf(graph.EINVALID, "purpose %q is not known; the purposes are %s", clip(name, 70), p.String())
}

// String lists the purposes, comma-separated.
func (p *Purposes) String() string { return strings.Join(p.list, ", ") }

// Resolve maps an outside category name to a purpose. An entry of the
// rules' consent.categories wins; otherwise the category matches the
// purpose of the same name. Both comparisons ignore case and surrounding
// spaces, so Segment's "Advertising" resolves to "advertising".
func (p *Purposes) Resolve(category string) (purpose string, ok bool) {
	f := fold(category)
	if purpose, ok := p.categories[f]; ok {
		return purpose, true
	}
	if p.known[f] {
		return f, true
	}
	return "", false
}

func fold(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
