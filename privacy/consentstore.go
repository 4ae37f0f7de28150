package privacy

// The consent ledger's storage.
//
// A record hangs on the identifier it was given with (Record.Identifier,
// the graph key "type:value"), never on a profile: a profile's ledger is
// the union of its identifiers' records, so a merge carries them and a
// split divides them without any store work. A store keeps records
// whether or not their identifier is stored yet: consent may arrive before
// the first event of the person, and is found once the identifier is.
//
// The store checks records structurally (Record.CheckStored) but not their
// purpose against the rules: the purposes change with the rules file, a
// record written under older rules must stay readable, and the store does
// not know the rules. Callers validate a new record with
// Record.Validate(purposes) before PutConsent.
//
// Both stores implement ConsentStore, and their write transactions
// TxConsent; the suite in privacy/consenttest checks them.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/idgraph/cdp/graph"
)

// ConsentStore is the consent ledger contract every store implements.
//
// Errors: EINVALID for a record CheckStored refuses or a malformed
// identifier key, naming its position and field and never repeating an
// identifier; ECONFLICT for a record whose id is stored (or repeated in the
// batch) with other content; store failures as graph.Store's.
type ConsentStore interface {
	// PutConsent stores records in one transaction and a fixed number of
	// round trips. It is idempotent by record id: a record whose id is
	// already stored with the same content (Record.Equal, times as Clean
	// gives them) is skipped, and so is a repeat within records. When any
	// record conflicts, nothing of the batch is stored.
	PutConsent(ctx context.Context, records []Record) error
	// ConsentOf returns every record of the identifier keys, in one round
	// trip, keyed by identifier key; each key's records are newest first
	// (Compare, reversed). A key without records is absent from the map.
	// Times are as Clean gives them.
	ConsentOf(ctx context.Context, keys []string) (map[string][]Record, error)
	// DeleteConsent removes every record of the identifier keys and
	// returns how many it removed, in one transaction. Erasure uses it.
	DeleteConsent(ctx context.Context, keys []string) (int, error)
}

// PurposeStore is implemented by a ConsentStore that can tell whether a
// purpose has stored records. Profile.consentHistory asks it about a
// purpose the rules do not name: records of a purpose since removed from
// the rules stay readable, while a purpose that no record holds is a
// mistake (a typo) to be refused rather than answered with no history.
type PurposeStore interface {
	// ConsentPurposeStored reports whether any stored record has
	// purpose. It stops at the first it finds, so with none it reads
	// every record. A string that is not a purpose name (PurposeName)
	// has none.
	ConsentPurposeStored(ctx context.Context, purpose string) (bool, error)
}

// PurposeName reports whether s has the form of a purpose name, which
// every stored record's purpose has: a lowercase letter, then at most 63
// lowercase letters, digits and _.
func PurposeName(s string) bool { return isKeyType(s) }

// TxConsent is implemented by the graph.Tx of every store's write
// transaction: its methods work inside that transaction, so an erasure
// deletes consent records, and a caller stores them, atomically with the
// identifiers it changes. Same rules as ConsentStore's methods, except
// that the reads see the transaction's own writes.
type TxConsent interface {
	PutConsent(ctx context.Context, records []Record) error
	ConsentOf(ctx context.Context, keys []string) (map[string][]Record, error)
	DeleteConsent(ctx context.Context, keys []string) (int, error)
}

func txConsent(tx graph.Tx) (TxConsent, error) {
	c, ok := tx.(TxConsent)
	if !ok {
		return nil, fmt.Errorf("privacy: the store's transaction %T cannot hold consent records", tx)
	}
	return c, nil
}

// PutConsentInTx stores records inside tx, a write transaction of a store.
//
// Errors: those of ConsentStore.PutConsent; an internal error when tx's
// store does not implement TxConsent.
func PutConsentInTx(ctx context.Context, tx graph.Tx, records []Record) error {
	c, err := txConsent(tx)
	if err != nil {
		return err
	}
	return c.PutConsent(ctx, records)
}

// ConsentInTx reads the records of keys inside tx, seeing its writes.
//
// Errors: those of ConsentStore.ConsentOf; an internal error when tx's
// store does not implement TxConsent.
func ConsentInTx(ctx context.Context, tx graph.Tx, keys []string) (map[string][]Record, error) {
	c, err := txConsent(tx)
	if err != nil {
		return nil, err
	}
	return c.ConsentOf(ctx, keys)
}

// DeleteConsentInTx removes the records of keys inside tx and returns how
// many.
//
// Errors: those of ConsentStore.DeleteConsent; an internal error when tx's
// store does not implement TxConsent.
func DeleteConsentInTx(ctx context.Context, tx graph.Tx, keys []string) (int, error) {
	c, err := txConsent(tx)
	if err != nil {
		return 0, err
	}
	return c.DeleteConsent(ctx, keys)
}

