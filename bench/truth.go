package bench

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Roles of an identifier in the truth file.
const (
	// RoleOwn: the identifier belongs to exactly one person.
	RoleOwn = "own"
	// RoleShared: several people use it (a family tablet, an office
	// mailbox). It belongs to none of them alone, so quality scoring leaves
	// it out: whichever member's profile it joins is right.
	RoleShared = "shared"
	// RoleJunk: a placeholder the rules drop (null, test@test.com, 0000).
	// Its key is type:raw value, since it has no normalized form; it must
	// never reach the graph.
	RoleJunk = "junk"
)

// TruthRow is one line of truth.csv.
type TruthRow struct {
	// Key is type:normalizedValue as graph.Normalizer computes it (for
	// junk, type:raw value).
	Key string
	// Role is RoleOwn, RoleShared or RoleJunk.
	Role string
	// Persons is the owner for RoleOwn, every user for RoleShared, and
	// empty for RoleJunk. Person ids start with P for people and V for
	// visitors who never identify.
	Persons []string
}

// Truth maps every identifier the events carry to its person.
type Truth struct {
	rows map[string]TruthRow
}

// NewTruth builds a truth from rows; a key given twice is an error.
func NewTruth(rows []TruthRow) (*Truth, error) {
	t := &Truth{rows: make(map[string]TruthRow, len(rows))}
	for _, r := range rows {
		if _, dup := t.rows[r.Key]; dup {
			return nil, fmt.Errorf("truth: key %q is listed twice", r.Key)
		}
		switch r.Role {
		case RoleOwn:
			if len(r.Persons) != 1 {
				return nil, fmt.Errorf("truth: key %q is own but names %d persons", r.Key, len(r.Persons))
			}
		case RoleShared:
			if len(r.Persons) < 2 {
				return nil, fmt.Errorf("truth: key %q is shared but names %d persons", r.Key, len(r.Persons))
			}
		case RoleJunk:
		default:
			return nil, fmt.Errorf("truth: key %q has unknown role %q", r.Key, r.Role)
		}
		t.rows[r.Key] = r
	}
	return t, nil
}

// Row returns the row of key.
func (t *Truth) Row(key string) (TruthRow, bool) {
	r, ok := t.rows[key]
	return r, ok
}

// Rows returns every row, ordered by key.
func (t *Truth) Rows() []TruthRow {
	out := make([]TruthRow, 0, len(t.rows))
	for _, r := range t.rows {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Keys returns the keys with the given role, ordered.
func (t *Truth) Keys(role string) []string {
	var out []string
	for k, r := range t.rows {
		if r.Role == role {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Len is the number of rows.
func (t *Truth) Len() int { return len(t.rows) }

// Write writes the truth as CSV with a header: key,person,role, where
// person lists the persons separated by ';'. Rows are ordered by key.
func (t *Truth) Write(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"key", "person", "role"}); err != nil {
		return err
	}
	for _, r := range t.Rows() {
		if err := cw.Write([]string{r.Key, strings.Join(r.Persons, ";"), r.Role}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadTruth reads what Write wrote.
func ReadTruth(r io.Reader) (*Truth, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 3
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("truth: header: %w", err)
	}
	if strings.Join(head, ",") != "key,person,role" {
		return nil, fmt.Errorf("truth: header is %q, want key,person,role", strings.Join(head, ","))
	}
	var rows []TruthRow
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("truth: %w", err)
		}
		var persons []string
		if rec[1] != "" {
			persons = strings.Split(rec[1], ";")
		}
		rows = append(rows, TruthRow{Key: rec[0], Persons: persons, Role: rec[2]})
	}
	return NewTruth(rows)
}
