package audience

import (
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
)

func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Duration
		str  string
	}{
		{"P30D", Duration{Days: 30}, "P30D"},
		{"PT12H", Duration{Hours: 12}, "PT12H"},
		{"P1Y2M", Duration{Years: 1, Months: 2}, "P1Y2M"},
		{"P2W", Duration{Weeks: 2}, "P2W"},
		{"P2W3D", Duration{Weeks: 2, Days: 3}, "P2W3D"},
		{"PT1M", Duration{Minutes: 1}, "PT1M"},
		{"P1M", Duration{Months: 1}, "P1M"},
		{"P1MT1M", Duration{Months: 1, Minutes: 1}, "P1MT1M"},
		{"P1Y2M3W4DT5H6M7S", Duration{1, 2, 3, 4, 5, 6, 7}, "P1Y2M3W4DT5H6M7S"},
		{"PT90S", Duration{Seconds: 90}, "PT90S"},
		{"P0Y1D", Duration{Days: 1}, "P1D"},
		{"P007D", Duration{Days: 7}, "P7D"},
		{"P100Y", Duration{Years: 100}, "P100Y"},
		{"P1200M", Duration{Months: 1200}, "P1200M"},
		{"P36524D", Duration{Days: 36524}, "P36524D"},
	} {
		got, err := ParseDuration(c.in)
		if err != nil {
			t.Errorf("ParseDuration(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseDuration(%q) = %+v, want %+v", c.in, got, c.want)
		}
		if s := got.String(); s != c.str {
			t.Errorf("ParseDuration(%q).String() = %q, want %q", c.in, s, c.str)
		}
	}
	if s := (Duration{}).String(); s != "PT0S" {
		t.Errorf("zero Duration.String() = %q, want PT0S", s)
	}
}

func TestParseDurationErrors(t *testing.T) {
	long := "P" + strings.Repeat("9", 500) + "D"
	for _, c := range []struct{ in, want string }{
		{"", `duration "" is not valid: it is empty; write an ISO-8601 duration such as P30D or PT12H`},
		{"P", `duration "P" is not valid: it has no parts after P`},
		{"PT", `duration "PT" is not valid: T must be followed by hours, minutes or seconds`},
		{"P1DT", `duration "P1DT" is not valid: T must be followed by hours, minutes or seconds`},
		{"30D", `duration "30D" is not valid: it must start with P, as in P30D or PT12H`},
		{"-P1D", `duration "-P1D" is not valid: durations are never negative and take no sign`},
		{"P-1D", `duration "P-1D" is not valid: durations are never negative`},
		{"P1.5D", `duration "P1.5D" is not valid: parts must be whole numbers`},
		{"P1,5D", `duration "P1,5D" is not valid: parts must be whole numbers`},
		{"P30", `duration "P30" is not valid: the last number has no designator (Y, M, W, D, H, M or S)`},
		{"PD", `duration "PD" is not valid: expected a number before each designator`},
		{"p30d", `duration "p30d" is not valid: it must start with P, as in P30D or PT12H`},
		{"P30d", `duration "P30d" is not valid: designators are uppercase`},
		{"P1H", `duration "P1H" is not valid: hours, minutes and seconds come after T, as in PT12H`},
		{"PT1D", `duration "PT1D" is not valid: years, months, weeks and days come before T`},
		{"P1D1Y", `duration "P1D1Y" is not valid: designators must appear once each, in the order Y M W D T H M S`},
		{"P1D1D", `duration "P1D1D" is not valid: designators must appear once each, in the order Y M W D T H M S`},
		{"PT1S1H", `duration "PT1S1H" is not valid: designators must appear once each, in the order Y M W D T H M S`},
		{"P1DT1HT1M", `duration "P1DT1HT1M" is not valid: T appears twice`},
		{"P1X", `duration "P1X" is not valid: unknown designator "X"; use Y, M, W, D and, after T, H, M, S`},
		{"P 1D", `duration "P 1D" is not valid: expected a number before each designator`},
		{"P0D", `duration "P0D" is not valid: it is zero long`},
		{"PT0H0M0S", `duration "PT0H0M0S" is not valid: it is zero long`},
		{"P101Y", `duration "P101Y" is not valid: it is longer than 100 years`},
		{"P1201M", `duration "P1201M" is not valid: it is longer than 100 years`},
		{"P100Y1D", `duration "P100Y1D" is not valid: it is longer than 100 years`},
		{"P5300W", `duration "P5300W" is not valid: it is longer than 100 years`},
		{"P1234567890D", `duration "P1234567890D" is not valid: a number is too large`},
		{long, `duration "P` + strings.Repeat("9", 63) + `"… is not valid: a number is too large`},
	} {
		_, err := ParseDuration(c.in)
		if err == nil {
			t.Errorf("ParseDuration(%q) succeeded, want %s", c.in, c.want)
			continue
		}
		if graph.ErrorCode(err) != graph.EINVALID || err.Error() != c.want {
			t.Errorf("ParseDuration(%.20q):\n got %s (%s)\nwant %s", c.in, err, graph.ErrorCode(err), c.want)
		}
	}
}

