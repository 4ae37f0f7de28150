package resolver

// gqlgen finds ../gqlgen.yml by walking up from this folder and runs there.
//go:generate go tool gqlgen generate
