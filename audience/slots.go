package audience

import (
	"sort"
	"strings"
)

// Slots hold named JSON values in a form a database can compare without
// parsing JSON: four parallel lists, one entry per value, in which every
// list holds one type (strings, integers, floats), as native list
// properties must. The Neo4j store keeps the traits of a profile, the
// properties of an event and the value of a computed trait so, and its
// compiled filters compare them there (SEMANTICS.md).
//
// An entry is a value at Names[i], of kind Kinds[i]: SlotString (Strings[i]
// holds it), SlotNumber (Numbers[i]), SlotBool (Numbers[i]: 1 true, 0
// false), SlotList, SlotObject or SlotOther (nothing else held). A list's
// string, number and boolean elements follow its entry, under the same
// name, with the kind SlotElement plus theirs; its other elements, which
// CONTAINS never matches, are left out. Missing and null values have no
// entry. Unused places hold "" and 0.
type Slots struct {
	Names   []string
	Kinds   []int64
	Strings []string
	Numbers []float64
}

// The kinds of a slot.
const (
	SlotNull    = 0 // only from AddOrNull
	SlotString  = 1
	SlotNumber  = 2
	SlotBool    = 3
	SlotList    = 4
	SlotObject  = 5
	SlotOther   = 6
	SlotElement = 10 // added to an element's kind: 11, 12 or 13
)

// Len is the number of entries.
func (s *Slots) Len() int { return len(s.Names) }

func (s *Slots) add(name string, k int64, str string, num float64) {
	s.Names = append(s.Names, name)
	s.Kinds = append(s.Kinds, k)
	s.Strings = append(s.Strings, str)
	s.Numbers = append(s.Numbers, num)
}

// Add appends the entries of the value v at name, as comparisons read it
// (scalarOf): nothing for a missing or null value.
func (s *Slots) Add(name string, v any) {
	a := scalarOf(v)
	switch a.k {
	case kMissing:
	case kString:
		s.add(name, SlotString, a.s, 0)
	case kNumber:
		s.add(name, SlotNumber, "", a.n)
	case kBool:
		s.add(name, SlotBool, "", boolNum(a.b))
	case kList:
		s.add(name, SlotList, "", 0)
		list, _ := listOf(v)
		for _, e := range list {
			switch b := scalarOf(e); b.k {
			case kString:
				s.add(name, SlotElement+SlotString, b.s, 0)
			case kNumber:
				s.add(name, SlotElement+SlotNumber, "", b.n)
			case kBool:
				s.add(name, SlotElement+SlotBool, "", boolNum(b.b))
			}
		}
	case kMap:
		s.add(name, SlotObject, "", 0)
	default:
		s.add(name, SlotOther, "", 0)
	}
}

// AddOrNull is Add, but a missing or null value gets an entry of kind
// SlotNull, so that a newer null can hide an older value.
func (s *Slots) AddOrNull(name string, v any) {
	if scalarOf(v).k == kMissing {
		s.add(name, SlotNull, "", 0)
		return
	}
	s.Add(name, v)
}

func boolNum(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// PropertySlots holds every value an event condition's where can reach
// in props (Lookup), each under its dotted path, in path order: the value
// of each key, and inside objects the values of their keys. Keys that
// Lookup cannot reach (those holding a dot, and empty ones) are left out,
// and so are paths longer than MaxNameBytes, which no filter names.
func PropertySlots(props map[string]any) Slots {
	var s Slots
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		keys := make([]string, 0, len(m))
		for k := range m {
			if k != "" && !strings.Contains(k, ".") {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			path := prefix + k
			if len(path) > MaxNameBytes {
				continue
			}
			v := m[k]
			s.Add(path, v)
			if sub, ok := v.(map[string]any); ok && sub != nil {
				walk(path+".", sub)
			}
		}
	}
	walk("", props)
	return s
}
