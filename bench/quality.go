package bench

import "sort"

// Quality compares a resolved partition with the truth.
//
// Scoring covers the identifiers the truth marks RoleOwn. Shared identifiers
// belong to no single person and are left out; junk must not be stored at
// all (a stored one shows up in Unknown). Precision, recall and F1 are
// pairwise: over every pair of scored identifiers, a pair is predicted when
// both sit in one profile, and true when both belong to one person.
type Quality struct {
	// Scored is the number of identifiers scored.
	Scored int `json:"scored_identifiers"`
	// Missing are scored identifiers the store does not hold; each counts
	// as a profile of its own.
	Missing int `json:"missing_identifiers"`
	// Precision = true pairs predicted / pairs predicted (1 when none).
	Precision float64 `json:"precision"`
	// Recall = true pairs predicted / true pairs (1 when none).
	Recall float64 `json:"recall"`
	// F1 is the harmonic mean of precision and recall.
	F1 float64 `json:"f1"`
	// Overmerged counts people whose profile holds identifiers of another
	// person: every person of a profile that mixes two or more people.
	Overmerged int `json:"overmerged_people"`
	// Split counts people whose identifiers are spread over two or more
	// profiles.
	Split int `json:"split_people"`
	// OvermergedExamples lists up to ten overmerged profiles as their
	// person ids, for the report.
	OvermergedExamples [][]string `json:"overmerged_examples,omitempty"`
	// Unknown counts stored identifiers the truth does not list: junk that
	// got through, or a value normalized differently from the truth. Score
	// leaves it to the caller, who has the store's full membership.
	Unknown int `json:"unknown_identifiers"`
}

// Score scores profileOf (identifier key -> profile id, "" or absent when
// the store does not hold the key) against truth.
func Score(truth *Truth, profileOf map[string]string) Quality {
	var q Quality
	type cell struct{ profile, person string }
	cells := map[cell]int{}
	perProfile := map[string]int{}
	perPerson := map[string]int{}
	personsOf := map[string]map[string]bool{}  // profile -> persons
	profilesOf := map[string]map[string]bool{} // person -> profiles
	for _, r := range truth.Rows() {
		if r.Role != RoleOwn {
			continue
		}
		q.Scored++
		prof := profileOf[r.Key]
		if prof == "" {
			q.Missing++
			prof = "missing:" + r.Key
		}
		person := r.Persons[0]
		cells[cell{prof, person}]++
		perProfile[prof]++
		perPerson[person]++
		if personsOf[prof] == nil {
			personsOf[prof] = map[string]bool{}
		}
		personsOf[prof][person] = true
		if profilesOf[person] == nil {
			profilesOf[person] = map[string]bool{}
		}
		profilesOf[person][prof] = true
	}
	var tp, predicted, actual float64
	for _, n := range cells {
		tp += pairs(n)
	}
	for _, n := range perProfile {
		predicted += pairs(n)
	}
	for _, n := range perPerson {
		actual += pairs(n)
	}
	q.Precision, q.Recall = 1, 1
	if predicted > 0 {
		q.Precision = tp / predicted
	}
	if actual > 0 {
		q.Recall = tp / actual
	}
	if q.Precision+q.Recall > 0 {
		q.F1 = 2 * q.Precision * q.Recall / (q.Precision + q.Recall)
	}
	over := map[string]bool{}
	profs := make([]string, 0, len(personsOf))
	for p := range personsOf {
		profs = append(profs, p)
	}
	sort.Strings(profs)
	for _, prof := range profs {
		ps := personsOf[prof]
		if len(ps) < 2 {
			continue
		}
		names := make([]string, 0, len(ps))
		for p := range ps {
			over[p] = true
			names = append(names, p)
		}
		sort.Strings(names)
		if len(q.OvermergedExamples) < 10 {
			q.OvermergedExamples = append(q.OvermergedExamples, names)
		}
	}
	q.Overmerged = len(over)
	for _, profs := range profilesOf {
		if len(profs) > 1 {
			q.Split++
		}
	}
	return q
}

func pairs(n int) float64 { return float64(n) * float64(n-1) / 2 }
