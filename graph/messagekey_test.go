package graph

import (
	"math"
	"testing"
)

// TestUnstorableNumberWithholdsPersonalKeys: the engine's refusal of a
// number it cannot store names the path as the collector does, with a
// key that looks like personal data withheld (MessageKey). Worked by
// hand: an email key, a phone key, schema keys around them.
func TestUnstorableNumberWithholdsPersonalKeys(t *testing.T) {
	for _, c := range []struct {
		v    map[string]any
		want string
	}{
		{map[string]any{"ann@example.com": map[string]any{"n": math.Inf(1)}}, ReasonInvalidNumber + ": properties.(withheld key).n: number +Inf is not a finite 64-bit float"},
		{map[string]any{"calls": map[string]any{"+44 20 7946 0958": math.NaN()}}, ReasonInvalidNumber + ": properties.calls.(withheld key): number NaN is not a finite 64-bit float"},
		{map[string]any{"items": []any{map[string]any{"price": math.Inf(-1)}}}, ReasonInvalidNumber + ": properties.items[0].price: number -Inf is not a finite 64-bit float"},
	} {
		if got := unstorableNumber(c.v, "properties"); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	for k, want := range map[string]string{
		"plan": "plan", "q2_2024": "q2_2024", "sku_123456": "sku_123456", "v1.2.3": "v1.2.3",
		"ann@example.com": WithheldKey, "555-0100": WithheldKey, "(555) 010 0199": WithheldKey, "4111111111111111": WithheldKey,
	} {
		if got := MessageKey(k); got != want {
			t.Errorf("MessageKey(%q) = %q, want %q", k, got, want)
		}
	}
}
