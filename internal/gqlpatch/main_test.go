package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	nList = "func (ec *executionContext) marshalNIdentifier2ᚕᚖgithubᚗcomᚋidgraphᚋcdpᚋgraphᚐIdentifierᚄ("
	oList = "func (ec *executionContext) marshalOIdentifier2ᚕᚖgithubᚗcomᚋidgraphᚋcdpᚋgraphᚐIdentifierᚄ("
	// The call gqlgen writes, and the one the patch puts in its place,
	// spelt out here apart from main.go.
	gqlgenCall = "\tret := graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {\n"
	inlineCall = "\tret := marshalIdentifierList(ctx, ec.OperationContext, sel, len(v), func(ctx context.Context, i int) graphql.Marshaler {\n"
)

// marshaller is a marshaller as gqlgen writes one, first line fn, calling
// call.
func marshaller(fn, call string) string {
	return fn + "ctx context.Context, sel ast.SelectionSet, v []*graph.Identifier) graphql.Marshaler {\n" + call +
		"\t\treturn nil\n\t})\n\treturn ret\n}\n\n"
}

const other = "func (ec *executionContext) marshalNOther(ctx context.Context, sel ast.SelectionSet, v []*Other) graphql.Marshaler {\n" +
	gqlgenCall + "\t\treturn nil\n\t})\n\treturn ret\n}\n"

func TestPatch(t *testing.T) {
	unpatched := "package gql\n\n" + marshaller(nList, gqlgenCall) + other + "\n" + marshaller(oList, gqlgenCall)
	// Hand-written expectation: both identifier lists' marshallers call
	// the inline helper, the other list keeps gqlgen's call.
	want := "package gql\n\n" + marshaller(nList, inlineCall) + other + "\n" + marshaller(oList, inlineCall)
	path := filepath.Join(t.TempDir(), "generated.go")
	if err := os.WriteFile(path, []byte(unpatched), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := patch(path); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != want {
		t.Fatalf("patched file:\n%s\nwant:\n%s", got, want)
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

// TestPatchHalfPatched: a file where one marshaller was patched by hand
// and the other not gets the other patched.
func TestPatchHalfPatched(t *testing.T) {
	path := filepath.Join(t.TempDir(), "generated.go")
	src := "package gql\n\n" + marshaller(nList, inlineCall) + marshaller(oList, gqlgenCall)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := patch(path); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if want := "package gql\n\n" + marshaller(nList, inlineCall) + marshaller(oList, inlineCall); string(got) != want {
		t.Fatalf("patched file:\n%s\nwant:\n%s", got, want)
	}
}

func TestPatchRefusesUnknownShape(t *testing.T) {
	for name, src := range map[string]string{
		"no marshaller":          "package gql\n",
		"only the non-null list": "package gql\n\n" + marshaller(nList, gqlgenCall),
		"only the nullable list": "package gql\n\n" + marshaller(oList, gqlgenCall),
		"different call": "package gql\n\n" + marshaller(oList, gqlgenCall) +
			nList + "ctx context.Context) graphql.Marshaler {\n\tret := graphql.MarshalSliceConcurrently(ctx, len(v), 8, false, f)\n\treturn ret\n}\n",
		"marshaller twice": "package gql\n\n" + marshaller(nList, gqlgenCall) + marshaller(oList, gqlgenCall) + marshaller(oList, gqlgenCall),
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
	for _, fn := range []string{nList, oList} {
		i := strings.Index(string(src), fn)
		if i < 0 {
			t.Fatalf("gql/generated.go has no marshaller %s...)", fn)
		}
		body := string(src[i:])
		body = body[:strings.Index(body, "\n}\n")]
		if !strings.Contains(body, inlineCall) {
			t.Errorf("gql/generated.go: %s...) calls MarshalSliceConcurrently: run go generate ./resolver", fn)
		}
	}
}
