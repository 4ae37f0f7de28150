package embedded

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/idgraph/cdp/graph"
)

// Hot records (profiles, links, events) are stored in a compact binary form
// rather than JSON: a record's own key is never repeated in its value,
// strings are length-prefixed, integers are varints and times are Unix
// seconds then nanoseconds, read back in UTC. Free-form maps whose values
// are arbitrary JSON (event properties and traits) stay JSON inside the
// record, so numbers come back exactly as they did before.

var errShort = errors.New("record is truncated")

// enc appends the parts of one record.
type enc []byte

func (e enc) str(s string) enc {
	e = binary.AppendUvarint(e, uint64(len(s)))
	return append(e, s...)
}

func (e enc) bytes(b []byte) enc {
	e = binary.AppendUvarint(e, uint64(len(b)))
	return append(e, b...)
}

func (e enc) int(n int64) enc { return binary.AppendVarint(e, n) }

func (e enc) uint(n uint64) enc { return binary.AppendUvarint(e, n) }

// time keeps every time.Time instant exactly (no range limit); the zone is
// not kept, as every stored time is UTC.
func (e enc) time(t time.Time) enc {
	return binary.AppendUvarint(binary.AppendVarint(e, t.Unix()), uint64(t.Nanosecond()))
}

func (e enc) strs(xs []string) enc {
	e = e.uint(uint64(len(xs)))
	for _, x := range xs {
		e = e.str(x)
	}
	return e
}

// dec reads the parts of one record in the order enc wrote them. The first
// error sticks; later reads return zero values.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail() {
	if d.err == nil {
		d.err = errShort
	}
	d.b = nil
}

func (d *dec) uint() uint64 {
	n, w := binary.Uvarint(d.b)
	if w <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[w:]
	return n
}

func (d *dec) int() int64 {
	n, w := binary.Varint(d.b)
	if w <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[w:]
	return n
}

// raw returns the next length-prefixed bytes, aliasing the record.
func (d *dec) raw() []byte {
	n := d.uint()
	if d.err != nil || uint64(len(d.b)) < n {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) str() string { return string(d.raw()) }

func (d *dec) time() time.Time {
	s := d.int()
	ns := d.uint()
	if d.err != nil || ns >= 1e9 {
		d.fail()
		return time.Time{}
	}
	return time.Unix(s, int64(ns)).UTC()
}

func (d *dec) strs() []string { return d.strsWith(nil) }

// strsWith is strs taking each string from str (nil: a new string).
func (d *dec) strsWith(str func([]byte) string) []string {
	n := d.uint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		if str == nil {
			out[i] = d.str()
		} else {
			out[i] = str(d.raw())
		}
	}
	return out
}

// done reports the first error, or trailing bytes.
func (d *dec) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("record has trailing bytes")
	}
	return d.err
}

// Profile records, under the profile id. The id is the key.

func encodeProfile(p graph.Profile) []byte {
	e := make(enc, 0, 48+16*len(p.Counts)+len(p.MergedInto))
	e = e.time(p.CreatedAt).time(p.UpdatedAt).int(int64(p.Size))
	names := make([]string, 0, len(p.Counts))
	for n := range p.Counts {
		names = append(names, n)
	}
	sort.Strings(names)
	e = e.uint(uint64(len(names)))
	for _, n := range names {
		e = e.str(n).int(int64(p.Counts[n]))
	}
	return e.str(p.MergedInto)
}

func decodeProfile(id string, v []byte) (graph.Profile, error) {
	d := dec{b: v}
	p := graph.Profile{ID: id, CreatedAt: d.time(), UpdatedAt: d.time(), Size: int(d.int())}
	if n := d.uint(); n > 0 && n <= uint64(len(d.b)) {
		p.Counts = make(map[string]int, n)
		for range n {
			name := d.str()
			p.Counts[name] = int(d.int())
		}
	} else if n > 0 {
		d.fail()
	}
	p.MergedInto = d.str()
	if err := d.done(); err != nil {
		return graph.Profile{}, fmt.Errorf("decode profile %q: %w", id, err)
	}
	return p, nil
}