func TestDurationBefore(t *testing.T) {
	utc := func(y int, m time.Month, d, h, min, s int) time.Time {
		return time.Date(y, m, d, h, min, s, 0, time.UTC)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dur       string
		now, want time.Time
	}{
		{"P30D", utc(2026, 3, 15, 10, 0, 0), utc(2026, 2, 13, 10, 0, 0)},
		{"P1M", utc(2026, 3, 15, 10, 0, 0), utc(2026, 2, 15, 10, 0, 0)},
		// Clamped to the last day of the month reached.
		{"P1M", utc(2026, 3, 31, 10, 0, 0), utc(2026, 2, 28, 10, 0, 0)},
		{"P1M", utc(2024, 3, 31, 10, 0, 0), utc(2024, 2, 29, 10, 0, 0)},
		{"P1M", utc(2024, 3, 29, 10, 0, 0), utc(2024, 2, 29, 10, 0, 0)},
		{"P1M", utc(2026, 5, 31, 23, 59, 59), utc(2026, 4, 30, 23, 59, 59)},
		{"P1Y", utc(2024, 2, 29, 12, 0, 0), utc(2023, 2, 28, 12, 0, 0)},
		{"P4Y", utc(2024, 2, 29, 12, 0, 0), utc(2020, 2, 29, 12, 0, 0)},
		{"P12M", utc(2024, 2, 29, 12, 0, 0), utc(2023, 2, 28, 12, 0, 0)},
		{"P1Y1M", utc(2024, 3, 31, 0, 0, 0), utc(2023, 2, 28, 0, 0, 0)},
		{"P3M", utc(2026, 1, 31, 8, 0, 0), utc(2025, 10, 31, 8, 0, 0)},
		{"P14M", utc(2026, 1, 15, 8, 0, 0), utc(2024, 11, 15, 8, 0, 0)},
		// Months first (clamped), then the exact part.
		{"P1M1D", utc(2026, 3, 31, 10, 0, 0), utc(2026, 2, 27, 10, 0, 0)},
		{"P1W", utc(2026, 3, 1, 0, 0, 0), utc(2026, 2, 22, 0, 0, 0)},
		{"PT36H", utc(2026, 3, 1, 6, 0, 0), utc(2026, 2, 27, 18, 0, 0)},
		{"PT90S", utc(2026, 1, 1, 0, 0, 0), utc(2025, 12, 31, 23, 58, 30)},
		{"P1DT1H1M1S", utc(2026, 1, 2, 1, 1, 1), utc(2026, 1, 1, 0, 0, 0)},
		{"P100Y", utc(2026, 1, 2, 3, 4, 5), utc(1926, 1, 2, 3, 4, 5)},
		// Days are 24 hours exactly: across New York's spring change
		// (8 March 2026, 02:00 EST becomes 03:00 EDT) the clock time moves.
		{"P1D", time.Date(2026, 3, 8, 12, 0, 0, 0, ny), time.Date(2026, 3, 7, 11, 0, 0, 0, ny)},
		// Months keep the clock time in the location.
		{"P1M", time.Date(2026, 3, 9, 12, 0, 0, 0, ny), time.Date(2026, 2, 9, 12, 0, 0, 0, ny)},
	} {
		d, err := ParseDuration(c.dur)
		if err != nil {
			t.Fatalf("ParseDuration(%q): %v", c.dur, err)
		}
		if got := d.Before(c.now); !got.Equal(c.want) {
			t.Errorf("%s before %s = %s, want %s", c.dur, c.now, got, c.want)
		}
	}
	// Nanoseconds survive the calendar step.
	now := time.Date(2026, 3, 31, 1, 2, 3, 456, time.UTC)
	if got, want := (Duration{Months: 1}).Before(now), time.Date(2026, 2, 28, 1, 2, 3, 456, time.UTC); !got.Equal(want) {
		t.Errorf("P1M before %s = %s, want %s", now, got, want)
	}
}
