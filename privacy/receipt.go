package privacy

// Erasure receipts.
//
// Every erasure (forgetProfile, forgetIdentifier) leaves a receipt: the
// proof that a request was carried out, when, why and at whose request,
// with counts of what went. A receipt holds no personal data: no
// identifier, no profile id (a profile id is derived from an identifier),
// and a reason from which the erased values were scrubbed. It is written in
// the erasure's own transaction, so there is a receipt exactly when the
// erasure committed.
//
// Both stores implement ReceiptStore, and their write transactions
// TxReceipts; the suite in privacy/receipttest checks them.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/idgraph/cdp/graph"
)

// Erasure kinds: what a receipt's request named.
const (
	ErasureProfile    = "profile"    // forgetProfile
	ErasureIdentifier = "identifier" // forgetIdentifier
)

// MaxReceiptReasonLen bounds ErasureReceipt.Reason.
const MaxReceiptReasonLen = 1000

// MaxReceiptPage bounds ReceiptQuery.Limit.
const MaxReceiptPage = 1000

var receiptIDRe = regexp.MustCompile(`^rcp_[0-9a-f]{32}$`)

// NewReceiptID returns a new receipt id: "rcp_" and 16 random bytes in
// lowercase hex.
func NewReceiptID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return "rcp_" + hex.EncodeToString(b)
}

// ErasureReceipt records one erasure. It holds no personal data.
type ErasureReceipt struct {
	ID      string    // NewReceiptID
	At      time.Time // when the erasure committed, as graph.Clean gives it
	Kind    string    // ErasureProfile or ErasureIdentifier
	Reason  string    // as the caller gave it, with erased values replaced
	KeyID   string    // the API key that asked; empty in open mode
	KeyName string
	// Counts of what the erasure removed.
	Identifiers      int // identifiers erased
	Events           int // events deleted (carried only by erased identifiers)
	ScrubbedEvents   int // events kept (for others, or the rest of the profile), with erased values removed
	Traits           int // trait values removed, on erased identifiers and others'
	ConsentRecords   int // consent records deleted
	SuppressedHashes int // hashes added to the suppression list
}

// Validate checks every field of r as a store keeps it.
//
// Errors: EINVALID, naming the field.
func (r ErasureReceipt) Validate() error {
	switch {
	case !receiptIDRe.MatchString(r.ID):
		return graph.Errorf(graph.EINVALID, "receipt id must be rcp_ and 32 lowercase hex digits")
	case r.At.IsZero():
		return graph.Errorf(graph.EINVALID, "receipt time is missing")
	case r.Kind != ErasureProfile && r.Kind != ErasureIdentifier:
		return graph.Errorf(graph.EINVALID, "receipt kind must be %q or %q", ErasureProfile, ErasureIdentifier)
	case strings.TrimSpace(r.Reason) == "":
		return graph.Errorf(graph.EINVALID, "receipt reason is missing")
	case len(r.Reason) > MaxReceiptReasonLen || !utf8.ValidString(r.Reason):
		return graph.Errorf(graph.EINVALID, "receipt reason must be at most %d bytes of UTF-8", MaxReceiptReasonLen)
	case len(r.KeyID) > 200 || len(r.KeyName) > 200:
		return graph.Errorf(graph.EINVALID, "receipt key id and name must be at most 200 bytes")
	}
	for _, c := range []struct {
		name string
		n    int
	}{
		{"identifiers", r.Identifiers}, {"events", r.Events}, {"scrubbedEvents", r.ScrubbedEvents},
		{"traits", r.Traits}, {"consentRecords", r.ConsentRecords}, {"suppressedHashes", r.SuppressedHashes},
	} {
		if c.n < 0 {
			return graph.Errorf(graph.EINVALID, "receipt count %s is negative", c.name)
		}
	}
	return nil
}

// ReceiptCursor is a position in the receipt list, newest first: receipts
// strictly after it come next.
type ReceiptCursor struct {
	At time.Time
	ID string
}

// ReceiptQuery selects a page of receipts, newest first (At descending,
// then ID descending).
type ReceiptQuery struct {
	After *ReceiptCursor // nil: from the newest
	Limit int            // 1..MaxReceiptPage
}

// Check refuses a query a store must not run.
//
// Errors: EINVALID.
func (q ReceiptQuery) Check() error {
	if q.Limit < 1 || q.Limit > MaxReceiptPage {
		return graph.Errorf(graph.EINVALID, "receipt page size must be between 1 and %d, got %d", MaxReceiptPage, q.Limit)
	}
	return nil
}

// Admits reports whether r comes after c in receipt order. A nil cursor
// admits all.
func (c *ReceiptCursor) Admits(r ErasureReceipt) bool {
	if c == nil {
		return true
	}
	if r.At.Equal(c.At) {
		return r.ID < c.ID
	}
	return r.At.Before(c.At)
}

// ReceiptStore is the receipt contract every store implements.
//
// Errors: EINVALID for a query Check refuses; store failures as
// graph.Store's.
type ReceiptStore interface {
	// Receipts returns the receipts q selects, newest first (At
	// descending, then ID descending), in one round trip.
	Receipts(ctx context.Context, q ReceiptQuery) ([]ErasureReceipt, error)
	// CountReceipts counts the stored receipts.
	CountReceipts(ctx context.Context) (int, error)
}

// TxReceipts is implemented by the graph.Tx of every store's write
// transaction: the receipt commits with the erasure it records.
type TxReceipts interface {
	// PutReceipt stores r, which must pass Validate (EINVALID otherwise),
	// with At cleaned (graph.Clean). A receipt whose id is stored already
	// is an ECONFLICT.
	PutReceipt(ctx context.Context, r ErasureReceipt) error
}

// PutReceiptInTx stores r inside tx, a write transaction of a store.
//
// Errors: those of TxReceipts.PutReceipt; an internal error when tx's
// store does not implement TxReceipts.
func PutReceiptInTx(ctx context.Context, tx graph.Tx, r ErasureReceipt) error {
	t, ok := tx.(TxReceipts)
	if !ok {
		return fmt.Errorf("privacy: the store's transaction %T cannot hold erasure receipts", tx)
	}
	return t.PutReceipt(ctx, r)
}
