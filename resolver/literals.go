package resolver

import (
	"context"
	"encoding/json"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/idgraph/cdp/gql"
)

// keepLiteralNumbers gives the JSON fields of the ingest mutation's events
// (properties, traits, context, integrations) the numbers written in the
// document as the text written. gqlgen reads a number literal as an int64
// or a float64, so `1.50` would reach the parser as 1.5 and `1e3` as 1000,
// where the collector and the variables keep the text: a device id would
// then name another identifier, and the same message sent through
// variables would have another digest (a duplicate_conflict). An events
// argument given as a variable, or a field given as one, is left as
// decoded, since variables already keep the text (json.Number).
func keepLiteralNumbers(ctx context.Context, events []*gql.EventInput) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || !graphql.HasOperationContext(ctx) {
		return
	}
	f := fc.Field.Field
	arg := f.Arguments.ForName("events")
	if arg == nil || arg.Value == nil {
		return
	}
	vars := graphql.GetOperationContext(ctx).Variables
	var items []*ast.Value
	switch arg.Value.Kind {
	case ast.ListValue:
		for _, c := range arg.Value.Children {
			items = append(items, c.Value)
		}
	case ast.ObjectValue: // a single object stands for a list of one
		items = []*ast.Value{arg.Value}
	default:
		return
	}
	if len(items) != len(events) {
		return
	}
	for i, item := range items {
		in := events[i]
		if item == nil || item.Kind != ast.ObjectValue || in == nil {
			continue
		}
		for _, c := range item.Children {
			var dst *any
			switch c.Name {
			case "properties":
				dst = &in.Properties
			case "traits":
				dst = &in.Traits
			case "context":
				dst = &in.Context
			case "integrations":
				dst = &in.Integrations
			default:
				continue
			}
			if c.Value != nil && c.Value.Kind != ast.Variable {
				*dst = literalJSON(c.Value, vars)
			}
		}
	}
}

// literalJSON is v as gqlparser's Value reads it, but with each number as
// the json.Number of its text. A number literal is valid JSON as written:
// GraphQL's number grammar is a subset of JSON's.
func literalJSON(v *ast.Value, vars map[string]any) any {
	if v == nil {
		return nil
	}
	switch v.Kind {
	case ast.IntValue, ast.FloatValue:
		return json.Number(v.Raw)
	case ast.ListValue:
		out := make([]any, 0, len(v.Children))
		for _, c := range v.Children {
			out = append(out, literalJSON(c.Value, vars))
		}
		return out
	case ast.ObjectValue:
		out := make(map[string]any, len(v.Children))
		for _, c := range v.Children {
			if c.Value != nil && c.Value.Kind == ast.Variable {
				if _, ok := vars[c.Value.Raw]; !ok && (c.Value.VariableDefinition == nil || c.Value.VariableDefinition.DefaultValue == nil) {
					continue // an unset variable leaves the field out, as Value does
				}
			}
			out[c.Name] = literalJSON(c.Value, vars)
		}
		return out
	case ast.Variable:
		if x, ok := vars[v.Raw]; ok {
			return x
		}
		if d := v.VariableDefinition; d != nil && d.DefaultValue != nil {
			return literalJSON(d.DefaultValue, vars)
		}
		return nil
	}
	x, err := v.Value(vars)
	if err != nil {
		return nil
	}
	return x
}

// bigLiteral returns the first number written in doc that gqlparser cannot
// read (an integer beyond int64, a number beyond float64), or nil. The
// validator would refuse it as "Expected value of type EventInput!",
// naming the input object that holds it and not the number; and a JSON
// value holding such a number is kept by the collector, or refused naming
// its path, only when it comes as JSON, in the variables.
func bigLiteral(doc *ast.QueryDocument) *ast.Value {
	var inValue func(v *ast.Value) *ast.Value
	inValue = func(v *ast.Value) *ast.Value {
		if v == nil {
			return nil
		}
		switch v.Kind {
		case ast.IntValue, ast.FloatValue:
			if _, err := v.Value(nil); err != nil {
				return v
			}
		case ast.ListValue, ast.ObjectValue:
			for _, c := range v.Children {
				if b := inValue(c.Value); b != nil {
					return b
				}
			}
		}
		return nil
	}
	inDirectives := func(ds ast.DirectiveList) *ast.Value {
		for _, d := range ds {
			for _, a := range d.Arguments {
				if b := inValue(a.Value); b != nil {
					return b
				}
			}
		}
		return nil
	}
	var inSet func(ss ast.SelectionSet) *ast.Value
	inSet = func(ss ast.SelectionSet) *ast.Value {
		for _, sel := range ss {
			var b *ast.Value
			switch s := sel.(type) {
			case *ast.Field:
				for _, a := range s.Arguments {
					if b = inValue(a.Value); b != nil {
						return b
					}
				}
				if b = inDirectives(s.Directives); b == nil {
					b = inSet(s.SelectionSet)
				}
			case *ast.InlineFragment:
				if b = inDirectives(s.Directives); b == nil {
					b = inSet(s.SelectionSet)
				}
			case *ast.FragmentSpread:
				b = inDirectives(s.Directives)
			}
			if b != nil {
				return b
			}
		}
		return nil
	}
	for _, op := range doc.Operations {
		for _, vd := range op.VariableDefinitions {
			if b := inValue(vd.DefaultValue); b != nil {
				return b
			}
		}
		if b := inDirectives(op.Directives); b != nil {
			return b
		}
		if b := inSet(op.SelectionSet); b != nil {
			return b
		}
	}
	for _, f := range doc.Fragments {
		if b := inDirectives(f.Directives); b != nil {
			return b
		}
		if b := inSet(f.SelectionSet); b != nil {
			return b
		}
	}
	return nil
}

// bigLiteralError is the refusal of a document holding the number v
// (bigLiteral): it names where the number is, not the number, which may
// be personal data (a card number in properties).
func bigLiteralError(v *ast.Value) *gqlerror.Error {
	e := gqlerror.Errorf("the number written at line %d, column %d is beyond what a document's number can hold (a 64-bit integer or float); send it in the operation's variables as JSON",
		v.Position.Line, v.Position.Column)
	e.Locations = []gqlerror.Location{{Line: v.Position.Line, Column: v.Position.Column}}
	errcode.Set(e, errcode.ValidationFailed)
	return e
}
