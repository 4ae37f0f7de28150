package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A rate that is not a positive finite number is bad usage (exit 2),
// told before anything starts: NaN and Inf parse as numbers, and NaN
// passes a "not positive" check written as rate <= 0.
func TestSoakRefusesRatesThatAreNotNumbers(t *testing.T) {
	for _, args := range [][]string{
		{"--rate", "NaN"}, {"--rate", "+Inf"}, {"--rate", "0"},
		{"--rate", "10", "--lookup-rate", "NaN"}, {"--rate", "10", "--lookup-rate", "Inf"}, {"--rate", "10", "--lookup-rate", "-1"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"bench", "soak", "--duration", "1s"}, args...), &out, &errOut)
		flag := args[len(args)-2] // the flag at fault, --rate or --lookup-rate
		if code != 2 || !strings.Contains(errOut.String(), "cdp bench soak: "+flag+" ") {
			t.Errorf("bench soak %v: exit %d, stderr %q; want exit 2 naming %s", args, code, errOut.String(), flag)
		}
	}
}
