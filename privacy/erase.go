package privacy

// Erasure (GDPR Article 17).
//
// Eraser puts together what erasing a person takes: the engine's erasure
// (graph.Engine.ForgetProfile and ForgetIdentifier remove the identifiers
// and everything only they carried, and scrub what they shared), the
// deletion of their consent records, their suppression (so that re-sent
// messages do not bring them back) and a receipt, all in the erasure's one
// transaction; then, on a store whose file keeps freed bytes (the embedded
// store), the zeroing of every freed page, so that the erased values are
// gone from the file when the call returns.

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/idgraph/cdp/graph"
)

// Scrubber is implemented by a store whose file keeps the bytes of deleted
// data until they are overwritten: Scrub overwrites them.
type Scrubber interface {
	ScrubFreed(ctx context.Context) error
}

// Requester names the API key that asked for an erasure, for its receipt;
// both empty in open mode.
type Requester struct {
	KeyID   string
	KeyName string
}

// ReceiptHook runs in an erasure's transaction once its receipt r is
// stored (an audit entry naming the receipt, say); like graph.EraseHook it
// may run more than once, must not keep state between runs, and rolls the
// erasure back with its error.
type ReceiptHook func(ctx context.Context, tx graph.Tx, w *graph.Write, x *graph.Erasure, r ErasureReceipt) error

// Eraser erases people. It is safe for concurrent use.
type Eraser struct {
	engine *graph.Engine
	list   *SuppressionList
	scrub  Scrubber // nil when the store needs none
}

// NewEraser returns the Eraser of engine's store, whose suppression list is
// list.
func NewEraser(engine *graph.Engine, list *SuppressionList) *Eraser {
	x := &Eraser{engine: engine, list: list}
	if s, ok := engine.Store().(Scrubber); ok {
		x.scrub = s
	}
	return x
}

// List is the eraser's suppression list.
func (x *Eraser) List() *SuppressionList { return x.list }

// ForgetProfile erases the person of profile id (an id merged away answers
// for its survivor) and returns the receipt. extra, when not nil, runs in
// the erasure's transaction after the receipt is stored (an audit entry,
// say).
//
// Errors: EINVALID (a reason graph.ReasonProblem refuses), ENOTFOUND, the store's; after a
// commit, an error from zeroing the freed pages, with the receipt.
func (x *Eraser) ForgetProfile(ctx context.Context, id, reason string, by Requester, extra ReceiptHook) (ErasureReceipt, error) {
	var r ErasureReceipt
	_, err := x.engine.ForgetProfile(ctx, id, reason, x.hook(ErasureProfile, reason, by, &r, extra))
	if err != nil {
		return ErasureReceipt{}, err
	}
	return r, x.scrubFile(ctx, r.ID)
}

// ForgetIdentifier erases one identifier and what only it carried, and
// returns the receipt and the profiles that remain of its profile.
//
// Errors: as ForgetProfile, and EINVALID for an identifier that does not
// normalize.
func (x *Eraser) ForgetIdentifier(ctx context.Context, ref graph.IdentifierRef, reason string, by Requester, extra ReceiptHook) (ErasureReceipt, []graph.Profile, error) {
	var r ErasureReceipt
	e, err := x.engine.ForgetIdentifier(ctx, ref, reason, x.hook(ErasureIdentifier, reason, by, &r, extra))
	if err != nil {
		return ErasureReceipt{}, nil, err
	}
	return r, e.Profiles, x.scrubFile(ctx, r.ID)
}

