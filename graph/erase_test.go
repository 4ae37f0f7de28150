package graph

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func annErased() *Erased {
	n := NewNormalizer(DefaultRules())
	return NewErased(n, []Identifier{
		{Key: "email:ann@example.com", Type: "email", Value: "ann@example.com"},
		{Key: "phone:+14155550167", Type: "phone", Value: "+14155550167"},
		{Key: "user_id:ann-42", Type: "user_id", Value: "ann-42", Traits: map[string]TraitValue{
			"name": {Value: "Annabel  Quist"}, "plan": {Value: "gold"}, "age": {Value: json.Number("42")},
			"address": {Value: map[string]any{"street": "17 Quietstreet Lane", "city": "Lyon", "lines": []any{"Flat 4B, north wing"}}},
		}},
		{Key: "user_id:7", Type: "user_id", Value: "7"},
	})
}

func TestErasedMatch(t *testing.T) {
	x := annErased()
	for _, c := range []struct {
		v    any
		want bool
	}{
		{" Ann@Example.COM ", true},       // generic normal form
		{"ANN@EXAMPLE.COM", true},         // email normalization
		{"(415) 555-0167", true},          // phone normalization
		{json.Number("4155550167"), true}, // a number sent for a phone
		{"ANN-42", true},                  // user ids compared case-insensitively
		{"annabel quist", true},           // a personal trait, spaces folded
		{"Annabel\u00a0Quist", true},      // NFKC folds the no-break space
		{"7", true},                       // a short id matches whole
		{7.0, true},                       // and as a number
		{"gold", false},                   // not a personal trait
		{"17 QUIETSTREET LANE", true},     // inside an object-valued personal trait
		{"flat 4b, north wing", true},     // and in a list in it
		{"Lyon", false},                   // shorter than 5: not collected from an object
		{json.Number("42"), false},        // age is not personal either
		{"ann", false},
		{"ann@example.org", false},
		{"+14155550168", false},
		{true, false},
		{nil, false},
	} {
		if got := x.Match(c.v); got != c.want {
			t.Errorf("Match(%#v) = %v, want %v", c.v, got, c.want)
		}
	}
	var none *Erased
	if none.Match("ann@example.com") {
		t.Error("a nil Erased matched")
	}
}

func TestErasedScrubText(t *testing.T) {
	x := annErased()
	wantScrubbed(t, x, map[string]string{
		"event web/m1 linked user_id:ann-42 and email:ann@example.com": "event web/m1 linked [erased] and [erased]",
		"Request from ANN@EXAMPLE.COM, ticket 7":                       "Request from [erased], ticket 7",
		"unlinked user_id:7 and phone:+14155550167: mistake":           "unlinked [erased] and [erased]: mistake",
		"call ann-42 about order 7":                                    "call [erased] about order 7",
		"nothing here":                                                 "nothing here",
		"Straße ANN@EXAMPLE.COM":                                       "Straße [erased]",
		// Lowercasing İ changes its length: the rest keeps its case.
		"İstanbul ANN@EXAMPLE.COM": "İstanbul [erased]",
		"Dear Annabel   Quist,":    "Dear [erased],", // spaces folded
		"İzmir":                    "İzmir",
		"unlinked user_id:7\u00a0": "unlinked [erased]\u00a0",
		// Word boundaries are not respected: a longer word that holds an
		// erased value loses that part, which is never left readable.
		"Annabel Quistgaard": "[erased]gaard",
		"see ann-42b":        "see [erased]b",
	})
}

