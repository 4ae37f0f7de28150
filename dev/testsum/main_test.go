package main

import (
	"slices"
	"testing"
)

// TestSlowestListsLeavesLongestFirst: a parent's time is its subtests',
// so only tests without subtests are listed, longest first, ties by id.
func TestSlowestListsLeavesLongestFirst(t *testing.T) {
	times := []timing{
		{"p TestA/embedded", 1},
		{"p TestA/neo4j", 200},
		{"p TestA", 201},
		{"p TestB", 5},
		{"q TestC/x/y", 7},
		{"q TestC/x", 7},
		{"q TestC", 7},
		{"q TestD", 5},
	}
	var got []string
	for _, x := range slowest(times, 3) {
		got = append(got, x.id)
	}
	want := []string{"p TestA/neo4j", "q TestC/x/y", "p TestB"}
	if !slices.Equal(got, want) {
		t.Errorf("slowest = %v, want %v", got, want)
	}
	if n := len(slowest(times, 10)); n != 5 {
		t.Errorf("%d leaves listed, want 5", n)
	}
}
