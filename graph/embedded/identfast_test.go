package embedded

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/idgraph/cdp/graph"
)

// plainText draws text that JSON writes as it is: printable ASCII without
// quote, backslash or the characters encoding/json escapes for HTML.
func plainText() *rapid.Generator[string] {
	return rapid.StringMatching(`[a-zA-Z0-9 .@:_+\-]{0,12}`)
}

// anyText draws plain text, or text JSON must escape, text of several
// bytes a character, and bytes that are not UTF-8.
func anyText() *rapid.Generator[string] {
	return rapid.OneOf(
		plainText(),
		rapid.SampledFrom([]string{"", `q"uote`, `back\slash`, "<b>&amp;", "tab\there", "nl\n", "Zoë Ågren", "日本", "\xff\x00", "\u2028", "\x7f"}),
		rapid.String(),
	)
}

// traitValue draws a value of a trait: mostly scalars, as the collector's
// identify calls give them, sometimes an object or a list.
func traitValue(plain bool) *rapid.Generator[any] {
	text := anyText()
	if plain {
		text = plainText()
	}
	scalars := []*rapid.Generator[any]{
		rapid.Map(text, func(s string) any { return s }),
		rapid.Map(rapid.Int64Range(-1e14, 1e14), func(n int64) any { return n }),
		rapid.Map(rapid.SampledFrom([]float64{0.5, -2.25, 1e15, 1e20, 1e21, 3.141592653589793, 1e-7, math.Copysign(0, -1), 123456789012.5, math.MaxFloat64}), func(f float64) any { return f }),
		rapid.Map(rapid.Bool(), func(b bool) any { return b }),
		rapid.Just[any](nil),
	}
	if plain {
		return rapid.OneOf(scalars...)
	}
	return rapid.OneOf(append(scalars,
		rapid.Just[any](map[string]any{"a": 1.5, "b": []any{"x", true}}),
		rapid.Just[any]([]any{"x", 2.5}),
		rapid.Map(rapid.Int64(), func(n int64) any { return n }), // long digit runs too
	)...)
}

// identRecordGen draws a record and the key it is stored under; plain
// records hold only what decodeIdentFast must take.
func identRecordGen(plain bool) *rapid.Generator[identCase] {
	return rapid.Custom(func(t *rapid.T) identCase {
		text := anyText()
		if plain {
			text = plainText()
		}
		when := func(label string) time.Time {
			sec := rapid.Int64Range(-1e10, 1e10).Draw(t, label+"Sec")
			return time.Unix(sec, rapid.Int64Range(0, 999_999_999).Draw(t, label+"Nano")).UTC()
		}
		r := identRecord{
			Type:      rapid.SampledFrom([]string{"email", "user_id", "phone", "odd"}).Draw(t, "type"),
			Value:     text.Draw(t, "value"),
			FirstSeen: when("first"),
			LastSeen:  when("last"),
			Profile:   rapid.OneOf(rapid.Just(""), text).Draw(t, "profile"),
		}
		if n := rapid.IntRange(0, 3).Draw(t, "sources"); n > 0 {
			for i := range n {
				r.Sources = append(r.Sources, text.Draw(t, "source"+string(rune('0'+i))))
			}
		}
		if n := rapid.IntRange(0, 4).Draw(t, "traits"); n > 0 {
			r.Traits = map[string]graph.TraitValue{}
			for range n {
				at := when("at")
				if !plain && rapid.Bool().Draw(t, "zoned") {
					at = at.In(time.FixedZone("", 5*3600+1800))
				}
				tv := graph.TraitValue{Value: traitValue(plain).Draw(t, "tv"), Source: text.Draw(t, "src"), At: at}
				if rapid.Bool().Draw(t, "received") { // none on values stored before receipts were kept
					tv.Received = when("recv")
				}
				r.Traits[text.Draw(t, "name")] = tv
			}
		}
		key := graph.IdentifierRef{Type: r.Type, Value: r.Value}.Key()
		if rapid.Bool().Draw(t, "otherKey") {
			key = "other:" + rapid.StringMatching(`[a-z]{1,4}`).Draw(t, "keyValue")
		}
		return identCase{key: key, rec: r}
	})
}

type identCase struct {
	key string
	rec identRecord
}

// sameAsJSON checks that decodeIdent reads v as encoding/json does
// (decodeIdentJSON): the same record, or an error where it errs.
func sameAsJSON(t *rapid.T, key string, v []byte) {
	want, wantErr := decodeIdentJSON(key, v)
	got, err := decodeIdent(key, v)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("record %q: error %v, encoding/json's %v", v, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("record %q:\nread      %#v\nencoding/json reads %#v", v, got, want)
	}
}

// Every record the store writes reads back as encoding/json reads it, and
// the records of plain text and scalar traits take the hand-written path.
func TestDecodeIdentFastMatchesJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		plain := rapid.Bool().Draw(t, "plain")
		c := identRecordGen(plain).Draw(t, "record")
		v, err := encodeIdent(c.key, &c.rec)
		if err != nil {
			t.Fatal(err)
		}
		sameAsJSON(t, c.key, v)
		if plain && !graph.HasLongDigitRun(v) {
			if _, ok := decodeIdentFast(v); !ok {
				t.Fatalf("record %q of plain text and scalar traits was left to encoding/json", v)
			}
		}
	})
}