// RemoveIdentifier is the identity correction: the engine's erasure of one
// identifier (which scrubs shared events, traits, links and history of its
// values) with its consent records deleted in the same transaction and
// the freed pages zeroed, but no suppression and no receipt. extra, when
// not nil, runs in the transaction (the correction's audit entry, whose
// reason it can scrub with x.ScrubText), and so do the hooks ctx carries.
//
// Errors: as graph.Engine.ForgetIdentifier.
func (x *Eraser) RemoveIdentifier(ctx context.Context, ref graph.IdentifierRef, reason string, extra graph.EraseHook) ([]graph.Profile, error) {
	e, err := x.engine.ForgetIdentifier(ctx, ref, reason, func(ctx context.Context, tx graph.Tx, w *graph.Write, e *graph.Erasure) error {
		if _, err := DeleteConsentInTx(ctx, tx, e.Keys); err != nil {
			return err
		}
		if extra != nil {
			return extra(ctx, tx, w, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e.Profiles, x.scrubFile(ctx, "")
}

// Unsuppress lifts the suppression of an identifier, for a person who
// comes back, and reports whether it was suppressed. It runs in one write
// transaction of the store with extra, when not nil (the mutation's audit
// entry, say): an error from extra leaves the identifier suppressed.
//
// Errors: EINVALID (a reason graph.ReasonProblem refuses, an identifier
// that does not normalize), extra's, the store's.
func (x *Eraser) Unsuppress(ctx context.Context, ref graph.IdentifierRef, reason string, extra func(ctx context.Context, tx graph.Tx) error) (bool, error) {
	if p := graph.ReasonProblem(reason); p != "" {
		return false, graph.Errorf(graph.EINVALID, "reason %s", p)
	}
	n, err := x.engine.NormalizeRef(ref)
	if err != nil {
		return false, err
	}
	if x.list == nil {
		return false, graph.Errorf(graph.EUNAVAILABLE, "unsuppress needs the suppression list, which this server has not opened")
	}
	hash := x.list.Hash(n.Key())
	var was bool
	err = x.engine.Store().Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		var err error
		if was, err = UnsuppressInTx(ctx, tx, hash); err != nil {
			return err
		}
		if extra != nil {
			return extra(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return was, nil
}

// hook is the graph.EraseHook of one erasure: it deletes the erased
// identifiers' consent records, suppresses them, stores the receipt (into
// *out) and runs extra.
func (x *Eraser) hook(kind, reason string, by Requester, out *ErasureReceipt, extra ReceiptHook) graph.EraseHook {
	id := NewReceiptID()
	return func(ctx context.Context, tx graph.Tx, w *graph.Write, e *graph.Erasure) error {
		*out = ErasureReceipt{} // a run may follow a failed one
		if x.list == nil {
			return graph.Errorf(graph.EUNAVAILABLE, "erasure needs the suppression list, which this server has not opened")
		}
		// The person's latest decisions held by the erased identifier
		// stay theirs: read before its records go, written after.
		var carried []Record
		if kind == ErasureIdentifier {
			var err error
			if carried, err = carryLatest(ctx, tx, e); err != nil {
				return err
			}
		}
		consent, err := DeleteConsentInTx(ctx, tx, e.Keys)
		if err != nil {
			return err
		}
		if err := PutConsentInTx(ctx, tx, carried); err != nil {
			return err
		}
		entries, _ := x.list.Entries(x.suppressKeys(e.Keys), w.At, "erasure "+id)
		if err := SuppressInTx(ctx, tx, entries); err != nil {
			return err
		}
		r := ErasureReceipt{
			ID: id, At: w.At, Kind: kind, Reason: clipUTF8(e.ScrubText(strings.TrimSpace(reason)), MaxReceiptReasonLen),
			KeyID: clipUTF8(by.KeyID, 200), KeyName: clipUTF8(by.KeyName, 200),
			Identifiers: len(e.Keys), Events: e.Events, ScrubbedEvents: e.ScrubbedEvents, Traits: e.Traits,
			ConsentRecords: consent, SuppressedHashes: len(entries),
		}
		if err := PutReceiptInTx(ctx, tx, r); err != nil {
			return err
		}
		if extra != nil {
			if err := extra(ctx, tx, w, e, r); err != nil {
				return err
			}
		}
		*out = r
		return nil
	}
}

// suppressKeys returns the keys an erasure of keys suppresses: each key,
// and the key its value normalizes to now when that is another. A value
// stored under an earlier normalization (an email's final sigma, kept as
// sent until 2026-12-07) is sent again under today's key, which must be
// on the list too for the person to stay erased.
func (x *Eraser) suppressKeys(keys []string) []string {
	out := slices.Clone(keys)
	for _, k := range keys {
		n, why := x.engine.Normalizer().Normalize(graph.SplitKey(k))
		if why == "" && n.Key() != k && !slices.Contains(out, n.Key()) {
			out = append(out, n.Key())
		}
	}
	return out
}

// scrubFile zeroes the store file's freed pages, when the store keeps them.
func (x *Eraser) scrubFile(ctx context.Context, receipt string) error {
	if x.scrub == nil {
		return nil
	}
	if err := x.scrub.ScrubFreed(ctx); err != nil {
		if receipt != "" {
			return graph.Errorf(graph.EUNAVAILABLE, "erasure %s committed, but zeroing the store file's freed pages failed (%v); the next erasure zeroes them", receipt, err)
		}
		return graph.Errorf(graph.EUNAVAILABLE, "the correction committed, but zeroing the store file's freed pages failed (%v); the next erasure zeroes them", err)
	}
	return nil
}

// carriedID returns a new id for the copy of gone carried to a part
// whose records are mine. The state rule orders records dated alike (the
// same at and receivedAt: decisions of one request) by id, and gone, the
// part's newest, was greater than every such record of its purpose; so is
// the id returned, chosen at random above the greatest of them, so that
// the copy keeps gone's place and the part's state. Without such a record
// any new id does.
func carriedID(gone Record, mine []Record) string {
	floor := ""
	for _, r := range mine {
		if r.Purpose == gone.Purpose && r.At.Equal(gone.At) && r.ReceivedAt.Equal(gone.ReceivedAt) && r.ID > floor {
			floor = r.ID
		}
	}
	if floor == "" {
		return NewRecordID()
	}
	f, ok := new(big.Int).SetString(strings.TrimPrefix(floor, "cns_"), 16)
	top := new(big.Int).Lsh(big.NewInt(1), 128) // ids are 32 hex digits
	if !ok || f.Cmp(top) >= 0 {
		return NewRecordID() // not an id CheckStored lets in
	}
	// Uniform in (floor, top): floor + 1 + n, n in [0, top-floor-1).
	span := new(big.Int).Sub(top, f)
	span.Sub(span, big.NewInt(1))
	if span.Sign() <= 0 {
		// floor is the greatest id there is, so gone, greater than
		// floor, cannot exist: keep gone's own id, deleted with it.
		return gone.ID
	}
	n, err := rand.Int(rand.Reader, span)
	if err != nil {
		return gone.ID
	}
	n.Add(n, f).Add(n, big.NewInt(1))
	return fmt.Sprintf("cns_%032x", n)
}

// clipUTF8 cuts s to at most n bytes without splitting a rune.
func clipUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// carryLatest returns, for a forgetIdentifier erasure e (its write
// applied, its identifiers' records not yet deleted), the records that
// keep the consent state of what remains of the profile: for each part
// (e.Profiles) and purpose whose newest record, the erased identifiers'
// included, is an erased identifier's, a copy of that record on the
// part's first identifier (by key), with a new id and without its proof's
// text and event id (the text may name the erased value, the event may be
// deleted). So erasing an identifier never changes the person's state: a
// withdrawal recorded on it does not give way to an older grant on an
// identifier that stays.
func carryLatest(ctx context.Context, tx graph.Tx, e *graph.Erasure) ([]Record, error) {
	if len(e.Profiles) == 0 || len(e.Keys) == 0 {
		return nil, nil
	}
	erasedBy, err := ConsentInTx(ctx, tx, e.Keys)
	if err != nil || len(erasedBy) == 0 {
		return nil, err
	}
	var erased []Record
	for _, k := range e.Keys {
		erased = append(erased, erasedBy[k]...)
	}
	pids := make([]string, 0, len(e.Profiles))
	for _, p := range e.Profiles {
		pids = append(pids, p.ID)
	}
	ms, err := tx.Members(ctx, pids)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, pid := range pids {
		for _, m := range ms[pid] {
			keys = append(keys, m.Key)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	stayBy, err := ConsentInTx(ctx, tx, keys)
	if err != nil {
		return nil, err
	}
	purposes := map[string]bool{}
	for _, r := range erased {
		purposes[r.Purpose] = true
	}
	var out []Record
	for _, pid := range pids {
		if len(ms[pid]) == 0 {
			continue
		}
		part := make([]string, 0, len(ms[pid]))
		var mine []Record
		for _, m := range ms[pid] {
			part = append(part, m.Key)
			mine = append(mine, stayBy[m.Key]...)
		}
		slices.Sort(part)
		// The first identifier (by key) a record can name: one stored by
		// an earlier version that today's normalization refuses (a tab
		// inside) is passed over.
		target := ""
		for _, k := range part {
			if checkIdentifier(k) == nil {
				target = k
				break
			}
		}
		if target == "" {
			continue
		}
		for _, purpose := range slices.Sorted(maps.Keys(purposes)) {
			gone := StateOf(erased, purpose, time.Time{}).Record
			kept := StateOf(mine, purpose, time.Time{}).Record
			if gone == nil || (kept != nil && Compare(*kept, *gone) > 0) {
				continue
			}
			c := *gone
			c.ID, c.Identifier = carriedID(*gone, mine), target
			c.Proof = Proof{Version: gone.Proof.Version, Channel: gone.Proof.Channel, Collector: gone.Proof.Collector}
			out = append(out, c)
		}
	}
	return out, nil
}
