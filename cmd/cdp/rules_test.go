package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// A rules file is read here, outside graph: its errors name the file and
// where in it the mistake is.
func TestLoadRules(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{"defaultRegion": "IT", "types": {"loyalty_id": {"priority": 6, "limit": 2}}}`)
	r, err := loadRules(good)
	if err != nil {
		t.Fatal(err)
	}
	if r.DefaultRegion != "IT" || r.Types["loyalty_id"] == nil || r.Types["loyalty_id"].Limit != 2 {
		t.Errorf("rules from %s: region %q, loyalty_id %+v", good, r.DefaultRegion, r.Types["loyalty_id"])
	}
	if r, err := loadRules(""); err != nil || r.DefaultRegion != graph.DefaultRules().DefaultRegion {
		t.Errorf("no file: %+v, %v; want the built-in rules", r, err)
	}
	for _, tc := range []struct {
		path string
		want []string
	}{
		{write("syntax.json", "{\n  \"types\": {\n    \"email\": {\"limit\": 3,}\n  }\n}"), []string{"syntax.json", "line 3, column"}},
		{write("type.json", "{\n  \"defaultRegion\": 7\n}"), []string{"type.json", "line 2, column", `field "defaultRegion"`}},
		{write("field.json", `{"types": {"email": {"limt": 3}}}`), []string{"field.json", "line 1, column", `"limt"`}},
		{filepath.Join(dir, "missing.json"), []string{"rules file", "missing.json"}},
		// One JSON object and nothing else: not null (which would start
		// the service on the built-in rules), an array, or a second value.
		{write("null.json", "null\n"), []string{"null.json", "the file must hold one JSON object", "not null"}},
		{write("array.json", "[]"), []string{"array.json", "the file must hold one JSON object", "not an array"}},
		{write("twice.json", "{\"types\": {\"email\": {\"limit\": 2},\n  \"email\": {\"limit\": 3}}}"), []string{"twice.json", "line 2, column 3", `field "types.email" is given twice`}},
		{write("empty.json", ""), []string{"empty.json", "empty: the file must hold one JSON object"}},
		{write("trailing.json", "{\"maxIdentifiers\": 3}\n}\n"), []string{"trailing.json", "line 2, column 1", "more after the rules object"}},
	} {
		_, err := loadRules(tc.path)
		if err == nil {
			t.Errorf("%s: no error", tc.path)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", filepath.Base(tc.path), err, w)
			}
		}
	}
}
