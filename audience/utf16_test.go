package audience

import (
	"testing"
	"unicode/utf16"
)

// TestCompareUTF16: the order of the strings' UTF-16 encodings, worked
// out with unicode/utf16 and compared unit by unit, and a few cases by
// hand where it differs from code point order.
func TestCompareUTF16(t *testing.T) {
	ref := func(a, b string) int {
		x, y := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
		for i := 0; i < len(x) && i < len(y); i++ {
			switch {
			case x[i] < y[i]:
				return -1
			case x[i] > y[i]:
				return 1
			}
		}
		switch {
		case len(x) < len(y):
			return -1
		case len(x) > len(y):
			return 1
		}
		return 0
	}
	words := []string{"", "a", "B", "é", "ab", "a😀", "😀", "😁", "\uE000", "\uFFFD", "\uFF21", "𠀀", "10", "9", "Pro", "pro"}
	for _, a := range words {
		for _, b := range words {
			if got, want := CompareUTF16(a, b), ref(a, b); got != want {
				t.Errorf("CompareUTF16(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
	// Where UTF-16 order is not code point order: above U+FFFF sorts
	// before U+E000..U+FFFF.
	for _, c := range []struct{ a, b string }{{"😀", "\uE000"}, {"𠀀", "\uFF21"}, {"a😀", "a\uFFFD"}, {"B", "a"}, {"a", "é"}} {
		if CompareUTF16(c.a, c.b) != -1 || CompareUTF16(c.b, c.a) != 1 {
			t.Errorf("%q should sort before %q", c.a, c.b)
		}
	}
	if !compare(OpLT, "😀", "\uE000") || compare(OpGT, "😀", "\uE000") {
		t.Error("LT and GT do not follow UTF-16 order")
	}
}
