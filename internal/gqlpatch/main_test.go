package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const unpatched = "package gql\n\n" + fn + "ctx context.Context, sel ast.SelectionSet, v []*graph.Identifier) graphql.Marshaler {\n" + from +
	"\t\treturn nil\n\t})\n\treturn ret\n}\n\n" +
	"func (ec *executionContext) marshalNOther(ctx context.Context, sel ast.SelectionSet, v []*Other) graphql.Marshaler {\n" + from +
	"\t\treturn nil\n\t})\n\treturn ret\n}\n"

func TestPatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "generated.go")
	if err := os.WriteFile(path, []byte(unpatched), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := patch(path); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	// Hand-written expectation: the identifiers' marshaller calls the
	// inline helper, the other list keeps gqlgen's call.
	want := strings.Replace(unpatched, fn+"ctx context.Context, sel ast.SelectionSet, v []*graph.Identifier) graphql.Marshaler {\n"+from,
		fn+"ctx context.Context, sel ast.SelectionSet, v []*graph.Identifier) graphql.Marshaler {\n"+to, 1)
	if string(got) != want {
		t.Fatalf("patched file:\n%s\nwant:\n%s", got, want)
	}
	if strings.Count(string(got), from) != 1 {
		t.Fatalf("the other list's marshaller was changed too")
	}
	// A second run changes nothing.
	if err := patch(path); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(path)
	if string(again) != want {
		t.Fatal("a second run changed the file")
	}
}

func TestPatchRefusesUnknownShape(t *testing.T) {
	for name, src := range map[string]string{
		"no marshaller":    "package gql\n",
		"different call":   "package gql\n\n" + fn + "ctx context.Context) graphql.Marshaler {\n\tret := graphql.MarshalSliceConcurrently(ctx, len(v), 8, false, f)\n\treturn ret\n}\n",
		"marshaller twice": "package gql\n\n" + fn + ") {\n}\n" + fn + ") {\n}\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "generated.go")
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := patch(path); err == nil {
				t.Fatal("patch accepted a file it cannot patch")
			}
			if got, _ := os.ReadFile(path); string(got) != src {
				t.Fatal("a refused file was written")
			}
		})
	}
}

// TestGeneratedIsPatched fails when gql/generated.go was regenerated
// without `go generate ./resolver` running gqlpatch after gqlgen.
func TestGeneratedIsPatched(t *testing.T) {
	src, err := os.ReadFile("../../gql/generated.go")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(src), fn)
	if i < 0 {
		t.Fatal("gql/generated.go has no marshaller of [Identifier!]!")
	}
	body := string(src[i:])
	body = body[:strings.Index(body, "\n}\n")]
	if !strings.Contains(body, to) {
		t.Fatal("gql/generated.go marshals identifiers with MarshalSliceConcurrently: run go generate ./resolver")
	}
}
