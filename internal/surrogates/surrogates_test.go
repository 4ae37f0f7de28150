package surrogates

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestEscaped(t *testing.T) {
	for _, c := range []struct {
		text string
		want bool
	}{
		{`"plain"`, false},
		{`"\u00e9 \u20ac"`, false},
		{`"\ud83d\ude00"`, false}, // a pair: U+1F600
		{`"\uD83D\uDE00"`, false}, // upper-case hex
		{`"\ud800"`, true},
		{`"\udc00"`, true},
		{`"x\ud800y"`, true},
		{`"\ud800\u0041"`, true},       // high half, then not a low half
		{`"\ude00\ud83d"`, true},       // halves in the wrong order
		{`"\ud83d\ude00\ude00"`, true}, // a pair, then a low half alone
		{`"\\ud800"`, false},           // an escaped backslash, then text
		{`"\\\ud800"`, true},           // an escaped backslash, then an escape
		{`"\ud800`, true},
		{`"\u12"`, false},
	} {
		if got := Escaped([]byte(c.text)); got != c.want {
			t.Errorf("Escaped(%s) = %v, want %v", c.text, got, c.want)
		}
	}
}

func TestStrings(t *testing.T) {
	raw := []byte(`{"userId":"\ud800","anonymousId":"a-\udc00-b","ok":"\ud83d\ude00",
		"context":{"externalIds":[{"id":"fine","type":"t"},{"type":"t","id":"\udbff"}],"traits":{"email":"\\ud800"}},
		"list":["x","\ud800\ud800",1,null,{"k\ud800":"v"}],"n":1.5}`)
	if !json.Valid(raw) {
		t.Fatal("test input is not JSON")
	}
	got, err := Strings(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := []Found{
		{Path: []string{"userId"}, Value: "\xed\xa0\x80", Lossy: "\ufffd"},
		{Path: []string{"anonymousId"}, Value: "a-\xed\xb0\x80-b", Lossy: "a-\ufffd-b"},
		{Path: []string{"context", "externalIds", "1", "id"}, Value: "\xed\xaf\xbf", Lossy: "\ufffd"},
		{Path: []string{"list", "1"}, Value: "\xed\xa0\x80\xed\xa0\x80", Lossy: "\ufffd\ufffd"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Strings =\n%q\nwant\n%q", got, want)
	}
	// Two different lone surrogates keep different values.
	a, errA := Strings([]byte(`"\ud800"`))
	b, errB := Strings([]byte(`"\udc00"`))
	if errA != nil || errB != nil || len(a) != 1 || len(b) != 1 || a[0].Value == b[0].Value {
		t.Fatalf("lone surrogates: %q and %q (%v, %v)", a, b, errA, errB)
	}
	if a[0].Lossy != "\ufffd" || b[0].Lossy != "\ufffd" {
		t.Fatalf("lossy forms %q and %q, want what encoding/json makes: U+FFFD", a[0].Lossy, b[0].Lossy)
	}
	if f, err := Strings([]byte(`{"a":"\u00e9\n\"\\\/"}`)); f != nil || err != nil {
		t.Fatalf("no unpaired escape: %q %v", f, err)
	}
	got, err = Strings([]byte(`["\n\t\"\\\/\b\f\r\u00e9\ud83d\ude00\ud800"]`))
	if err != nil || len(got) != 1 || got[0].Value != "\n\t\"\\/\b\f\r\u00e9\U0001F600\xed\xa0\x80" {
		t.Fatalf("escapes decoded as %q (%v)", got, err)
	}
}

// Lossy of the WTF-8 form equals what encoding/json decodes from the same
// literal, the reference here.
func TestLossy(t *testing.T) {
	for _, lit := range []string{
		`"plain"`, `"é €"`, `"\ud800"`, `"a\udc00b"`, `"\udc00\ud800"`,
		`"\ud800\ud800x"`, `"\ud83d\ude00 \ud83d"`, `"\udbff\u00e9"`, `""`,
	} {
		var want string
		if err := json.Unmarshal([]byte(lit), &want); err != nil {
			t.Fatal(err)
		}
		kept := unquote([]byte(lit))
		if got := Lossy(kept); got != want {
			t.Errorf("Lossy(unquote(%s)) = %q, want %q as encoding/json decodes it", lit, got, want)
		}
	}
	if got := Lossy("a\xffb"); got != "a\ufffdb" {
		t.Errorf("Lossy of a stray byte = %q", got)
	}
}