// CheckStored checks r as a store does: every field as Validate checks it,
// except that the purpose need only be a purpose name (lowercase letters,
// digits and _, up to 64, starting with a letter), known or not.
//
// Errors: EINVALID, naming the field; never repeating the identifier.
func (r Record) CheckStored() error {
	if !recordIDRe.MatchString(r.ID) {
		return graph.Errorf(graph.EINVALID, "consent record id %q is not cns_ followed by 32 lowercase hex digits", clip(r.ID, 50))
	}
	if r.Purpose == "" {
		return graph.Errorf(graph.EINVALID, "purpose is missing")
	}
	if !isKeyType(r.Purpose) {
		return graph.Errorf(graph.EINVALID, "purpose %q is not a purpose name (lowercase letters, digits and _, up to 64, starting with a letter)", clip(r.Purpose, 70))
	}
	only := &Purposes{list: []string{r.Purpose}, known: map[string]bool{r.Purpose: true}}
	return r.Validate(only)
}

// Equal reports whether r and o hold the same content, comparing times
// as instants.
func (r Record) Equal(o Record) bool {
	return r.ID == o.ID && r.Purpose == o.Purpose && r.Status == o.Status && r.At.Equal(o.At) &&
		r.Source == o.Source && r.LegalBasis == o.LegalBasis && r.Identifier == o.Identifier &&
		r.Proof == o.Proof && r.ExpiresAt.Equal(o.ExpiresAt) && r.ReceivedAt.Equal(o.ReceivedAt)
}

// CheckConsent checks a batch for PutConsent and returns what a store
// writes: each record cleaned (Clean), each id once, sorted by id so that
// concurrent writers of overlapping batches lock records in one order.
//
// Errors: EINVALID, "consent record N: ..." naming the field; ECONFLICT
// when an id repeats with other content.
func CheckConsent(records []Record) ([]Record, error) {
	out := make([]Record, 0, len(records))
	first := make(map[string]int, len(records))
	for i, r := range records {
		if err := r.CheckStored(); err != nil {
			return nil, graph.Errorf(graph.EINVALID, "consent record %d: %s", i, graph.ErrorMessage(err))
		}
		r = r.Clean()
		if j, ok := first[r.ID]; ok {
			if !out[j].Equal(r) {
				return nil, graph.Errorf(graph.ECONFLICT, "consent record %d has the id %s of an earlier record of the batch, with other content", i, r.ID)
			}
			continue
		}
		first[r.ID] = len(out)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Record) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// ConflictError is the error of a store that finds record id stored with
// other content.
func ConflictError(id string) error {
	return graph.Errorf(graph.ECONFLICT, "consent record %s is already stored with other content; nothing of the batch was stored", id)
}

// CheckIdentifierKeys refuses a list of identifier keys when one is not a
// graph key, naming its position and never its value. It checks the keys
// of reads and deletions (ConsentOf, DeleteConsent), which name the
// identifiers a store holds: their shape only (a type, ":", a value of
// UTF-8 that is not empty), not today's normalization, which a value an
// earlier version stored may not pass (a tab inside, refused since
// 2026-12-02): that person's records must still be read (an export) and
// deleted (an erasure). A record written must name its identifier as
// normalized now (Record.Validate).
//
// Errors: EINVALID.
func CheckIdentifierKeys(keys []string) error {
	for i, k := range keys {
		if err := checkStoredKey(k); err != nil {
			return graph.Errorf(graph.EINVALID, "identifier key %d: %s", i, graph.ErrorMessage(err))
		}
	}
	return nil
}

// checkStoredKey checks the shape of a graph key a store may hold.
func checkStoredKey(key string) error {
	typ, val, ok := strings.Cut(key, ":")
	switch {
	case key == "":
		return graph.Errorf(graph.EINVALID, "identifier is missing")
	case !ok || !isKeyType(typ):
		return graph.Errorf(graph.EINVALID, "identifier is not a graph key (type:value, the type in lowercase letters, digits and _)")
	case val == "" || !utf8.ValidString(val):
		return graph.Errorf(graph.EINVALID, "identifier %s has an empty value or one that is not UTF-8", typ)
	}
	return nil
}

// SortNewestFirst orders each key's records newest first (Compare,
// reversed), in place: what ConsentOf returns.
func SortNewestFirst(m map[string][]Record) {
	for _, rs := range m {
		slices.SortFunc(rs, func(a, b Record) int { return Compare(b, a) })
	}
}

// ErasedConsentHook is the graph.BeforeCommit that deletes, in a
// correction's own transaction, the consent records of the identifiers the
// correction erases (graph.Write.DeleteIdentifiers): records hang on
// identifiers, so an identifier removed takes its records with it.
func ErasedConsentHook() graph.BeforeCommit {
	return func(ctx context.Context, tx graph.Tx, w *graph.Write) error {
		if w == nil || len(w.DeleteIdentifiers) == 0 {
			return nil
		}
		_, err := DeleteConsentInTx(ctx, tx, w.DeleteIdentifiers)
		return err
	}
}
