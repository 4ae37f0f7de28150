package audience

import (
	"context"

	"github.com/idgraph/cdp/privacy"
)

// An audience with a purpose lists a kept member only while the member's
// consent state for it is GRANTED at the time of the read (a withdrawal or
// an expiry counts at once, before the keeper's next evaluation makes the
// member exit). An inAudience condition naming such an audience means the
// same: kept member and GRANTED, at the instant the filter is evaluated.
// Evaluators read it so through WithPurposes, which writes that rule with
// the filter's own consent condition, so every evaluator (Eval, EvalFacts,
// a store's compiled filter) applies it as it applies a consent condition.

// WithPurposes returns f as it is evaluated, given the current purposes of
// the audiences it names (purposes: audience id to purpose; an audience
// absent or with "" has none): each inAudience condition naming an
// audience with a purpose P is read as {and: [{inAudience}, {consent:
// {purpose: P, status: GRANTED}}]}. f itself is never changed (it is what
// was stored and is shown back), and is returned as it is when no
// condition names an audience with a purpose.
func (f *Filter) WithPurposes(purposes map[string]string) *Filter {
	if f == nil || len(purposes) == 0 {
		return f
	}
	g, changed := f.withPurposes(purposes, 0)
	if !changed {
		return f
	}
	return &g
}

// withPurposes is WithPurposes on one node: a copy of it and whether it
// differs from it. Nodes are read in Eval's order of fields.
func (f *Filter) withPurposes(purposes map[string]string, depth int) (Filter, bool) {
	if depth > MaxDepth*4 {
		return *f, false
	}
	list := func(in []Filter) ([]Filter, bool) {
		var out []Filter
		for i := range in {
			g, changed := in[i].withPurposes(purposes, depth+1)
			if changed && out == nil {
				out = make([]Filter, len(in))
				copy(out, in)
			}
			if out != nil {
				out[i] = g
			}
		}
		return out, out != nil
	}
	switch {
	case f.And != nil:
		if l, ok := list(f.And); ok {
			return Filter{And: l}, true
		}
	case f.Or != nil:
		if l, ok := list(f.Or); ok {
			return Filter{Or: l}, true
		}
	case f.Not != nil:
		if g, ok := f.Not.withPurposes(purposes, depth+1); ok {
			return Filter{Not: &g}, true
		}
	case f.Trait != nil || f.Identifier != nil || f.Event != nil || f.Consent != nil || f.Computed != nil:
	case f.InAudience != nil:
		p := purposes[*f.InAudience]
		if p == "" {
			break
		}
		id := *f.InAudience
		return Filter{And: []Filter{
			{InAudience: &id},
			{Consent: &ConsentCondition{Purpose: p, Status: privacy.StateGranted}},
		}}, true
	}
	return *f, false
}

// AudienceReader reads stored audiences (Store.Audiences).
type AudienceReader interface {
	Audiences(ctx context.Context, ids []string) (map[string]Audience, error)
}

// WithPurposesOf is WithPurposes with the purposes the audiences f names
// have in st now: what a filter means when it is evaluated now. It reads
// st only when f has an inAudience condition.
func (f *Filter) WithPurposesOf(ctx context.Context, st AudienceReader) (*Filter, error) {
	if f == nil {
		return f, nil
	}
	ids := f.AudienceIDs()
	if len(ids) == 0 {
		return f, nil
	}
	auds, err := st.Audiences(ctx, ids)
	if err != nil {
		return nil, err
	}
	purposes := map[string]string{}
	for id, a := range auds {
		if a.Purpose != "" {
			purposes[id] = a.Purpose
		}
	}
	return f.WithPurposes(purposes), nil
}

// PurposesOf maps the id of each audience of auds that has a purpose to
// it.
func PurposesOf(auds []Audience) map[string]string {
	out := map[string]string{}
	for i := range auds {
		if auds[i].Purpose != "" {
			out[auds[i].ID] = auds[i].Purpose
		}
	}
	return out
}
