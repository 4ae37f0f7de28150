// Command gqlpatch edits gql/generated.go after gqlgen has written it:
// the marshaller of [Identifier!]! calls gql.marshalIdentifierList (see
// gql/inline.go) instead of graphql.MarshalSliceConcurrently. It fails when
// the line to replace is not found exactly once, so that a gqlgen release
// that writes the marshaller differently is noticed, and it is idempotent.
//
//	go run ./internal/gqlpatch gql/generated.go
package main

import (
	"bytes"
	"fmt"
	"os"
)

const (
	fn   = "func (ec *executionContext) marshalNIdentifier2ᚕᚖgithubᚗcomᚋidgraphᚋcdpᚋgraphᚐIdentifierᚄ("
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

func patch(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	start := bytes.Index(src, []byte(fn))
	if start < 0 || bytes.Count(src, []byte(fn)) != 1 {
		return fmt.Errorf("%s: the marshaller of [Identifier!]! is not there exactly once", path)
	}
	// The function's body runs to the next top-level closing brace.
	end := bytes.Index(src[start:], []byte("\n}\n"))
	if end < 0 {
		return fmt.Errorf("%s: the marshaller of [Identifier!]! has no end", path)
	}
	body := src[start : start+end]
	switch {
	case bytes.Count(body, []byte(to)) == 1 && !bytes.Contains(body, []byte(from)):
		return nil // already patched
	case bytes.Count(body, []byte(from)) != 1:
		return fmt.Errorf("%s: the marshaller of [Identifier!]! does not call MarshalSliceConcurrently as expected; see gql/inline.go", path)
	}
	out := make([]byte, 0, len(src)+16)
	out = append(out, src[:start]...)
	out = append(out, bytes.Replace(body, []byte(from), []byte(to), 1)...)
	out = append(out, src[start+end:]...)
	return os.WriteFile(path, out, 0o644)
}