func TestErasedScrubMap(t *testing.T) {
	x := annErased()
	in := map[string]any{
		"email":   " Ann@Example.com",
		"plan":    "gold",
		"contact": map[string]any{"phone": "415-555-0167", "city": "Lyon", "tags": []any{"a", "ann-42", json.Number("1")}},
		"message": "write to ann@example.com today",
		"list":    []any{"annabel quist"},
		"n":       json.Number("1.50"),
		"ann-42":  "key is an erased value",
	}
	got, changed := x.scrubMap(in)
	want := map[string]any{
		"plan":    "gold",
		"contact": map[string]any{"city": "Lyon", "tags": []any{"a", json.Number("1")}},
		"message": "write to [erased] today",
		"list":    []any{},
		"n":       json.Number("1.50"),
	}
	if !changed || !reflect.DeepEqual(got, want) {
		t.Errorf("scrubMap = %#v (changed %v)\nwant %#v", got, changed, want)
	}
	if in["email"] != " Ann@Example.com" || len(in) != 7 {
		t.Error("scrubMap modified its input")
	}
	clean := map[string]any{"plan": "gold", "n": json.Number("3")}
	if got, changed := x.scrubMap(clean); changed || !reflect.DeepEqual(got, clean) {
		t.Errorf("scrubMap of a map with nothing erased = %v, changed %v", got, changed)
	}
}

func TestErasedScrubTraitsAndChanges(t *testing.T) {
	x := annErased()
	ts := map[string]TraitValue{"email": {Value: "ann@example.com", Source: "crm"}, "plan": {Value: "gold", Source: "crm"}}
	got, n := x.scrubTraits(ts)
	if n != 1 || !reflect.DeepEqual(got, map[string]TraitValue{"plan": {Value: "gold", Source: "crm"}}) {
		t.Errorf("scrubTraits = %v, %d; want plan only, 1", got, n)
	}
	c := ProfileChange{Kind: ChangeMerge, From: "p_a", Into: "p_b", Reason: "event m linked user_id:ann-42 and anonymous_id:x",
		Members: []string{MemberDigest("user_id:ann-42"), MemberDigest("anonymous_id:x")}}
	digests := map[string]bool{MemberDigest("user_id:ann-42"): true}
	nc, ch := x.scrubChange(c, digests)
	if !ch || nc.Reason != "event m linked [erased] and anonymous_id:x" || !reflect.DeepEqual(nc.Members, []string{MemberDigest("anonymous_id:x")}) {
		t.Errorf("scrubChange = %+v, %v", nc, ch)
	}
	if len(c.Members) != 2 {
		t.Error("scrubChange modified its input")
	}
}

// A short erased value is removed only where it stands for a person: Bob's
// quantity of 7 stays when the user id "7" is erased, and so does a "7"
// inside a sentence; under a user id or name field it goes.
func TestErasedSparesShortValuesElsewhere(t *testing.T) {
	x := annErased()
	in := map[string]any{
		"quantity": json.Number("7"), "price": "7", "note": "order 7", "tags": []any{"7"},
		"user_id": "7", "userId": 7.0, "friend": map[string]any{"user_id": json.Number("7"), "age": 7},
		"phone": "4155550167", "digits": json.Number("4155550167"),
	}
	got, changed := x.scrubMap(in)
	want := map[string]any{
		"quantity": json.Number("7"), "price": "7", "note": "order 7", "tags": []any{"7"},
		"friend": map[string]any{"age": 7},
	}
	if !changed || !reflect.DeepEqual(got, want) {
		t.Errorf("scrubMap = %#v\nwant %#v", got, want)
	}
	for _, c := range []struct {
		field string
		v     any
		want  bool
	}{
		{"quantity", "7", false}, {"User ID", "7", true}, {"first_name", "7", true}, {"firstName", "7", true},
		{"x", "ann@example.com", true}, {"x", "(415) 555-0167", true},
	} {
		if got := x.MatchField(c.field, c.v); got != c.want {
			t.Errorf("MatchField(%q, %v) = %v, want %v", c.field, c.v, got, c.want)
		}
	}
}

