package datetime

import (
	"bytes"
	"testing"
	"time"
)

func TestUnmarshalDateTime(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time // zero: refused
	}{
		{"2024-05-01T12:00:00Z", time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)},
		{"2024-05-01t12:00:00z", time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)},
		{"2024-05-01T14:00:00.5+02:00", time.Date(2024, 5, 1, 12, 0, 0, 5e8, time.UTC)},
		{"2024-05-01T12:00:00-00:00", time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)},
		{"2024-05-01T12:00:00+23:59", time.Date(2024, 4, 30, 12, 1, 0, 0, time.UTC)},
		{"0001-01-01T00:00:00.000001Z", time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC)},
		{"9999-12-31T23:59:59.999999999Z", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		// RFC 3339 (5.6): time-numoffset hours are 00 to 23, the fraction
		// follows a full stop.
		{"2024-05-01T12:00:00+24:00", time.Time{}},
		{"2024-05-01T12:00:00-99:00", time.Time{}},
		{"2024-05-01T12:00:00,5Z", time.Time{}},
		{"2024-05-01T12:00:00+0200", time.Time{}},
		{"2024-05-01T12:00:00", time.Time{}},
		{"2024-05-01 12:00:00Z", time.Time{}},
		{"2024-05-01", time.Time{}},
		{"", time.Time{}},
		{"2024-02-30T12:00:00Z", time.Time{}},
	} {
		got, err := UnmarshalDateTime(c.in)
		if c.want.IsZero() {
			if err == nil {
				t.Errorf("%q: read as %s, want refused", c.in, got)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%q: %s, %v; want %s", c.in, got, err, c.want)
		}
	}
	if _, err := UnmarshalDateTime(1714564800); err == nil {
		t.Error("a number was read as a date-time")
	}
}

func TestMarshalDateTimeIsUTC(t *testing.T) {
	var b bytes.Buffer
	MarshalDateTime(time.Date(2024, 5, 1, 14, 0, 0, 123456000, time.FixedZone("", 2*3600))).MarshalGQL(&b)
	if got, want := b.String(), `"2024-05-01T12:00:00.123456Z"`; got != want {
		t.Errorf("marshalled %s, want %s", got, want)
	}
	b.Reset()
	MarshalDateTime(time.Time{}).MarshalGQL(&b)
	if b.String() != "null" {
		t.Errorf("the zero time marshalled %s, want null", b.String())
	}
}
