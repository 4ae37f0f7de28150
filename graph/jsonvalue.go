package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Stores keep events' properties and traits, and identifiers' traits, as
// JSON. Read back with encoding/json's defaults every number would become
// a float64, and an integer beyond 2^53 (an account id, say) would change
// silently. UnmarshalJSON reads them as the collector produced them
// instead: an integer that fits is an int64, any other number a float64.

// JSONNumber returns n as the collector turns a JSON number into a Go
// value: an int64 when n is an integer that fits, otherwise a float64. A
// number beyond float64's range is an error.
func JSONNumber(n json.Number) (any, error) {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("number %.40s is out of range", string(n))
	}
	return f, nil
}

// PlainJSON replaces, in place, every json.Number in v (a value decoded
// with json.Decoder.UseNumber: maps, lists and scalars) by JSONNumber's
// value, and returns v.
func PlainJSON(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		return JSONNumber(x)
	case map[string]any:
		for k, e := range x {
			p, err := PlainJSON(e)
			if err != nil {
				return nil, err
			}
			x[k] = p
		}
	case []any:
		for i, e := range x {
			p, err := PlainJSON(e)
			if err != nil {
				return nil, err
			}
			x[i] = p
		}
	}
	return v, nil
}

// UnmarshalJSON is json.Unmarshal for the JSON values stores keep, with
// numbers exact: within dst, a number that stands in a value of type any
// is an int64 when it is an integer that fits, and a float64 otherwise
// (JSONNumber), so 9007199254740993 reads back as written. dst is an *any,
// a *map[string]any, a *[]any or a *map[string]TraitValue; any other
// destination is decoded by json.Unmarshal as it is.
func UnmarshalJSON(data []byte, dst any) error {
	switch dst.(type) {
	case *any, *map[string]any, *[]any, *map[string]TraitValue:
	default:
		return json.Unmarshal(data, dst)
	}
	if !HasLongDigitRun(data) {
		// No literal of 16 digits or more, so every number is below 2^53 or
		// has a fraction or an exponent: json.Unmarshal's float64 is exact,
		// and an integral one below 1e15 is what JSONNumber would make an
		// int64 (the stores' JSON is encoding/json's, which writes an
		// integral float below 1e21 without exponent or fraction). Cheaper
		// than a Decoder, on the path of every lookup.
		if err := json.Unmarshal(data, dst); err != nil {
			return err
		}
		switch d := dst.(type) {
		case *any:
			*d = IntsOf(*d)
		case *map[string]any:
			IntsOf(*d)
		case *[]any:
			IntsOf(*d)
		case *map[string]TraitValue:
			for k, tv := range *d {
				tv.Value = IntsOf(tv.Value)
				(*d)[k] = tv
			}
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF // as json.Unmarshal says of empty input
		}
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("invalid character after top-level value at offset %d", dec.InputOffset())
	}
	var err error
	switch d := dst.(type) {
	case *any:
		*d, err = PlainJSON(*d)
	case *map[string]any:
		_, err = PlainJSON(*d)
	case *[]any:
		_, err = PlainJSON(*d)
	case *map[string]TraitValue:
		for k, tv := range *d {
			if tv.Value, err = PlainJSON(tv.Value); err != nil {
				break
			}
			(*d)[k] = tv
		}
	}
	return err
}

// HasLongDigitRun reports whether data holds 16 or more ASCII digits in a
// row, as a number beyond 2^53 needs (in a string too, which only costs
// the exact path). Without one, json.Unmarshal's numbers are exact and
// IntsOf makes them what UnmarshalJSON gives.
func HasLongDigitRun(data []byte) bool {
	run := 0
	for _, c := range data {
		if c >= '0' && c <= '9' {
			if run++; run >= 16 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// IntsOf replaces, in place, every float64 in v that is integral and below
// 1e15 in magnitude by its int64, and returns v: UnmarshalJSON's rule for a
// value json.Unmarshal decoded from JSON without a long digit run
// (HasLongDigitRun).
func IntsOf(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return int64(x)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = IntsOf(e)
		}
	case []any:
		for i, e := range x {
			x[i] = IntsOf(e)
		}
	}
	return v
}
