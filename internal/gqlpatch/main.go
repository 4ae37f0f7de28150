// Command gqlpatch edits gql/generated.go after gqlgen has written it: the
// marshallers of lists of Identifier, [Identifier!]! (Event.identifiers) and
// [Identifier!] (Profile.identifiers, nullable because a scope may refuse
// it), call gql.marshalIdentifierList (see gql/inline.go) instead of
// graphql.MarshalSliceConcurrently. It fails when a marshaller, or the line
// to replace in it, is not found exactly once, so that a gqlgen release, or
// a schema change, that writes them differently is noticed; and it is
// idempotent.
//
//	go run ./internal/gqlpatch gql/generated.go
package main

import (
	"bytes"
	"fmt"
	"os"
)

// fns are the first lines, up to the parameters, of the marshallers to
// patch: gqlgen names them by nullability (N, O), then the Go type.
var fns = []string{
	"func (ec *executionContext) marshalNIdentifier2ᚕᚖgithubᚗcomᚋidgraphᚋcdpᚋgraphᚐIdentifierᚄ(",
	"func (ec *executionContext) marshalOIdentifier2ᚕᚖgithubᚗcomᚋidgraphᚋcdpᚋgraphᚐIdentifierᚄ(",
}

const (
	from = "\tret := graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {\n"
	to   = "\tret := marshalIdentifierList(ctx, ec.OperationContext, sel, len(v), func(ctx context.Context, i int) graphql.Marshaler {\n"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gqlpatch path/to/generated.go")
		os.Exit(2)
	}
	if err := patch(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gqlpatch:", err)
		os.Exit(1)
	}
}

// patch rewrites every marshaller of fns in the file at path, or leaves the
// file untouched when any of them cannot be patched.
func patch(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out := src
	for _, fn := range fns {
		if out, err = patchOne(out, fn); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if bytes.Equal(out, src) {
		return nil
	}
	return os.WriteFile(path, out, 0o644)
}

// patchOne returns src with the marshaller that starts with fn calling the
// inline helper.
func patchOne(src []byte, fn string) ([]byte, error) {
	start := bytes.Index(src, []byte(fn))
	if start < 0 || bytes.Count(src, []byte(fn)) != 1 {
		return nil, fmt.Errorf("the marshaller %s...) is not there exactly once", fn)
	}
	// The function's body runs to the next top-level closing brace.
	end := bytes.Index(src[start:], []byte("\n}\n"))
	if end < 0 {
		return nil, fmt.Errorf("the marshaller %s...) has no end", fn)
	}
	body := src[start : start+end]
	switch {
	case bytes.Count(body, []byte(to)) == 1 && !bytes.Contains(body, []byte(from)):
		return src, nil // already patched
	case bytes.Count(body, []byte(from)) != 1:
		return nil, fmt.Errorf("the marshaller %s...) does not call MarshalSliceConcurrently as expected; see gql/inline.go", fn)
	}
	out := make([]byte, 0, len(src)+16)
	out = append(out, src[:start]...)
	out = append(out, bytes.Replace(body, []byte(from), []byte(to), 1)...)
	out = append(out, src[start+end:]...)
	return out, nil
}
