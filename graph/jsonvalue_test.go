package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// JSONNumber follows the collector's rule: an integer that fits in int64
// is that int64, any other number a float64.
func TestJSONNumber(t *testing.T) {
	for _, c := range []struct {
		in   string
		want any
	}{
		{"9007199254740993", int64(9007199254740993)},
		{"-9007199254740993", int64(-9007199254740993)},
		{"9223372036854775807", int64(9223372036854775807)},
		{"-9223372036854775808", int64(-9223372036854775808)},
		{"0", int64(0)},
		{"9223372036854775808", 9223372036854775808.0}, // beyond int64
		{"1.5", 1.5},
		{"1e300", 1e300},
		{"1e+300", 1e300},
		{"2.0", 2.0}, // written as a float: a float
		{"1e3", 1000.0},
		{"1e-400", 0.0}, // underflows to zero, as encoding/json reads it
	} {
		got, err := graph.JSONNumber(json.Number(c.in))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("JSONNumber(%s) = %T(%v), %v; want %T(%v)", c.in, got, got, err, c.want, c.want)
		}
	}
	if _, err := graph.JSONNumber("1e400"); err == nil {
		t.Error("JSONNumber(1e400) gives no error")
	}
}

func TestUnmarshalJSON(t *testing.T) {
	const doc = `{"big":9007199254740993,"f":1.5,"l":[-9007199254740993,1e300,{"m":9223372036854775807}],"s":"9007199254740993","n":null,"b":true}`
	want := map[string]any{"big": int64(9007199254740993), "f": 1.5,
		"l": []any{int64(-9007199254740993), 1e300, map[string]any{"m": int64(9223372036854775807)}},
		"s": "9007199254740993", "n": nil, "b": true}
	var m map[string]any
	if err := graph.UnmarshalJSON([]byte(doc), &m); err != nil || !reflect.DeepEqual(m, want) {
		t.Errorf("map: %#v, %v", m, err)
	}
	var a any
	if err := graph.UnmarshalJSON([]byte(doc), &a); err != nil || !reflect.DeepEqual(a, any(want)) {
		t.Errorf("any: %#v, %v", a, err)
	}
	var top any
	if err := graph.UnmarshalJSON([]byte(`9007199254740993`), &top); err != nil || top != any(int64(9007199254740993)) {
		t.Errorf("a bare number: %#v, %v", top, err)
	}
	var l []any
	if err := graph.UnmarshalJSON([]byte(`[9007199254740993, 2.5]`), &l); err != nil || !reflect.DeepEqual(l, []any{int64(9007199254740993), 2.5}) {
		t.Errorf("list: %#v, %v", l, err)
	}
	var ts map[string]graph.TraitValue
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	if err := graph.UnmarshalJSON([]byte(`{"id":{"value":{"x":[9007199254740993]},"source":"crm","at":"2026-01-02T03:04:05.000006Z"},"f":{"value":0.25,"source":"web","at":"2026-01-02T03:04:05.000006Z"}}`), &ts); err != nil {
		t.Fatal(err)
	}
	if want := map[string]graph.TraitValue{"id": {Value: map[string]any{"x": []any{int64(9007199254740993)}}, Source: "crm", At: at}, "f": {Value: 0.25, Source: "web", At: at}}; !reflect.DeepEqual(ts, want) {
		t.Errorf("traits: %#v", ts)
	}
	// null leaves the map nil, as json.Unmarshal does.
	m = nil
	if err := graph.UnmarshalJSON([]byte(`null`), &m); err != nil || m != nil {
		t.Errorf("null: %#v, %v", m, err)
	}
	// What json.Unmarshal refuses, UnmarshalJSON refuses.
	for _, bad := range []string{``, `{`, `{"a":1} x`, `{"a":1}{}`, `{"a":1e400}`, `[1,]`} {
		var m map[string]any
		if err := graph.UnmarshalJSON([]byte(bad), &m); err == nil {
			t.Errorf("UnmarshalJSON(%q) gives no error", bad)
		}
		if err := json.Unmarshal([]byte(bad), &m); err == nil {
			t.Errorf("json.Unmarshal(%q) gives no error: the case is wrong", bad)
		}
	}
	// Other destinations decode as json.Unmarshal does.
	var counts map[string]int
	if err := graph.UnmarshalJSON([]byte(`{"a":3}`), &counts); err != nil || counts["a"] != 3 {
		t.Errorf("counts: %v, %v", counts, err)
	}
}

