package audience

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/idgraph/cdp/graph"
)

// Duration is an ISO-8601 duration as event conditions (within) and
// computed trait windows use it: P[nY][nM][nW][nD][T[nH][nM][nS]], whole
// numbers only, none negative, at least one part, longer than zero and at
// most MaxDurationYears long.
type Duration struct {
	Years, Months, Weeks, Days, Hours, Minutes, Seconds int
}

// MaxDurationYears bounds a duration: no window reaches further back.
const MaxDurationYears = 100

// Lengths used only to bound a duration: a mean Gregorian year and month.
const (
	secondsPerDay   = 86400
	secondsPerYear  = 365.2425 * secondsPerDay
	secondsPerMonth = secondsPerYear / 12
)

// ParseDuration parses an ISO-8601 duration such as P30D, PT12H, P1Y2M or
// P2W. Designators are uppercase and in the order Y M W D, then T and
// H M S, each at most once.
//
// Errors: EINVALID, saying what is wrong; the input is quoted only when
// short, and clipped otherwise.
func ParseDuration(s string) (Duration, error) {
	var d Duration
	bad := func(why string) (Duration, error) {
		return Duration{}, graph.Errorf(graph.EINVALID, "duration %s is not valid: %s", quoteClip(s), why)
	}
	if s == "" {
		return bad("it is empty; write an ISO-8601 duration such as P30D or PT12H")
	}
	if s[0] == '-' || s[0] == '+' {
		return bad("durations are never negative and take no sign")
	}
	if s[0] != 'P' {
		return bad("it must start with P, as in P30D or PT12H")
	}
	rest := s[1:]
	if rest == "" {
		return bad("it has no parts after P")
	}
	// The designators of each half, in their required order; "M" means
	// months before T and minutes after it.
	date := []byte{'Y', 'M', 'W', 'D'}
	clock := []byte{'H', 'M', 'S'}
	order, next := date, 0
	inTime, parts, timeParts := false, 0, 0
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return bad("T appears twice")
			}
			inTime, order, next = true, clock, 0
			rest = rest[1:]
			continue
		}
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 0 {
			switch {
			case rest[0] == '-':
				return bad("durations are never negative")
			case rest[0] == '.' || rest[0] == ',':
				return bad("parts must be whole numbers")
			default:
				return bad("expected a number before each designator")
			}
		}
		if n == len(rest) {
			return bad("the last number has no designator (Y, M, W, D, H, M or S)")
		}
		if rest[n] == '.' || rest[n] == ',' {
			return bad("parts must be whole numbers")
		}
		if n > 9 {
			return bad("a number is too large")
		}
		v, _ := strconv.Atoi(rest[:n]) // at most 9 digits: cannot fail
		unit := rest[n]
		rest = rest[n+1:]
		i := next
		for i < len(order) && order[i] != unit {
			i++
		}
		if i == len(order) {
			switch {
			case strings.IndexByte("ymwdhs", unit) >= 0:
				return bad("designators are uppercase")
			case !inTime && (unit == 'H' || unit == 'S'):
				return bad("hours, minutes and seconds come after T, as in PT12H")
			case inTime && (unit == 'Y' || unit == 'W' || unit == 'D'):
				return bad("years, months, weeks and days come before T")
			case strings.IndexByte("YMWDHS", unit) >= 0:
				return bad("designators must appear once each, in the order Y M W D T H M S")
			default:
				return bad("unknown designator " + strconv.Quote(string(rune(unit))) + "; use Y, M, W, D and, after T, H, M, S")
			}
		}
		next = i + 1
		parts++
		switch {
		case !inTime && unit == 'Y':
			d.Years = v
		case !inTime && unit == 'M':
			d.Months = v
		case unit == 'W':
			d.Weeks = v
		case unit == 'D':
			d.Days = v
		case unit == 'H':
			d.Hours = v
		case inTime && unit == 'M':
			d.Minutes = v
		case unit == 'S':
			d.Seconds = v
		}
		if inTime {
			timeParts++
		}
	}
	if inTime && timeParts == 0 {
		return bad("T must be followed by hours, minutes or seconds")
	}
	if parts == 0 {
		return bad("it has no parts after P")
	}
	switch l := d.approxSeconds(); {
	case l == 0:
		return bad("it is zero long")
	case l > MaxDurationYears*secondsPerYear:
		return bad("it is longer than " + strconv.Itoa(MaxDurationYears) + " years")
	}
	return d, nil
}

// approxSeconds is the duration's length with mean years and months, for
// bounds only.
func (d Duration) approxSeconds() float64 {
	return float64(d.Years)*secondsPerYear + float64(d.Months)*secondsPerMonth +
		float64(d.Weeks*7+d.Days)*secondsPerDay +
		float64(d.Hours)*3600 + float64(d.Minutes)*60 + float64(d.Seconds)
}

// Before returns the start of the window of length d ending at now. Years
// and months are calendar ones: now's date moved back by 12*Years+Months
// months, its day clamped to the last day of the month reached (31 March
// minus P1M is 28 or 29 February; 29 February minus P1Y is 28 February),
// at the same clock time in now's location. Weeks, days, hours, minutes
// and seconds are then taken off exactly (a day is 24 hours, whatever the
// location's daylight saving does), so in UTC a day is a calendar day.
func (d Duration) Before(now time.Time) time.Time {
	t := now
	if months := d.Years*12 + d.Months; months != 0 {
		y, m, day := now.Date()
		// Month arithmetic on the month's first day never overflows into
		// the next month; the day is then clamped.
		first := time.Date(y, m-time.Month(months), 1, 0, 0, 0, 0, now.Location())
		last := time.Date(first.Year(), first.Month()+1, 0, 0, 0, 0, 0, now.Location()).Day()
		hh, mm, ss := now.Clock()
		t = time.Date(first.Year(), first.Month(), min(day, last), hh, mm, ss, now.Nanosecond(), now.Location())
	}
	exact := time.Duration(d.Weeks*7+d.Days)*24*time.Hour +
		time.Duration(d.Hours)*time.Hour + time.Duration(d.Minutes)*time.Minute + time.Duration(d.Seconds)*time.Second
	return t.Add(-exact)
}

// String returns the duration in its canonical ISO-8601 form: the parts
// that are not zero, in order ("P1Y2M", "PT36H", "P2W3D"). ParseDuration
// of the result gives d back.
func (d Duration) String() string {
	var b strings.Builder
	b.WriteByte('P')
	part := func(v int, unit byte) {
		if v != 0 {
			b.WriteString(strconv.Itoa(v))
			b.WriteByte(unit)
		}
	}
	part(d.Years, 'Y')
	part(d.Months, 'M')
	part(d.Weeks, 'W')
	part(d.Days, 'D')
	if d.Hours != 0 || d.Minutes != 0 || d.Seconds != 0 {
		b.WriteByte('T')
		part(d.Hours, 'H')
		part(d.Minutes, 'M')
		part(d.Seconds, 'S')
	}
	if b.Len() == 1 {
		return "PT0S"
	}
	return b.String()
}

// maxQuoted bounds how much of a user's text an error message repeats.
const maxQuoted = 64

// quoteClip quotes s for an error message, clipped to maxQuoted bytes on
// a rune boundary with "…" marking the cut.
func quoteClip(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	n := maxQuoted
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strconv.Quote(s[:n]) + "…"
}
