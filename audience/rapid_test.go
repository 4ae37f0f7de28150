package audience

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
	"pgregory.net/rapid"
)

// The small universe random filters and subjects draw from, so that
// conditions often hit.
var (
	genTraits      = []string{"a", "b", "c"}
	genComputed    = []string{"orders", "ltv"}
	genIDTypes     = []string{"email", "phone", "user_id"}
	genEventNames  = []string{"Order", "View"}
	genEventTypes  = []string{"track", "page"}
	genPaths       = []string{"p", "q", "q.r", "q.r.s", "p.x"}
	genPurposes    = []string{"email", "advertising"}
	genAudienceIDs = []string{knownAudience, "seg_11111111111111111111111111111111"}
	genWithins     = []string{"P1M", "P1D", "P1Y1M", "PT36H", "P1Y", "P1W", "P2DT3H", "PT1S"}
	// genOps interleaves the ops: rapid favours a list's first elements.
	genOps      = []Op{OpEQ, OpContains, OpGT, OpIN, OpStartsWith, OpNEQ, OpLTE, OpExists, OpLT, OpNotExists, OpGTE}
	genStates   = []privacy.State{privacy.StateGranted, privacy.StateDenied, privacy.StateWithdrawn, privacy.StateExpired, privacy.StateUnknown}
	genStatuses = []privacy.Status{privacy.StatusGranted, privacy.StatusDenied, privacy.StatusWithdrawn}
	// genNow is a month end, so that month windows clamp.
	genNow = time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
)

func genEnv() Env {
	p, err := privacy.NewPurposes(graph.ConsentRules{Purposes: genPurposes})
	if err != nil {
		panic(err)
	}
	return Env{
		Purposes: p,
		Computed: func(n string) bool { return n == "orders" || n == "ltv" },
		Audience: func(id string) bool { return id == genAudienceIDs[0] || id == genAudienceIDs[1] },
	}
}

// palette is the handful of values one example's filter and subjects
// share, so that comparisons often hit: canonical values (string, float64,
// bool) that draws then dress in the Go types values arrive in.
type palette []any

// paletteBases interleaves kinds: rapid favours a list's first elements.
var paletteBases = []any{1.0, "a", true, "ab", 2.5, "ba", 0.0, "", false, -1.0, "A", 2.0, "é", 0.5, "b"}

func drawPalette(t *rapid.T) palette {
	return rapid.SliceOfNDistinct(rapid.SampledFrom(paletteBases), 2, 4, func(v any) string { return fmt.Sprintf("%T:%v", v, v) }).Draw(t, "palette")
}

// scalar draws one of the palette's values in one of its Go types.
func (p palette) scalar(t *rapid.T, label string) any {
	v := rapid.SampledFrom(p).Draw(t, label)
	f, ok := v.(float64)
	if !ok {
		return v
	}
	reprs := []any{f, json.Number(strconv.FormatFloat(f, 'f', -1, 64)), float32(f)}
	if f == math.Trunc(f) {
		reprs = append(reprs, int(f), int64(f), json.Number(strconv.FormatFloat(f, 'f', 1, 64)))
		if f >= 0 {
			reprs = append(reprs, uint8(f))
		}
	}
	return rapid.SampledFrom(reprs).Draw(t, label+".repr")
}

// value draws a value a profile or event may hold: a scalar, null, a
// list or an object.
func (p palette) value(t *rapid.T, label string, depth int) any {
	switch k := rapid.IntRange(0, 9).Draw(t, label+".kind"); {
	case k <= 5:
		return p.scalar(t, label)
	case k == 6:
		return nil
	case k <= 8:
		n := rapid.IntRange(0, 3).Draw(t, label+".len")
		var strs []string
		for _, v := range p {
			if s, ok := v.(string); ok {
				strs = append(strs, s)
			}
		}
		if len(strs) > 0 && rapid.Bool().Draw(t, label+".strings") {
			l := make([]string, n)
			for i := range l {
				l[i] = rapid.SampledFrom(strs).Draw(t, label+".s")
			}
			return l
		}
		l := make([]any, n)
		for i := range l {
			l[i] = p.scalar(t, label+".e")
		}
		return l
	default:
		m := map[string]any{}
		if depth < 2 {
			for _, k := range []string{"r", "s", "x"} {
				if rapid.Bool().Draw(t, label+".has."+k) {
					m[k] = p.value(t, label+"."+k, depth+1)
				}
			}
		}
		return m
	}
}

