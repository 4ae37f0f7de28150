package bench

import (
	"math"
	"testing"
)

func mustTruth(t *testing.T, rows []TruthRow) *Truth {
	t.Helper()
	tr, err := NewTruth(rows)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func own(key, person string) TruthRow {
	return TruthRow{Key: key, Role: RoleOwn, Persons: []string{person}}
}

// Person A owns a1..a3, B owns b1..b2, C owns c1; s is shared by A and B.
func fixture(t *testing.T) *Truth {
	return mustTruth(t, []TruthRow{
		own("x:a1", "A"), own("x:a2", "A"), own("x:a3", "A"),
		own("x:b1", "B"), own("x:b2", "B"),
		own("x:c1", "C"),
		{Key: "x:s", Role: RoleShared, Persons: []string{"A", "B"}},
		{Key: "x:null", Role: RoleJunk},
	})
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestScore(t *testing.T) {
	tr := fixture(t)
	// True pairs: A has 3, B has 1: 4 in all.
	cases := []struct {
		name               string
		profileOf          map[string]string
		precision, recall  float64
		overmerged, split  int
		missing            int
		overmergedProfiles int
	}{
		{
			name:      "perfect; shared joins A's profile",
			profileOf: map[string]string{"x:a1": "p1", "x:a2": "p1", "x:a3": "p1", "x:b1": "p2", "x:b2": "p2", "x:c1": "p3", "x:s": "p1"},
			precision: 1, recall: 1,
		},
		{
			// Predicted pairs: C(5,2)=10 in p1, 0 in p3. True among them: 3 (A) + 1 (B).
			name:      "A and B merged",
			profileOf: map[string]string{"x:a1": "p1", "x:a2": "p1", "x:a3": "p1", "x:b1": "p1", "x:b2": "p1", "x:c1": "p3"},
			precision: 0.4, recall: 1,
			overmerged: 2, overmergedProfiles: 1,
		},
		{
			// A split 2+1: 1 of A's 3 pairs found, B's pair found.
			name:      "A split, b2 missing from the store",
			profileOf: map[string]string{"x:a1": "p1", "x:a2": "p1", "x:a3": "p9", "x:b1": "p2", "x:c1": "p3"},
			precision: 1, recall: 0.25,
			split: 2, missing: 1,
		},
		{
			// p1 = a1 a2 c1: pairs 3, true 1. p2 = a3 b1 b2: pairs 3, true 1.
			name:      "two mixed profiles",
			profileOf: map[string]string{"x:a1": "p1", "x:a2": "p1", "x:c1": "p1", "x:a3": "p2", "x:b1": "p2", "x:b2": "p2"},
			precision: 2.0 / 6, recall: 2.0 / 4,
			overmerged: 3, split: 1, overmergedProfiles: 2,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := Score(tr, c.profileOf)
			if q.Scored != 6 {
				t.Errorf("scored %d identifiers, want 6 (shared and junk left out)", q.Scored)
			}
			if !near(q.Precision, c.precision) || !near(q.Recall, c.recall) {
				t.Errorf("precision %.4f recall %.4f, want %.4f %.4f", q.Precision, q.Recall, c.precision, c.recall)
			}
			wantF1 := 2 * c.precision * c.recall / (c.precision + c.recall)
			if !near(q.F1, wantF1) {
				t.Errorf("f1 %.4f, want %.4f", q.F1, wantF1)
			}
			if q.Overmerged != c.overmerged || q.Split != c.split || q.Missing != c.missing {
				t.Errorf("overmerged %d split %d missing %d, want %d %d %d", q.Overmerged, q.Split, q.Missing, c.overmerged, c.split, c.missing)
			}
			if len(q.OvermergedExamples) != c.overmergedProfiles {
				t.Errorf("%d overmerged examples, want %d: %v", len(q.OvermergedExamples), c.overmergedProfiles, q.OvermergedExamples)
			}
		})
	}
}

func TestScoreVisitorSwallowed(t *testing.T) {
	// A visitor's lone anonymous id in someone's profile is an overmerge
	// even though it adds only singleton pairs to the truth.
	tr := mustTruth(t, []TruthRow{own("x:a1", "A"), own("x:a2", "A"), own("x:v", "V1")})
	q := Score(tr, map[string]string{"x:a1": "p1", "x:a2": "p1", "x:v": "p1"})
	if q.Overmerged != 2 || q.Recall != 1 || !near(q.Precision, 1.0/3) {
		t.Errorf("got overmerged %d precision %.3f recall %.3f, want 2, 0.333, 1", q.Overmerged, q.Precision, q.Recall)
	}
}
