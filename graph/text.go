package graph

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxReasonLen bounds the reason of a correction (MergeProfiles,
// UnlinkIdentifiers, RemoveIdentifier) or an erasure, in bytes. What keeps
// a reason (history, refusals, an erasure's receipt, and the audit entry,
// whose own bound is 1,000 bytes with the receipt id in front) keeps it
// whole.
const MaxReasonLen = 500

// TextProblem says what is wrong with s as free text a person typed (a
// reason, a description), "" when nothing is: it must be valid UTF-8 with
// no control character (C0, DEL, C1) but tab and newline. The answer
// never repeats s.
func TextProblem(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if r != '\t' && r != '\n' && unicode.IsControl(r) {
			return "holds a control character (only tab and newline are allowed)"
		}
	}
	return ""
}

// ReasonProblem says what is wrong with the reason of a correction or an
// erasure, "" when nothing is: it must not be empty (or only spaces), is
// at most MaxReasonLen bytes, and is free text (TextProblem).
func ReasonProblem(reason string) string {
	switch {
	case strings.TrimSpace(reason) == "":
		return "must not be empty"
	case len(reason) > MaxReasonLen:
		return fmt.Sprintf("is longer than %d bytes", MaxReasonLen)
	}
	return TextProblem(reason)
}

// WithheldKey is how an error or a log line names a property or trait key
// that MessageKey withholds.
const WithheldKey = "(withheld key)"

// MessageKey returns a property or trait key taken from a payload as an
// error message or a log line may name it: as it is, since keys are the
// payload's schema and naming them helps the sender, unless the key looks
// like personal data itself, which it then withholds (WithheldKey): a key
// holding an @ (or its fullwidth or small form), as an email used as a
// key does, or 7 or more digits in a row, counted across the spaces,
// dots, dashes, slashes, pluses and parentheses a phone or card number is
// written with.
func MessageKey(k string) string {
	if LooksPersonal(k) {
		return WithheldKey
	}
	return k
}

// LooksPersonal reports whether the text k looks like personal data by
// its pattern alone, as MessageKey judges a key: it holds an @ (or its
// fullwidth or small form), or 7 or more digits in a row, counted across
// the spaces, dots, dashes, slashes, pluses and parentheses a phone or
// card number is written with. A name ("Invite sent to Ann Kowalski") is
// not recognised.
func LooksPersonal(k string) bool {
	run := 0
	for _, r := range k {
		switch {
		case r == '@' || r == '\uff20' || r == '\ufe6b':
			return true
		case unicode.IsDigit(r):
			if run++; run >= 7 {
				return true
			}
		case strings.ContainsRune(" .-/+()", r):
		default:
			run = 0
		}
	}
	return false
}

// PersonalPattern is LooksPersonal as a regular expression that matches
// the whole of a text it reports, written so that Go's regexp and Java's
// (Cypher's =~, which matches whole strings) read it alike: a store that
// judges texts inside its database uses it. Digits are Unicode's decimal
// digits (Nd) as unicode.IsDigit has them, spelled out as code point
// ranges (digitClass) rather than \p{Nd}: the Java that runs Neo4j has
// older Unicode tables, which lack the digits of newer scripts (Kawi,
// Tangsa, ...), and would judge their texts otherwise.
var PersonalPattern = `(?s).*(?:[@\x{FF20}\x{FE6B}]|` + digitClass + `(?:[ .\-/+()]*` + digitClass + `){6}).*`

// MaybePersonalPattern matches every text PersonalPattern matches, and
// some more: its digits are the ASCII ones and every code point from the
// first other decimal digit up (digitFloor), two ranges where
// PersonalPattern has dozens. A text it does not match does not look
// personal, so a store checks it first: most texts (Latin names, ASCII
// digits) are judged by it alone, which in Java's regular expressions
// costs about a tenth of PersonalPattern.
var MaybePersonalPattern = `(?s).*(?:[@\x{FF20}\x{FE6B}]|` + roughDigitClass + `(?:[ .\-/+()]*` + roughDigitClass + `){6}).*`

// roughDigitClass holds every decimal digit (unicode.Nd) and more: 0-9,
// and everything from digitFloor up.
var roughDigitClass = fmt.Sprintf(`[0-9\x{%X}-\x{10FFFF}]`, digitFloor)

// digitFloor is the least decimal digit above the ASCII ones.
var digitFloor = func() rune {
	for _, r := range unicode.Nd.R16 {
		if r.Hi > '9' {
			return rune(max(r.Lo, '9'+1))
		}
	}
	return rune(unicode.Nd.R32[0].Lo)
}()

// digitClass is a regular expression's character class of unicode.Nd's
// code points, as ranges both Go's regexp and Java's read.
var digitClass = func() string {
	var b strings.Builder
	b.WriteByte('[')
	add := func(lo, hi, stride uint32) {
		for c := lo; c <= hi; c += stride {
			end := c
			if stride == 1 {
				end = hi
			}
			fmt.Fprintf(&b, `\x{%X}-\x{%X}`, c, end)
			if end == hi {
				break
			}
		}
	}
	for _, r := range unicode.Nd.R16 {
		add(uint32(r.Lo), uint32(r.Hi), uint32(r.Stride))
	}
	for _, r := range unicode.Nd.R32 {
		add(r.Lo, r.Hi, r.Stride)
	}
	b.WriteByte(']')
	return b.String()
}()