func (p palette) comparison(t *rapid.T) (Op, any) {
	op := rapid.SampledFrom(genOps).Draw(t, "op")
	switch op {
	case OpExists, OpNotExists:
		return op, nil
	case OpIN:
		n := rapid.IntRange(1, 3).Draw(t, "in.len")
		l := make([]any, n)
		for i := range l {
			l[i] = p.scalar(t, "in")
		}
		return op, l
	case OpGT, OpGTE, OpLT, OpLTE:
		v := p.scalar(t, "ordered")
		if _, ok := v.(bool); ok {
			return op, rapid.SampledFrom([]any{1, "a"}).Draw(t, "ordered.instead")
		}
		return op, v
	case OpStartsWith:
		v := p.scalar(t, "prefix")
		if s, ok := v.(string); ok {
			return op, s
		}
		return op, rapid.SampledFrom([]string{"", "a", "b"}).Draw(t, "prefix.instead")
	}
	return op, p.scalar(t, "value")
}

// filter draws a valid filter: combinators at most `depth` levels above
// the leaves, at most 3 children each (at most 40 nodes for depth 3).
func (p palette) filter(t *rapid.T, depth int) Filter {
	kinds := []string{"trait", "event", "computed", "identifier", "consent", "inAudience"}
	if depth > 0 {
		kinds = append([]string{"and", "or", "not"}, kinds...)
	}
	switch rapid.SampledFrom(kinds).Draw(t, "node") {
	case "and", "or":
		n := rapid.IntRange(1, 3).Draw(t, "children")
		l := make([]Filter, n)
		for i := range l {
			l[i] = p.filter(t, depth-1)
		}
		if rapid.Bool().Draw(t, "isAnd") {
			return Filter{And: l}
		}
		return Filter{Or: l}
	case "not":
		f := p.filter(t, depth-1)
		return Filter{Not: &f}
	case "trait":
		op, v := p.comparison(t)
		return Filter{Trait: &TraitCondition{Name: rapid.SampledFrom(genTraits).Draw(t, "trait"), Op: op, Value: v}}
	case "identifier":
		c := &IdentifierCondition{Type: rapid.SampledFrom(genIDTypes).Draw(t, "idType")}
		if rapid.Bool().Draw(t, "setExists") {
			e := rapid.Bool().Draw(t, "exists")
			c.Exists = &e
		}
		return Filter{Identifier: c}
	case "event":
		c := &EventCondition{
			Name: rapid.SampledFrom(append([]string{""}, genEventNames...)).Draw(t, "evName"),
			Type: rapid.SampledFrom(append([]string{""}, genEventTypes...)).Draw(t, "evType"),
		}
		for range rapid.IntRange(0, 2).Draw(t, "wheres") {
			op, v := p.comparison(t)
			c.Where = append(c.Where, PropertyFilter{Path: rapid.SampledFrom(genPaths).Draw(t, "path"), Op: op, Value: v})
		}
		if rapid.Bool().Draw(t, "hasCount") {
			c.Count = &CountCondition{Op: rapid.SampledFrom(countOps).Draw(t, "countOp"), Value: rapid.IntRange(0, 3).Draw(t, "countValue")}
		}
		if rapid.Bool().Draw(t, "hasWithin") {
			c.Within = rapid.SampledFrom(genWithins).Draw(t, "within")
		}
		return Filter{Event: c}
	case "consent":
		return Filter{Consent: &ConsentCondition{
			Purpose: rapid.SampledFrom(genPurposes).Draw(t, "purpose"),
			Status:  rapid.SampledFrom(genStates).Draw(t, "state"),
		}}
	case "computed":
		op, v := p.comparison(t)
		return Filter{Computed: &ComputedCondition{Name: rapid.SampledFrom(genComputed).Draw(t, "computed"), Op: op, Value: v}}
	}
	id := rapid.SampledFrom(genAudienceIDs).Draw(t, "audience")
	return Filter{InAudience: &id}
}