// Link records, as the value of the link's adjacency entry under its A
// side. A and B are the key.

func encodeLink(l graph.Link) []byte {
	e := make(enc, 0, 40+len(l.Source)+len(l.Evidence))
	return e.str(l.Source).str(l.Evidence).time(l.FirstSeen).time(l.LastSeen).int(int64(l.Count))
}

func decodeLink(a, b string, v []byte) (graph.Link, error) {
	d := dec{b: v}
	l := graph.Link{A: a, B: b, Source: d.str(), Evidence: d.str(), FirstSeen: d.time(), LastSeen: d.time(), Count: int(d.int())}
	if err := d.done(); err != nil {
		return graph.Link{}, fmt.Errorf("decode link %s - %s: %w", graph.KeyRef(a), graph.KeyRef(b), err)
	}
	return l, nil
}

// Event records, under the event id. Properties and traits are JSON
// objects, empty when the event has none.
//
// An event with a digest or a message id has a tail after the traits,
// which a record written before it lacks (then both read back empty):
//
//	digest:    0 none | 1 then 32 bytes: lowercase hex SHA-256 | 2 then a string
//	messageId: 0 none | 1 the id after "<source>/" | 2 then a string
//	campaign:  a string, only when the event has a campaign
//
// so the usual digest costs 33 bytes and the usual message id one. The
// campaign came last (layout version 14) and is optional, so records
// written before it read back with none, and those without one are byte
// for byte as before.
const (
	tailNone = iota
	tailShort
	tailString
)

type eventRecord struct {
	graph.Event
	props, traits []byte // JSON, or empty
}

func encodeEvent(ev *graph.Event) ([]byte, error) {
	r := eventRecord{Event: *ev}
	if len(ev.Properties) > 0 {
		b, err := json.Marshal(ev.Properties)
		if err != nil {
			return nil, err
		}
		r.props = b
	}
	if len(ev.Traits) > 0 {
		b, err := json.Marshal(ev.Traits)
		if err != nil {
			return nil, err
		}
		r.traits = b
	}
	return r.encode(), nil
}

func (r *eventRecord) encode() []byte {
	n := 48 + len(r.Type) + len(r.Name) + len(r.Channel) + len(r.Source) + len(r.props) + len(r.traits) + len(r.Digest) + len(r.Campaign)
	for _, k := range r.Keys {
		n += len(k) + 2
	}
	e := make(enc, 0, n)
	e = e.str(r.Type).str(r.Name).str(r.Channel).str(r.Source).time(r.Timestamp).time(r.ReceivedAt)
	e = e.strs(r.Keys).bytes(r.props).bytes(r.traits)
	if r.Digest == "" && r.MessageID == "" && r.Campaign == "" {
		return e
	}
	if sum, ok := sha256Hex(r.Digest); ok {
		e = append(e.uint(tailShort), sum...)
	} else if r.Digest != "" {
		e = e.uint(tailString).str(r.Digest)
	} else {
		e = e.uint(tailNone)
	}
	switch {
	case r.MessageID == "":
		e = e.uint(tailNone)
	case r.Source != "" && r.ID == r.Source+"/"+r.MessageID:
		e = e.uint(tailShort)
	default:
		e = e.uint(tailString).str(r.MessageID)
	}
	if r.Campaign != "" {
		e = e.str(r.Campaign)
	}
	return e
}