// A message's numbers go through the collector (ingest.ParseMessage), the
// engine and a store, and read back as sent: in the profile's traits, the
// identifiers' traits, and the event's properties and traits, and in their
// JSON. The reference is the message's text.
func TestIngestedNumbersReadBackExactly(t *testing.T) {
	const obj = `{"accountId":9007199254740993,"neg":-9007199254740993,"max":9223372036854775807,"half":1.5,"huge":1e300,` +
		`"nested":{"ids":[9007199254740993,-9007199254740993,1.5],"deep":{"id":9223372036854775807}}}`
	// The same as encoding/json writes it back: keys sorted, 1e300 as 1e+300.
	const want = `{"accountId":9007199254740993,"half":1.5,"huge":1e+300,"max":9223372036854775807,` +
		`"neg":-9007199254740993,"nested":{"deep":{"id":9223372036854775807},"ids":[9007199254740993,-9007199254740993,1.5]}}`
	recv := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
	env := ingest.Envelope{Source: "web", ReceivedAt: recv}
	identify, err := ingest.ParseMessage([]byte(`{"type":"identify","messageId":"i1","userId":"u-num","timestamp":"2026-02-01T11:00:00Z","traits":`+obj+`}`), env)
	if err != nil {
		t.Fatal(err)
	}
	track, err := ingest.ParseMessage([]byte(`{"type":"track","event":"Paid","messageId":"t1","userId":"u-num","timestamp":"2026-02-01T11:30:00Z","properties":`+obj+`}`), env)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := graph.NewEngine(s, graph.DefaultRules())
		res, err := e.ApplyBatch(ctx, []graph.Event{identify, track})
		if err != nil || res.Stored != 2 {
			t.Fatalf("ApplyBatch: %+v, %v", res, err)
		}
		js := func(what string, v any) {
			t.Helper()
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != want {
				t.Errorf("%s:\n got  %s\n want %s", what, b, want)
			}
		}
		p, err := e.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: "u-num"})
		if err != nil {
			t.Fatal(err)
		}
		ms, err := e.Members(ctx, []string{p.ID})
		if err != nil {
			t.Fatal(err)
		}
		fold := map[string]any{}
		for n, tv := range graph.FoldTraits(ms[p.ID]) {
			fold[n] = tv.Value
		}
		js("the profile's traits", fold)
		for _, m := range ms[p.ID] {
			vals := map[string]any{}
			for n, tv := range m.Traits {
				vals[n] = tv.Value
			}
			js("the traits of "+m.Key, vals)
		}
		jr, err := e.Journeys(ctx, []string{p.ID}, graph.JourneyQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(jr[p.ID]) != 2 {
			t.Fatalf("journey %+v, want 2 events", jr[p.ID])
		}
		for _, ev := range jr[p.ID] {
			if strings.HasSuffix(ev.ID, "/t1") {
				js("the track's properties", ev.Properties)
			} else {
				js("the identify's traits", ev.Traits)
			}
		}
		// The Go values too, so that an int64 is not a float64 that
		// happens to print the same.
		if got := fold["accountId"]; got != any(int64(9007199254740993)) {
			t.Errorf("accountId is %T(%v), want int64(9007199254740993)", got, got)
		}
		if got := fold["half"]; got != any(1.5) {
			t.Errorf("half is %T(%v), want float64(1.5)", got, got)
		}
	})
}

// The cost of exact numbers against json.Unmarshal, on a typical event's
// properties.
func BenchmarkUnmarshalJSON(b *testing.B) {
	doc := []byte(`{"path":"/checkout","title":"Checkout","total":129.95,"items":3,"sku":["a-1","b-2"],"cart":{"id":9007199254740993,"coupon":null,"lines":[{"q":1,"p":9.5},{"q":2,"p":60.2}]},"ok":true}`)
	b.Run("json.Unmarshal", func(b *testing.B) {
		for range b.N {
			var m map[string]any
			if err := json.Unmarshal(doc, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("graph.UnmarshalJSON", func(b *testing.B) {
		for range b.N {
			var m map[string]any
			if err := graph.UnmarshalJSON(doc, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	small := bytes.Replace(doc, []byte("9007199254740993"), []byte("90071"), 1)
	b.Run("graph.UnmarshalJSON, no long number", func(b *testing.B) {
		for range b.N {
			var m map[string]any
			if err := graph.UnmarshalJSON(small, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// UnmarshalJSON of what encoding/json writes gives what the collector's
// rule gives, by the reference here: decode with UseNumber, then each
// number by JSONNumber. Random values of every magnitude, integral floats,
// exponents, -0 and nesting, so both of its paths (with and without a
// literal of 16 digits or more) are compared.
func TestUnmarshalJSONFollowsTheRule(t *testing.T) {
	var exact func(v any) any
	exact = func(v any) any {
		switch x := v.(type) {
		case json.Number:
			n, err := graph.JSONNumber(x)
			if err != nil {
				t.Fatal(err)
			}
			return n
		case map[string]any:
			for k, e := range x {
				x[k] = exact(e)
			}
		case []any:
			for i, e := range x {
				x[i] = exact(e)
			}
		}
		return v
	}
	number := rapid.OneOf(
		rapid.Map(rapid.Int64(), func(i int64) any { return i }),
		rapid.Map(rapid.Int64Range(-1e6, 1e6), func(i int64) any { return float64(i) }),
		rapid.Map(rapid.Float64(), func(f float64) any { return f }),
		rapid.SampledFrom([]any{math.Copysign(0, -1), 1e15, 1e15 - 1, -1e15, 9007199254740993.0, 1e20, 1e21, 1e-7, 0.1, float64(1 << 62)}),
	)
	value := rapid.OneOf(number, rapid.Map(rapid.StringMatching(`[a-z0-9]{0,20}`), func(s string) any { return s }))
	check := func(fail func(string, ...any), doc map[string]any) {
		data, err := json.Marshal(doc)
		if err != nil {
			return // NaN and infinities, which no store holds
		}
		var got, want map[string]any
		if err := graph.UnmarshalJSON(data, &got); err != nil {
			fail("%s: %v", data, err)
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&want); err != nil {
			fail("%s: %v", data, err)
			return
		}
		exact(want)
		if !reflect.DeepEqual(got, want) {
			fail("%s\n got %#v\nwant %#v", data, got, want)
		}
	}
	for _, v := range []any{1e21, -1e21, 1e20, 999999999999999.0, -999999999999999.0, 1e15, math.Copysign(0, -1), 0.5, 1e-7, 123.25, int64(-12)} {
		check(t.Errorf, map[string]any{"v": v, "in": []any{v}})
	}
	rapid.Check(t, func(rt *rapid.T) {
		doc := map[string]any{}
		for i, v := range rapid.SliceOfN(value, 0, 8).Draw(rt, "values") {
			doc[string(rune('a'+i))] = v
		}
		doc["list"] = rapid.SliceOfN(value, 0, 4).Draw(rt, "list")
		check(rt.Fatalf, doc)
	})
}