func (p palette) subject(t *rapid.T) *Subject {
	s := &Subject{Traits: map[string]any{}, Computed: map[string]any{}, Audiences: map[string]bool{}}
	for _, n := range genTraits {
		if rapid.IntRange(0, 3).Draw(t, "hasTrait") > 0 {
			s.Traits[n] = p.value(t, "trait", 0)
		}
	}
	for _, n := range genComputed {
		if rapid.IntRange(0, 3).Draw(t, "hasComputed") > 0 {
			s.Computed[n] = p.value(t, "computed", 0)
		}
	}
	for _, typ := range genIDTypes {
		if rapid.Bool().Draw(t, "hasID") {
			s.Identifiers = append(s.Identifiers, graph.Identifier{Key: typ + ":x", Type: typ})
		}
	}
	for _, id := range genAudienceIDs {
		if rapid.Bool().Draw(t, "member") {
			s.Audiences[id] = true
		}
	}
	for i := range rapid.IntRange(0, 6).Draw(t, "events") {
		// A window's first instant, the nanosecond before it, now, the
		// future or long ago.
		var at time.Time
		switch rapid.IntRange(0, 5).Draw(t, "when") {
		case 0:
			at = refWindowStart(rapid.SampledFrom(genWithins).Draw(t, "edge"), genNow)
		case 1:
			at = refWindowStart(rapid.SampledFrom(genWithins).Draw(t, "edge"), genNow).Add(-1)
		case 2:
			at = refWindowStart(rapid.SampledFrom(genWithins).Draw(t, "edge"), genNow).Add(time.Hour)
		case 3:
			at = genNow
		case 4:
			at = genNow.Add(time.Hour)
		case 5:
			at = genNow.AddDate(-2, 0, 0)
		}
		e := graph.Event{
			ID:        fmt.Sprintf("e%d", i),
			Name:      rapid.SampledFrom(append(genEventNames[:len(genEventNames):len(genEventNames)], "")).Draw(t, "name"),
			Type:      rapid.SampledFrom(genEventTypes).Draw(t, "type"),
			Timestamp: at,
		}
		if rapid.IntRange(0, 4).Draw(t, "props") > 0 {
			e.Properties = map[string]any{}
			for _, k := range []string{"p", "q"} {
				if rapid.IntRange(0, 3).Draw(t, "hasProp") > 0 {
					e.Properties[k] = p.value(t, "prop", 0)
				}
			}
		}
		s.Events = append(s.Events, e)
	}
	days := func(d int) time.Time { return genNow.AddDate(0, 0, d) }
	for i := range rapid.IntRange(0, 5).Draw(t, "records") {
		r := privacy.Record{
			ID:         fmt.Sprintf("cns_%d", rapid.IntRange(0, 9).Draw(t, "rid")*10+i),
			Purpose:    rapid.SampledFrom(append(genPurposes[:len(genPurposes):len(genPurposes)], "sms")).Draw(t, "rpurpose"),
			Status:     rapid.SampledFrom(genStatuses).Draw(t, "rstatus"),
			At:         days(-rapid.IntRange(1, 3).Draw(t, "rat")),
			ReceivedAt: days(-rapid.IntRange(0, 1).Draw(t, "rrecv")),
		}
		switch rapid.IntRange(0, 3).Draw(t, "rexpiry") {
		case 1:
			r.ExpiresAt = genNow
		case 2:
			r.ExpiresAt = genNow.Add(-time.Hour)
		case 3:
			r.ExpiresAt = genNow.Add(time.Hour)
		}
		s.Consent = append(s.Consent, r)
	}
	return s
}

// TestEvalMatchesReference: Eval agrees with the naive reference below on
// random valid filters, each over several random subjects.
func TestEvalMatchesReference(t *testing.T) {
	env := genEnv()
	rapid.Check(t, func(t *rapid.T) {
		p := drawPalette(t)
		f := p.filter(t, rapid.IntRange(0, 3).Draw(t, "depth"))
		if err := Check(&f, env, "filter"); err != nil {
			b, _ := json.Marshal(f)
			t.Fatalf("a generated filter fails Check: %v\n%s", err, b)
		}
		for range 8 {
			s := p.subject(t)
			want := refEval(&f, s, genNow)
			if got := f.Eval(s, genNow); got != want {
				b, _ := json.Marshal(f)
				t.Fatalf("Eval = %v, reference = %v\nfilter: %s", got, want, b)
			}
		}
	})
}

// ---- The reference evaluator ----
//
// It turns every value into a tagged tree by a JSON round trip, then
// applies the documented rules to tags, written out case by case.

type tagged struct {
	tag   string // null, bool, num, str, list, obj
	b     bool
	num   float64
	str   string
	items []tagged
	obj   map[string]tagged
}

func toTagged(v any) tagged {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("reference: value %#v does not encode: %v", v, err))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		panic(err)
	}
	return fromJSON(x)
}

