package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
)

func generate(t *testing.T, cfg GenConfig) *Dataset {
	t.Helper()
	d, err := Generate(cfg)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", cfg, err)
	}
	return d
}

func TestGenerateIsDeterministic(t *testing.T) {
	cfg := GenConfig{People: 300, Seed: 7}
	dirA, dirB, dirC := t.TempDir(), t.TempDir(), t.TempDir()
	if err := generate(t, cfg).Write(dirA); err != nil {
		t.Fatal(err)
	}
	if err := generate(t, cfg).Write(dirB); err != nil {
		t.Fatal(err)
	}
	other := cfg
	other.Seed = 8
	if err := generate(t, other).Write(dirC); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{EventsFile, TruthFile, RulesFile} {
		a := readFile(t, filepath.Join(dirA, name))
		b := readFile(t, filepath.Join(dirB, name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs with seed %d", name, cfg.Seed)
		}
		if len(a) == 0 {
			t.Errorf("%s is empty", name)
		}
		if name != RulesFile && bytes.Equal(a, readFile(t, filepath.Join(dirC, name))) {
			t.Errorf("%s is the same for seeds 7 and 8", name)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// identifiersOf reads a message the way the Segment collector does:
// userId, anonymousId, traits.email and traits.phone on identify,
// context.traits.email and .phone, and context.device.id.
func identifiersOf(t *testing.T, raw []byte) []graph.IdentifierRef {
	t.Helper()
	var m struct {
		Type        string         `json:"type"`
		UserID      string         `json:"userId"`
		AnonymousID string         `json:"anonymousId"`
		Traits      map[string]any `json:"traits"`
		Context     struct {
			Traits map[string]any `json:"traits"`
			Device struct {
				ID string `json:"id"`
			} `json:"device"`
		} `json:"context"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("message %s: %v", raw, err)
	}
	traits, ctxTraits := strs(m.Traits), strs(m.Context.Traits)
	var out []graph.IdentifierRef
	add := func(typ, v string) {
		if v != "" {
			out = append(out, graph.IdentifierRef{Type: typ, Value: v})
		}
	}
	add(graph.TypeUserID, m.UserID)
	add(graph.TypeAnonymousID, m.AnonymousID)
	if m.Type == "identify" {
		add(graph.TypeEmail, traits["email"])
		add(graph.TypePhone, traits["phone"])
	}
	add(graph.TypeEmail, ctxTraits["email"])
	add(graph.TypePhone, ctxTraits["phone"])
	add(graph.TypeDeviceID, m.Context.Device.ID)
	return out
}

func strs(m map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

func TestTruthCoversEveryIdentifierUsed(t *testing.T) {
	d := generate(t, GenConfig{People: 2000, Seed: 3})
	rules, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	norm := graph.NewNormalizer(rules)
	used := map[string]bool{}
	for _, raw := range d.Messages {
		for _, ref := range identifiersOf(t, raw) {
			n, why := norm.Normalize(ref)
			key := n.Key()
			if why != "" {
				key = ref.Type + ":" + ref.Value
			}
			row, ok := d.Truth.Row(key)
			switch {
			case !ok:
				t.Fatalf("identifier %s (sent as %q) is not in the truth", key, ref.Value)
			case why != "" && row.Role != RoleJunk:
				t.Fatalf("%s is dropped (%s) but the truth says %s", key, why, row.Role)
			case why == "" && row.Role == RoleJunk:
				t.Fatalf("%s is junk in the truth but the rules keep it", key)
			}
			used[key] = true
		}
	}
	for _, r := range d.Truth.Rows() {
		if !used[r.Key] {
			t.Errorf("truth row %s (%s) is carried by no message", r.Key, r.Role)
		}
	}
}

func TestPopulationPlantsEveryTrap(t *testing.T) {
	d := generate(t, GenConfig{People: 2000, Seed: 11})
	s := d.Stats
	for name, n := range map[string]int{
		"family devices": s.FamilyDevices, "office emails": s.OfficeEmails, "phone changes": s.PhoneChanges,
		"dotted emails": s.DottedEmails, "junk messages": s.JunkMessages, "visitors": s.Visitors, "duplicates": s.Duplicates,
	} {
		if n == 0 {
			t.Errorf("no %s in a population of 2000", name)
		}
	}
	if got := len(d.Truth.Keys(RoleShared)); got != s.FamilyDevices*2+s.OfficeEmails {
		t.Errorf("%d shared keys, want %d (device and app id per family, one mailbox per office)", got, s.FamilyDevices*2+s.OfficeEmails)
	}
	if len(d.Truth.Keys(RoleJunk)) == 0 {
		t.Error("no junk keys in the truth")
	}
	ids := map[string]int{}
	for _, m := range d.Messages {
		var v struct {
			MessageID string `json:"messageId"`
		}
		if err := json.Unmarshal(m, &v); err != nil {
			t.Fatal(err)
		}
		ids[v.MessageID]++
	}
	if dup := len(d.Messages) - len(ids); dup != s.Duplicates {
		t.Errorf("%d repeated messageIds, want %d duplicates", dup, s.Duplicates)
	}
	if s.Messages != len(d.Messages) || len(d.Messages) < 2000*EventsPerPerson {
		t.Errorf("%d messages (stats say %d), want at least %d", len(d.Messages), s.Messages, 2000*EventsPerPerson)
	}
}

func TestEventsTargetIsMet(t *testing.T) {
	d := generate(t, GenConfig{People: 100, Events: 5000, Seed: 1})
	if len(d.Messages) != 5000 {
		t.Errorf("%d messages, want 5000", len(d.Messages))
	}
}

func TestVariantsNormalizeToOneKey(t *testing.T) {
	rules, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	norm := graph.NewNormalizer(rules)
	g := &generator{rng: newRand(5), used: map[string]bool{}}
	for _, italian := range []bool{false, true} {
		ph := g.phone(italian)
		want := ""
		for i := 0; i < 200; i++ {
			f := g.format(ph)
			n, why := norm.Normalize(graph.IdentifierRef{Type: graph.TypePhone, Value: f})
			if why != "" {
				t.Fatalf("phone %q dropped: %s", f, why)
			}
			if want == "" {
				want = n.Value
			}
			if n.Value != want {
				t.Fatalf("phone %q normalizes to %s, another format of it to %s", f, n.Value, want)
			}
		}
		if italian && !strings.HasPrefix(want, "+39") || !italian && !strings.HasPrefix(want, "+1") {
			t.Errorf("italian=%v number normalizes to %s", italian, want)
		}
	}
	for i := 0; i < 200; i++ {
		v := g.variant("Maria.Rossi@gmail.com")
		n, why := norm.Normalize(graph.IdentifierRef{Type: graph.TypeEmail, Value: v})
		if why != "" || n.Value != "maria.rossi@gmail.com" {
			t.Fatalf("email variant %q normalizes to %q (%s)", v, n.Value, why)
		}
	}
}

func TestTruthRoundTrip(t *testing.T) {
	d := generate(t, GenConfig{People: 200, Seed: 2})
	var buf bytes.Buffer
	if err := d.Truth.Write(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadTruth(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if back.Len() != d.Truth.Len() {
		t.Fatalf("read %d rows, wrote %d", back.Len(), d.Truth.Len())
	}
	for _, r := range d.Truth.Rows() {
		b, _ := back.Row(r.Key)
		if b.Role != r.Role || strings.Join(b.Persons, ";") != strings.Join(r.Persons, ";") {
			t.Errorf("row %s: read %+v, wrote %+v", r.Key, b, r)
		}
	}
	if _, err := ReadTruth(strings.NewReader("key,person,role\nemail:a@b.c,P1;P2,own\n")); err == nil {
		t.Error("an own key naming two persons was accepted")
	}
}