// sha256Hex decodes a lowercase hex SHA-256, the form the collector
// writes; any other digest is kept as a string.
func sha256Hex(s string) ([]byte, bool) {
	if len(s) != 2*sha256.Size || strings.ToLower(s) != s {
		return nil, false
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}

// parseTail reads the digest and message id, when the record has them.
func (r *eventRecord) parseTail(d *dec) {
	if len(d.b) == 0 {
		return
	}
	switch d.uint() {
	case tailNone:
	case tailShort:
		if len(d.b) < sha256.Size {
			d.fail()
			return
		}
		r.Digest = hex.EncodeToString(d.b[:sha256.Size])
		d.b = d.b[sha256.Size:]
	case tailString:
		r.Digest = d.str()
	default:
		d.fail()
		return
	}
	switch d.uint() {
	case tailNone:
	case tailShort:
		prefix := r.Source + "/"
		if !strings.HasPrefix(r.ID, prefix) {
			d.fail()
			return
		}
		r.MessageID = r.ID[len(prefix):]
	case tailString:
		r.MessageID = d.str()
	default:
		d.fail()
		return
	}
	if len(d.b) > 0 {
		// Written only when not empty: an empty one is not a record this
		// codec wrote (zeros padded onto it, say).
		if r.Campaign = d.str(); r.Campaign == "" {
			d.fail()
		}
	}
}

// parseEvent decodes everything but the JSON maps, which stay raw.
func parseEvent(id string, v []byte) (eventRecord, error) { return parseEventNamed(id, v, nil, nil) }

// parseEventNamed is parseEvent taking the strings of the type, name,
// channel and source from name, and those of the keys from key (nil: new
// strings).
func parseEventNamed(id string, v []byte, name, key func([]byte) string) (eventRecord, error) {
	d := dec{b: v}
	var r eventRecord
	r.ID = id
	if name == nil {
		r.Type, r.Name, r.Channel, r.Source = d.str(), d.str(), d.str(), d.str()
	} else {
		r.Type, r.Name, r.Channel, r.Source = name(d.raw()), name(d.raw()), name(d.raw()), name(d.raw())
	}
	r.Timestamp, r.ReceivedAt = d.time(), d.time()
	if key == nil {
		r.Keys = d.strs()
	} else {
		r.Keys = d.strsWith(key)
	}
	r.props, r.traits = d.raw(), d.raw()
	r.parseTail(&d)
	if err := d.done(); err != nil {
		return eventRecord{}, fmt.Errorf("decode event %q: %w", id, err)
	}
	return r, nil
}

func decodeEvent(id string, v []byte) (graph.Event, error) { return decodeEventNamed(id, v, nil, nil) }

// decodeEventNamed is decodeEvent taking strings as parseEventNamed does.
func decodeEventNamed(id string, v []byte, name, key func([]byte) string) (graph.Event, error) {
	r, err := parseEventNamed(id, v, name, key)
	if err != nil {
		return graph.Event{}, err
	}
	ev := r.Event
	if len(r.props) > 0 {
		if err := graph.UnmarshalJSON(r.props, &ev.Properties); err != nil {
			return graph.Event{}, fmt.Errorf("decode properties of event %q: %w", id, err)
		}
	}
	if len(r.traits) > 0 {
		if err := graph.UnmarshalJSON(r.traits, &ev.Traits); err != nil {
			return graph.Event{}, fmt.Errorf("decode traits of event %q: %w", id, err)
		}
	}
	return ev, nil
}

// Identifier records, under identKey(key), stay JSON: other tools read
// the "profile" field of this record (cdp bench's raw lookup does).
// The form is compact: times are [unix seconds, nanoseconds], and type and
// value are left out when the key gives them (graph.SplitKey), which also
// keeps values that are not valid UTF-8 byte for byte.
//
// T is the traits' type: a plain map, or exactTraits for a record that
// holds a long digit run (graph.HasLongDigitRun), whose numbers are read
// exactly at the cost of parsing the traits twice.
type identJSON[T any] struct {
	First   [2]int64 `json:"f"`
	Last    [2]int64 `json:"l"`
	Sources []string `json:"s,omitempty"`
	Profile string   `json:"profile,omitempty"`
	Traits  T        `json:"t,omitempty"`
	Type    string   `json:"type,omitempty"`
	Value   string   `json:"value,omitempty"`
}

// exactTraits are an identifier record's traits, read with numbers exact
// (graph.UnmarshalJSON): an integer that fits is an int64, any other
// number a float64, as the collector gives them.
type exactTraits map[string]graph.TraitValue

func (t *exactTraits) UnmarshalJSON(b []byte) error {
	return graph.UnmarshalJSON(b, (*map[string]graph.TraitValue)(t))
}

func encodeIdent(key string, r *identRecord) ([]byte, error) {
	b := make([]byte, 0, 96+len(r.Profile))
	b = append(b, `{"f":`...)
	b = appendJSONTime(b, r.FirstSeen)
	b = append(b, `,"l":`...)
	b = appendJSONTime(b, r.LastSeen)
	if len(r.Sources) > 0 {
		b = append(b, `,"s":[`...)
		for i, src := range r.Sources {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, src)
		}
		b = append(b, ']')
	}
	if r.Profile != "" {
		b = append(b, `,"profile":`...)
		b = appendJSONString(b, r.Profile)
	}
	if len(r.Traits) > 0 {
		t, err := json.Marshal(r.Traits)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"t":`...)
		b = append(b, t...)
	}
	if ref := graph.SplitKey(key); ref.Type != r.Type || ref.Value != r.Value {
		b = append(b, `,"type":`...)
		b = appendJSONString(b, r.Type)
		b = append(b, `,"value":`...)
		b = appendJSONString(b, r.Value)
	}
	return append(b, '}'), nil
}

func decodeIdent(key string, v []byte) (*identRecord, error) {
	if !graph.HasLongDigitRun(v) {
		if r, ok := decodeIdentFast(v); ok {
			if r.Type == "" && r.Value == "" {
				ref := graph.SplitKey(key)
				r.Type, r.Value = ref.Type, ref.Value
			}
			return r, nil
		}
	}
	return decodeIdentJSON(key, v)
}

// decodeIdentJSON reads an identifier record with encoding/json: any
// record decodeIdentFast does not take, and the reference it is tested
// against.
func decodeIdentJSON(key string, v []byte) (*identRecord, error) {
	// Numbers exact, as graph.UnmarshalJSON reads them; a record with no
	// long digit run in one parse.
	var j identJSON[map[string]graph.TraitValue]
	if graph.HasLongDigitRun(v) {
		var x identJSON[exactTraits]
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, fmt.Errorf("decode identifier %s: %w", graph.KeyRef(key), err)
		}
		j = identJSON[map[string]graph.TraitValue]{First: x.First, Last: x.Last, Sources: x.Sources, Profile: x.Profile,
			Traits: map[string]graph.TraitValue(x.Traits), Type: x.Type, Value: x.Value}
	} else {
		if err := json.Unmarshal(v, &j); err != nil {
			return nil, fmt.Errorf("decode identifier %s: %w", graph.KeyRef(key), err)
		}
		for k, tv := range j.Traits {
			tv.Value = graph.IntsOf(tv.Value)
			j.Traits[k] = tv
		}
	}
	if j.First[1] < 0 || j.First[1] >= 1e9 || j.Last[1] < 0 || j.Last[1] >= 1e9 {
		return nil, fmt.Errorf("decode identifier %s: bad time", graph.KeyRef(key))
	}
	r := &identRecord{
		Type: j.Type, Value: j.Value,
		FirstSeen: time.Unix(j.First[0], j.First[1]).UTC(),
		LastSeen:  time.Unix(j.Last[0], j.Last[1]).UTC(),
		Sources:   j.Sources, Profile: j.Profile, Traits: j.Traits,
	}
	if r.Type == "" && r.Value == "" {
		ref := graph.SplitKey(key)
		r.Type, r.Value = ref.Type, ref.Value
	}
	return r, nil
}

func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '[')
	b = strconv.AppendInt(b, t.Unix(), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(t.Nanosecond()), 10)
	return append(b, ']')
}

// appendJSONString quotes s as encoding/json does: plain printable ASCII
// is copied, anything else goes through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
