package resolver

// gqlgen finds ../gqlgen.yml by walking up from this folder and runs there.
// gqlpatch then marshals lists of identifiers without a goroutine per
// element where nothing in them loads (gql/inline.go).
//go:generate go tool gqlgen generate
//go:generate go run ../internal/gqlpatch ../gql/generated.go