// A record damaged anywhere (a byte changed, dropped or added) reads as
// encoding/json reads it: the hand-written path takes nothing that
// encoding/json would read otherwise or refuse.
func TestDecodeIdentFastDamaged(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := identRecordGen(rapid.Bool().Draw(t, "plain")).Draw(t, "record")
		v, err := encodeIdent(c.key, &c.rec)
		if err != nil {
			t.Fatal(err)
		}
		for range rapid.IntRange(1, 3).Draw(t, "edits") {
			i := rapid.IntRange(0, len(v)-1).Draw(t, "at")
			b := rapid.SampledFrom([]byte(`{}[],:"\0123456789-+.eEtrufalsn x`)).Draw(t, "byte")
			switch rapid.IntRange(0, 2).Draw(t, "edit") {
			case 0:
				v[i] = b
			case 1:
				v = append(v[:i:i], v[i+1:]...)
			default:
				v = append(v[:i:i], append([]byte{b}, v[i:]...)...)
			}
			if len(v) == 0 {
				v = []byte("{")
			}
		}
		sameAsJSON(t, c.key, v)
	})
}

// Hand-worked records: what each reads as, through whichever path.
func TestDecodeIdentFastExamples(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 5, time.UTC)
	for _, tc := range []struct {
		name, key, rec string
		fast           bool
		want           identRecord
	}{
		{
			name: "minimal", key: "email:a@b.c", fast: true,
			rec:  `{"f":[10,20],"l":[-5,0]}`,
			want: identRecord{Type: "email", Value: "a@b.c", FirstSeen: time.Unix(10, 20).UTC(), LastSeen: time.Unix(-5, 0).UTC()},
		},
		{
			name: "everything", key: "x:y", fast: true,
			rec: `{"f":[1,2],"l":[3,4],"s":["web","crm"],"profile":"p_1","t":{"age":{"value":42,"source":"crm","at":"2026-03-01T12:00:00.000000005Z"},` +
				`"ok":{"value":true,"source":"web","at":"2026-03-01T12:00:00.000000005Z"},"score":{"value":2.5e3,"source":"web","at":"2026-03-01T12:00:00.000000005Z"},` +
				`"x":{"value":null,"source":"","at":"2026-03-01T12:00:00.000000005Z"},"big":{"value":1e15,"source":"s","at":"2026-03-01T12:00:00.000000005Z"}},"type":"a:b","value":"c"}`,
			want: identRecord{Type: "a:b", Value: "c", FirstSeen: time.Unix(1, 2).UTC(), LastSeen: time.Unix(3, 4).UTC(),
				Sources: []string{"web", "crm"}, Profile: "p_1", Traits: map[string]graph.TraitValue{
					"age":   {Value: int64(42), Source: "crm", At: at},
					"ok":    {Value: true, Source: "web", At: at},
					"score": {Value: int64(2500), Source: "web", At: at},
					"x":     {Value: nil, Source: "", At: at},
					"big":   {Value: 1e15, Source: "s", At: at},
				}},
		},
		{
			name: "escaped text goes to encoding/json", key: "email:a", fast: false,
			rec:  `{"f":[0,0],"l":[0,0],"profile":"p\u00e9"}`,
			want: identRecord{Type: "email", Value: "a", FirstSeen: time.Unix(0, 0).UTC(), LastSeen: time.Unix(0, 0).UTC(), Profile: "pé"},
		},
		{
			name: "an object value goes to encoding/json", key: "email:a", fast: false,
			rec: `{"f":[0,0],"l":[0,0],"t":{"o":{"value":{"n":3},"source":"s","at":"2026-03-01T12:00:00.000000005Z"}}}`,
			want: identRecord{Type: "email", Value: "a", FirstSeen: time.Unix(0, 0).UTC(), LastSeen: time.Unix(0, 0).UTC(),
				Traits: map[string]graph.TraitValue{"o": {Value: map[string]any{"n": int64(3)}, Source: "s", At: at}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := decodeIdentFast([]byte(tc.rec)); ok != tc.fast {
				t.Errorf("hand-written path took it: %v, want %v", ok, tc.fast)
			}
			got, err := decodeIdent(tc.key, []byte(tc.rec))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("read %#v\nwant %#v", *got, tc.want)
			}
		})
	}
	bad := []string{`{"f":[0,1000000000],"l":[0,0]}`, `{"f":[0,0],"l":[0,0],"s":["a",]}`, `{"f":[0,0],"l":[0,0]`, `{"f":[01,0],"l":[0,0]}`}
	for _, n := range []string{"01", "-", "1.", "1e", "-01.5", ".5", "1e+", "+1", "1e999"} {
		bad = append(bad, `{"f":[0,0],"l":[0,0],"t":{"n":{"value":`+n+`,"source":"s","at":"2026-03-01T12:00:00Z"}}}`)
	}
	for _, bad := range bad {
		if _, err := decodeIdent("email:a", []byte(bad)); err == nil || !strings.Contains(err.Error(), "decode identifier") {
			t.Errorf("record %s: error %v, want a decode error", bad, err)
		}
	}
}

func BenchmarkDecodeIdent(b *testing.B) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := identRecord{Type: "email", Value: "zoe.agren@example.com", FirstSeen: at, LastSeen: at.Add(time.Hour), Sources: []string{"web", "crm"}, Profile: "p_7f3a9c2e",
		Traits: map[string]graph.TraitValue{
			"email": {Value: "zoe.agren@example.com", Source: "crm", At: at},
			"name":  {Value: "Zoë Ågren", Source: "crm", At: at},
			"phone": {Value: "+33612345678", Source: "store", At: at},
		}}
	v, err := encodeIdent("email:zoe.agren@example.com", &r)
	if err != nil {
		b.Fatal(err)
	}
	for name, dec := range map[string]func(string, []byte) (*identRecord, error){"decodeIdent": decodeIdent, "encoding-json": decodeIdentJSON} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := dec("email:zoe.agren@example.com", v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