// An erased value is found inside a longer text whatever Unicode form
// either is written in: a name sent decomposed (e and a combining
// diaeresis, as some keyboards and systems send it) is found written
// decomposed or composed, in capitals, or in compatibility characters
// (fullwidth letters), and so is a name sent composed.
func TestErasedScrubTextUnicodeForms(t *testing.T) {
	n := NewNormalizer(DefaultRules())
	for _, name := range []string{"Zoe\u0308 Quillfe\u0301ather", "Zo\u00eb Quillf\u00e9ather"} {
		x := NewErased(n, []Identifier{{Key: "user_id:zq-1", Type: "user_id", Value: "zq-1", Traits: map[string]TraitValue{
			"name": {Value: name}, "last_name": {Value: "Νικόλαος Παππάς"}}}})
		for in, want := range map[string]string{
			"met Zoe\u0308 Quillfe\u0301ather today":   "met [erased] today",
			"met Zo\u00eb Quillf\u00e9ather today":     "met [erased] today",
			"met ZOE\u0308  QUILLFE\u0301ATHER today":  "met [erased] today",
			"met ZO\u00cb QUILLF\u00c9ATHER":           "met [erased]",
			"met \uff3a\uff4f\u00eb Quillf\u00e9ather": "met [erased]",
			"Zoe Quillfeather":                         "Zoe Quillfeather", // other letters
			"Zoe\u0308 Quillfe\u0301athers":            "[erased]s",
			// Case folded as Unicode does: Σ, σ and the final ς are one.
			"Νικόλαος Παππάς and ΝΙΚΌΛΑΟΣ ΠΑΠΠΆΣ":                                                  "[erased] and [erased]",
			"\u00e9t\u00e9 Zoe\u0308 Quillfe\u0301ather, \u00e9t\u00e9 Zo\u00eb Quillf\u00e9ather": "\u00e9t\u00e9 [erased], \u00e9t\u00e9 [erased]",
		} {
			if got := x.ScrubText(in); got != want {
				t.Errorf("erased %q: ScrubText(%q) = %q, want %q", name, in, got, want)
			}
		}
	}
}

// An erased phone is found inside a longer text however the number is
// written there, as its own normalization reads it: national or
// international, with spaces, dashes, dots or brackets. Other numbers,
// and the text around it, stay.
func TestErasedScrubTextPhoneFormats(t *testing.T) {
	x := annErased() // phone +14155550167, default region US
	wantScrubbed(t, x, map[string]string{
		"call (415) 555-0167 today":        "call [erased] today",
		"call 415.555.0167":                "call [erased]",
		"tel:+1-415-555-0167, after 6":     "tel:[erased], after 6",
		"(415) 555 0167 or (415) 555-0168": "[erased] or (415) 555-0168",
		"order 4155550167x2":               "order [erased]x2",
		"+1 (415) 555-0167":                "[erased]",
		"order 4155550168 of 2026-01-01":   "order 4155550168 of 2026-01-01",
		"415 555 0168 415 555 0167":        "415 555 0168 [erased]",
		"no number here, 12 items at 3.50": "no number here, 12 items at 3.50",
	})
}

// A trait whose value held an erased value keeps its times, the receipt
// too, so that it keeps its place against the person's other values.
func TestErasedScrubTraitsKeepsTheTimes(t *testing.T) {
	x := annErased()
	at, received := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 10, 0, 5, 0, time.UTC)
	ts := map[string]TraitValue{"note": {Value: "write to ann@example.com today", Source: "crm", At: at, Received: received}}
	got, n := x.scrubTraits(ts)
	want := TraitValue{Value: "write to [erased] today", Source: "crm", At: at, Received: received}
	if n != 1 || !reflect.DeepEqual(got["note"], want) {
		t.Errorf("scrubTraits = %+v, %d; want note %+v, 1", got, n, want)
	}
}

