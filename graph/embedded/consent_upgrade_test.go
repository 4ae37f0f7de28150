package embedded

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/privacy"
)

// A file of a layout before 8 opens with an empty consent ledger that takes
// records; the layout 8 fixture reads back the records writeLayoutDataset
// wrote, as worked out here by hand.
func TestConsentAfterUpgrade(t *testing.T) {
	ctx := context.Background()
	nobody := "email:nobody@example.com"
	eachFixture(t, func(t *testing.T, v uint64, s *Store) {
		got, err := s.ConsentOf(ctx, []string{kEmail, nobody, kUser})
		if err != nil {
			t.Fatal(err)
		}
		if v < 8 {
			if len(got) != 0 {
				t.Fatalf("an upgraded file holds consent records: %v", got)
			}
			r := privacy.Record{ID: "cns_" + strings.Repeat("d4", 16), Purpose: "sms", Status: privacy.StatusGranted,
				At: lt(5), Source: "app", LegalBasis: privacy.BasisConsent, Identifier: kPhone, ReceivedAt: lt(5)}
			if err := s.PutConsent(ctx, []privacy.Record{r}); err != nil {
				t.Fatal(err)
			}
			got, err := s.ConsentOf(ctx, []string{kPhone})
			if err != nil {
				t.Fatal(err)
			}
			if len(got[kPhone]) != 1 || !got[kPhone][0].Equal(r) {
				t.Fatalf("after one PutConsent: %v", got)
			}
			return
		}
		wantEmail := []privacy.Record{
			{ID: "cns_b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2", Purpose: "email", Status: privacy.StatusWithdrawn, At: lt(2),
				Source: "crm", LegalBasis: privacy.BasisConsent, Identifier: "email:ann@example.com", ReceivedAt: lt(2)},
			{ID: "cns_a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", Purpose: "email", Status: privacy.StatusGranted, At: lt(1),
				Source: "crm", LegalBasis: privacy.BasisConsent, Identifier: "email:ann@example.com",
				Proof: privacy.Proof{Text: "Send me news.\nUnsubscribe any time.", Version: "v3", Channel: "web",
					Collector: "signup-form", EventID: "crm/m-2"},
				ExpiresAt: lt(100), ReceivedAt: lt(1).Add(1500 * time.Microsecond)},
		}
		wantNobody := privacy.Record{ID: "cns_c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3", Purpose: "advertising", Status: privacy.StatusDenied,
			At: time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC), Source: "import", LegalBasis: privacy.BasisLegitimateInterests,
			Identifier: nobody, Proof: privacy.Proof{Version: "banner-2"}, ReceivedAt: lt(3)}
		if len(got) != 2 || len(got[kEmail]) != 2 || len(got[nobody]) != 1 {
			t.Fatalf("ConsentOf = %v, want 2 records of the email and 1 of nobody", got)
		}
		for i, w := range wantEmail {
			if !got[kEmail][i].Equal(w) {
				t.Errorf("email record %d = %+v, want %+v", i, got[kEmail][i], w)
			}
		}
		if !got[nobody][0].Equal(wantNobody) {
			t.Errorf("nobody's record = %+v, want %+v", got[nobody][0], wantNobody)
		}
		if err := s.view(ctx, consentIndexConsistent); err != nil {
			t.Fatal(err)
		}
	})
}

// consentIndexConsistent checks that every id entry points to a record and
// that the ledger holds no record without one.
func consentIndexConsistent(btx *bolt.Tx) error {
	b, ids := btx.Bucket(bucketConsent), btx.Bucket(bucketConsentIDs)
	n := 0
	err := ids.ForEach(func(id, prefix []byte) error {
		n++
		if b.Get(append(bytes.Clone(prefix), id...)) == nil {
			return fmt.Errorf("consent id %s has no record", id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if m := b.Stats().KeyN; m != n {
		return fmt.Errorf("the consent ledger holds %d records and its id index %d", m, n)
	}
	return nil
}