func fromJSON(x any) tagged {
	switch x := x.(type) {
	case nil:
		return tagged{tag: "null"}
	case bool:
		return tagged{tag: "bool", b: x}
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		if err != nil {
			panic(err)
		}
		return tagged{tag: "num", num: f}
	case string:
		return tagged{tag: "str", str: x}
	case []any:
		t := tagged{tag: "list"}
		for _, e := range x {
			t.items = append(t.items, fromJSON(e))
		}
		return t
	case map[string]any:
		t := tagged{tag: "obj", obj: map[string]tagged{}}
		for k, e := range x {
			t.obj[k] = fromJSON(e)
		}
		return t
	}
	panic(fmt.Sprintf("reference: unexpected %T", x))
}

func isScalarTag(tag string) bool { return tag == "bool" || tag == "num" || tag == "str" }

func sameScalar(a, b tagged) bool {
	if a.tag != b.tag || !isScalarTag(a.tag) {
		return false
	}
	return a.b == b.b && a.num == b.num && a.str == b.str
}

// refCompare: v is the subject's value (nil pointer: missing), w the
// filter's.
func refCompare(op Op, v *tagged, w tagged) bool {
	present := v != nil && v.tag != "null"
	if op == OpExists {
		return present
	}
	if op == OpNotExists {
		return !present
	}
	if !present {
		return false
	}
	switch op {
	case OpEQ:
		return sameScalar(*v, w)
	case OpNEQ:
		return isScalarTag(v.tag) && v.tag == w.tag && !sameScalar(*v, w)
	case OpIN:
		for _, e := range w.items {
			if sameScalar(*v, e) {
				return true
			}
		}
		return false
	case OpContains:
		if v.tag == "str" && w.tag == "str" {
			return strings.Index(v.str, w.str) >= 0
		}
		if v.tag == "list" {
			for _, e := range v.items {
				if sameScalar(e, w) {
					return true
				}
			}
		}
		return false
	case OpStartsWith:
		return v.tag == "str" && w.tag == "str" && len(v.str) >= len(w.str) && v.str[:len(w.str)] == w.str
	}
	// GT, GTE, LT, LTE
	var sign int
	switch {
	case v.tag == "num" && w.tag == "num":
		sign = cmpFloat(v.num, w.num)
	case v.tag == "str" && w.tag == "str":
		sign = bytes.Compare([]byte(v.str), []byte(w.str))
	default:
		return false
	}
	return map[Op]bool{OpGT: sign > 0, OpGTE: sign >= 0, OpLT: sign < 0, OpLTE: sign <= 0}[op]
}