// An erased value is found percent-encoded, as a URL carries it (in
// either case of hex digit, a space as %20 or, as a form writes it, as
// '+'), and its escapes are replaced with it; the rest of the URL, other
// escapes and a '+' that is no space in the value stay.
func TestErasedScrubTextPercentEncoded(t *testing.T) {
	x := annErased()
	wantScrubbed(t, x, map[string]string{
		"https://shop.example/w?email=ann%40example.com&src=mail": "https://shop.example/w?email=[erased]&src=mail",
		"?to=ANN%40EXAMPLE.COM":                                   "?to=[erased]",
		"?to=ann%40example%2ecom":                                 "?to=[erased]",
		"/u/Annabel%20Quist/inbox":                                "/u/[erased]/inbox",
		"?n=Annabel+Quist&q=a+b":                                  "?n=[erased]&q=a+b",
		"?id=ann-42%26x%3D1":                                      "?id=[erased]%26x%3D1",
		"?q=email%3Aann%40example.com":                            "?q=[erased]",
		"50% off, 100%":                                           "50% off, 100%",
		"?q=ann%40example.org":                                    "?q=ann%40example.org",
		"tel:%2B1%20415%20555%200167":                             "tel:[erased]",
		"?phone=%2B14155550167&n=2":                               "?phone=[erased]&n=2",
		"?phone=%28415%29+555-0167&n=2":                           "?phone=[erased]&n=2",
		"?phone=%28415%29+555-0168":                               "?phone=%28415%29+555-0168",
	})
}

// A URL carried inside another's query (a click tracker's redirect, a
// login's return address) is encoded twice: its %40 reads %2540. An
// erased value is found so too, and its escapes go with it.
func TestErasedScrubTextPercentEncodedTwice(t *testing.T) {
	x := annErased()
	wantScrubbed(t, x, map[string]string{
		"https://t.example/r?u=https%3A%2F%2Fshop.example%2Fw%3Femail%3Dann%2540example.com%26src%3Dmail": "https://t.example/r?u=https%3A%2F%2Fshop.example%2Fw%3Femail%3D[erased]%26src%3Dmail",
		"?next=%2Fu%2FAnnabel%2520Quist": "?next=%2Fu%2F[erased]",
		"?next=%2Fu%2FAnnabel%252BQuist": "?next=%2Fu%2F[erased]",
		"?n=100%2525":                    "?n=100%2525",
	})
}

// A form's query (an HTML form, URLSearchParams) writes a space as '+' and
// a '+' as %2B, so a phone with its country code reads
// %2B44+20+7946+0958: decoded as a form decodes it, '+' first, it is
// +44 20 7946 0958. Read with every '+' a space, the country code's is
// lost and a number outside the default region is no phone.
func TestErasedScrubTextFormEncodedPhone(t *testing.T) {
	x := NewErased(NewNormalizer(DefaultRules()), []Identifier{
		{Key: "phone:+442079460958", Type: "phone", Value: "+442079460958"},
		{Key: "email:ann+shop@example.com", Type: "email", Value: "ann+shop@example.com"},
	})
	wantScrubbed(t, x, map[string]string{
		"?phone=%2B44+20+7946+0958&n=2":                           "?phone=[erased]&n=2",
		"?phone=%2B44%2020%207946%200958":                         "?phone=[erased]",
		"?phone=%2B44+20+7946+0959":                               "?phone=%2B44+20+7946+0959",
		"?e=ann%2Bshop%40example.com&n=Ann+Lee":                   "?e=[erased]&n=Ann+Lee",
		"?u=%2Fcall%3Fphone%3D%252B44%2B20%2B7946%2B0958%26n%3D2": "?u=%2Fcall%3Fphone%3D[erased]%26n%3D2",
	})
}

// wantScrubbed fails t for each text of cases (text: what it must read
// once scrubbed) that x scrubs otherwise.
func wantScrubbed(t *testing.T, x *Erased, cases map[string]string) {
	t.Helper()
	for in, want := range cases {
		if got := x.ScrubText(in); got != want {
			t.Errorf("ScrubText(%q) = %q, want %q", in, got, want)
		}
	}
}
