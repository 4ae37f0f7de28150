package audience

import (
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
)

// benchFacts is a profile like the bench population's: four identifiers,
// five string traits, nine events over seven days.
func benchFacts() Facts {
	s := &Subject{
		Traits: map[string]any{"email": "ann.smith@example.com", "firstName": "Ann", "lastName": "Smith", "phone": "+15550100", "company": "example.com"},
		Identifiers: []graph.Identifier{{Key: "email:ann.smith@example.com", Type: "email"}, {Key: "phone:+15550100", Type: "phone"},
			{Key: "user_id:u-12345", Type: "user_id"}, {Key: "anonymous_id:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", Type: "anonymous_id"}},
	}
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	names := []string{"Order Completed", "Page Viewed", "Email Opened", "Product Viewed"}
	for i := range 9 {
		s.Events = append(s.Events, graph.Event{Name: names[i%4], Type: "track", Timestamp: at.Add(time.Duration(i) * 19 * time.Hour)})
	}
	return FactsOf("p_1", s)
}

func BenchmarkDecodeFacts(b *testing.B) {
	f := benchFacts()
	enc, err := EncodeFacts(&f)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeFacts("p_1", enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFactsPage decodes a page of 500 profiles' facts with
// one FactsDecoder, as a store's Facts does.
func BenchmarkDecodeFactsPage(b *testing.B) {
	f := benchFacts()
	enc, err := EncodeFacts(&f)
	if err != nil {
		b.Fatal(err)
	}
	s := string(enc)
	b.SetBytes(int64(500 * len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		var d FactsDecoder
		for range 500 {
			if _, err := d.Decode("p_1", s); err != nil {
				b.Fatal(err)
			}
		}
	}
}