func cmpFloat(a, b float64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

func refValue(m map[string]any, name string) *tagged {
	v, ok := m[name]
	if !ok {
		return nil
	}
	t := toTagged(v)
	return &t
}

func refPath(props map[string]any, path string) *tagged {
	if props == nil {
		return nil
	}
	cur := toTagged(props)
	for _, seg := range strings.Split(path, ".") {
		if cur.tag != "obj" {
			return nil
		}
		next, ok := cur.obj[seg]
		if !ok {
			return nil
		}
		cur = next
	}
	return &cur
}

func daysIn(year, month int) int {
	switch month {
	case 4, 6, 9, 11:
		return 30
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31
}

// refWindowStart computes the start of a window from the duration's text.
func refWindowStart(within string, now time.Time) time.Time {
	re := regexp.MustCompile(`^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`)
	m := re.FindStringSubmatch(within)
	if m == nil {
		panic("reference: bad within " + within)
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	months := n(1)*12 + n(2)
	y, mo := now.Year(), int(now.Month())-months
	for mo < 1 {
		mo += 12
		y--
	}
	d := min(now.Day(), daysIn(y, mo))
	start := time.Date(y, time.Month(mo), d, now.Hour(), now.Minute(), now.Second(), now.Nanosecond(), now.Location())
	secs := ((n(3)*7+n(4))*24+n(5))*3600 + n(6)*60 + n(7)
	return start.Add(-time.Duration(secs) * time.Second)
}

func refState(records []privacy.Record, purpose string, now time.Time) privacy.State {
	var mine []privacy.Record
	for _, r := range records {
		if r.Purpose == purpose {
			mine = append(mine, r)
		}
	}
	if len(mine) == 0 {
		return privacy.StateUnknown
	}
	sort.Slice(mine, func(i, j int) bool {
		a, b := mine[i], mine[j]
		if !a.At.Equal(b.At) {
			return a.At.Before(b.At)
		}
		if !a.ReceivedAt.Equal(b.ReceivedAt) {
			return a.ReceivedAt.Before(b.ReceivedAt)
		}
		return a.ID < b.ID
	})
	last := mine[len(mine)-1]
	if last.Status == privacy.StatusGranted && !last.ExpiresAt.IsZero() && now.Compare(last.ExpiresAt) >= 0 {
		return privacy.StateExpired
	}
	return privacy.State(last.Status)
}

func refEval(f *Filter, s *Subject, now time.Time) bool {
	switch {
	case len(f.And) > 0:
		n := 0
		for i := range f.And {
			if refEval(&f.And[i], s, now) {
				n++
			}
		}
		return n == len(f.And)
	case len(f.Or) > 0:
		n := 0
		for i := range f.Or {
			if refEval(&f.Or[i], s, now) {
				n++
			}
		}
		return n > 0
	case f.Not != nil:
		return !refEval(f.Not, s, now)
	case f.Trait != nil:
		return refCompare(f.Trait.Op, refValue(s.Traits, f.Trait.Name), toTagged(f.Trait.Value))
	case f.Computed != nil:
		return refCompare(f.Computed.Op, refValue(s.Computed, f.Computed.Name), toTagged(f.Computed.Value))
	case f.Identifier != nil:
		has := false
		for _, id := range s.Identifiers {
			has = has || id.Type == f.Identifier.Type
		}
		if f.Identifier.Exists != nil && !*f.Identifier.Exists {
			return !has
		}
		return has
	case f.Consent != nil:
		return refState(s.Consent, f.Consent.Purpose, now) == f.Consent.Status
	case f.InAudience != nil:
		return s.Audiences[*f.InAudience]
	case f.Event != nil:
		c := f.Event
		count := 0
		for _, e := range s.Events {
			ok := (c.Name == "" || c.Name == e.Name) && (c.Type == "" || c.Type == e.Type)
			if c.Within != "" && e.Timestamp.Before(refWindowStart(c.Within, now)) {
				ok = false
			}
			for _, w := range c.Where {
				ok = ok && refCompare(w.Op, refPath(e.Properties, w.Path), toTagged(w.Value))
			}
			if ok {
				count++
			}
		}
		op, want := OpGTE, 1
		if c.Count != nil {
			op, want = c.Count.Op, c.Count.Value
		}
		return map[Op]bool{
			OpEQ: count == want, OpNEQ: count != want, OpGT: count > want,
			OpGTE: count >= want, OpLT: count < want, OpLTE: count <= want,
		}[op]
	}
	panic("reference: empty filter")
}

// ---- Check on arbitrary trees ----

// pathRe is the shape of every path an error may name.
var pathRe = regexp.MustCompile(`^filter(\.(and|or)\[\d+\]|\.not)*` +
	`(\.(and|or)|\.trait\.(name|op|value(\[\d+\])?)|\.computed\.(name|op|value(\[\d+\])?)|\.identifier\.type` +
	`|\.event\.(name|type|within|where|count\.(op|value)|where\[\d+\]\.(path|op|value(\[\d+\])?))` +
	`|\.consent\.(purpose|status)|\.inAudience)?$`)

func drawAnyValue(t *rapid.T, label string, depth int) any {
	pool := []any{
		nil, "", "x", strings.Repeat("y", 2000), "\xff\xfe", json.Number("zz"), json.Number("1e400"), json.Number("3"),
		math.NaN(), math.Inf(1), 1, -7, uint64(math.MaxUint64), float32(1.5), true,
		struct{}{}, []int{1, 2}, []string{}, map[string]int{"a": 1}, (*int)(nil), new(int), make(chan int),
		[]any{}, map[string]any{},
	}
	if depth < 2 && rapid.IntRange(0, 3).Draw(t, label+".nest") == 0 {
		n := rapid.IntRange(0, 4).Draw(t, label+".len")
		l := make([]any, n)
		for i := range l {
			l[i] = drawAnyValue(t, label, depth+1)
		}
		return l
	}
	return rapid.SampledFrom(pool).Draw(t, label)
}

func drawAnyText(t *rapid.T, label string, pool ...string) string {
	if rapid.IntRange(0, 3).Draw(t, label+".free") == 0 {
		return rapid.String().Draw(t, label)
	}
	return rapid.SampledFrom(append(pool, "", strings.Repeat("é", 200), "a..b", ".", "\xff")).Draw(t, label)
}

func drawAnyOp(t *rapid.T, label string) Op {
	return Op(drawAnyText(t, label, append(strings.Split(joinOps(Ops), ", "), "eq", "BETWEEN")...))
}

// drawAnyFilter draws any tree: nodes with several fields or none, wrong
// ops and values, deep chains and long lists.
func drawAnyFilter(t *rapid.T, depth int) Filter {
	var f Filter
	if depth < 20 && rapid.IntRange(0, 3).Draw(t, "hasAnd") == 0 {
		n := rapid.SampledFrom([]int{0, 1, 2, 3, 120}).Draw(t, "andLen")
		if n == 120 {
			f.And = make([]Filter, n) // empty children, many of them
			for i := range f.And {
				f.And[i].Trait = &TraitCondition{Name: "a", Op: OpExists}
			}
		} else {
			f.And = make([]Filter, n)
			for i := range f.And {
				f.And[i] = drawAnyFilter(t, depth+1)
			}
		}
	}
	if depth < 20 && rapid.IntRange(0, 4).Draw(t, "hasOr") == 0 {
		f.Or = []Filter{drawAnyFilter(t, depth+1)}
	}
	if depth < 20 && rapid.IntRange(0, 2).Draw(t, "hasNot") == 0 {
		n := drawAnyFilter(t, depth+1)
		f.Not = &n
	}
	if rapid.IntRange(0, 3).Draw(t, "hasTrait") == 0 {
		f.Trait = &TraitCondition{Name: drawAnyText(t, "name", "a"), Op: drawAnyOp(t, "op"), Value: drawAnyValue(t, "value", 0)}
	}
	if rapid.IntRange(0, 5).Draw(t, "hasIdentifier") == 0 {
		f.Identifier = &IdentifierCondition{Type: drawAnyText(t, "type", "email")}
	}
	if rapid.IntRange(0, 3).Draw(t, "hasEvent") == 0 {
		c := &EventCondition{Name: drawAnyText(t, "evName", "Order"), Within: drawAnyText(t, "within", "P30D", "P1M", "PT", "P-1D", "P999999999999Y", "P1.5D")}
		for range rapid.IntRange(0, 3).Draw(t, "wheres") {
			c.Where = append(c.Where, PropertyFilter{Path: drawAnyText(t, "path", "p", "q.r"), Op: drawAnyOp(t, "wop"), Value: drawAnyValue(t, "wvalue", 0)})
		}
		if rapid.Bool().Draw(t, "hasCount") {
			c.Count = &CountCondition{Op: drawAnyOp(t, "cop"), Value: rapid.IntRange(-3, 3).Draw(t, "cvalue")}
		}
		f.Event = c
	}
	if rapid.IntRange(0, 5).Draw(t, "hasConsent") == 0 {
		f.Consent = &ConsentCondition{Purpose: drawAnyText(t, "purpose", "email"), Status: privacy.State(drawAnyText(t, "status", "GRANTED", "EXPIRED"))}
	}
	if rapid.IntRange(0, 5).Draw(t, "hasComputed") == 0 {
		f.Computed = &ComputedCondition{Name: drawAnyText(t, "cname", "orders"), Op: drawAnyOp(t, "op"), Value: drawAnyValue(t, "value", 0)}
	}
	if rapid.IntRange(0, 5).Draw(t, "hasAudience") == 0 {
		id := drawAnyText(t, "aud", knownAudience, "seg_x")
		f.InAudience = &id
	}
	return f
}

// TestCheckArbitraryTrees: Check never panics; it answers nil or an
// EINVALID error whose message starts with a well-formed path and stays
// short; a tree it accepts evaluates without panicking.
func TestCheckArbitraryTrees(t *testing.T) {
	env := genEnv()
	rapid.Check(t, func(t *rapid.T) {
		f := drawAnyFilter(t, 1)
		err := Check(&f, env, "filter")
		if err != nil {
			var ge *graph.Error
			if !errors.As(err, &ge) || ge.Code != graph.EINVALID {
				t.Fatalf("Check returned %T %v, want an EINVALID *graph.Error", err, err)
			}
			path, _, ok := strings.Cut(ge.Message, ": ")
			if !ok || !pathRe.MatchString(path) {
				t.Fatalf("error %q does not start with a path into the filter", ge.Message)
			}
			if len(ge.Message) > 400 {
				t.Fatalf("error message is %d bytes long: %.200s", len(ge.Message), ge.Message)
			}
			return
		}
		f.Eval(drawPalette(t).subject(t), genNow)
	})
}
