// Package access holds the types, rules and store contract of access
// control: API keys with scopes, and the audit log. It does no I/O of its
// own and imports only graph; both stores implement Store, and the suite in
// access/accesstest checks them.
//
// # Keys
//
// A key's secret ("cdp_" and 32 random bytes, base64url) is shown once, at
// creation; a store keeps only HashSecret of it and finds a key by that hash
// in one indexed read (KeyByHash). A caller first refuses a malformed secret
// with CheckSecret, so garbage never reaches the store.
//
// # Audit atomicity
//
// A mutation's audit entry must be written in the same transaction as its
// effect. graph cannot know this package, so the bridge is made of two
// store-neutral pieces:
//
//   - The graph.Tx that every store hands to graph.Store.Update also
//     implements TxAuditor; AppendInTx appends entries through it.
//   - graph.WithBeforeCommit puts a hook in the context of a correction
//     (MergeProfiles, UnlinkIdentifiers, RemoveIdentifier); the engine runs
//     it in the correction's transaction after its write and before the
//     commit. AuditHook is that hook for one entry: it adds the profiles
//     the write changed and appends the entry with AppendInTx.
//
// Commit then stores both or neither, and a hook that fails rolls the
// correction back. An entry for a mutation that failed (outcome other than
// "ok") has no effect to share a transaction with and goes through
// Store.AppendAudit. Ingestion has its own hook, graph.EventsHook: the
// engine, and the collector's group commit for each request in a
// micro-batch, run it in the transaction that stores the call's events,
// with that call's results.
package access

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/idgraph/cdp/graph"
)

// Store is the access contract every store implements. Times are kept as
// graph.Clean gives them (UTC, microseconds).
//
// Errors: EINVALID for a record that Validate refuses, ENOTFOUND and
// ECONFLICT as each method says; store failures as graph.Store's.
type Store interface {
	// CreateKey stores k, which must pass Validate, and appends audit (as
	// AppendAudit) in the same transaction: both or neither are stored.
	// A key with a creator (CreatedBy) is stored only while that key is
	// stored and usable at k.CreatedAt, as read in the same transaction,
	// which a concurrent RevokeKey of the creator (or of any key it was
	// created by) waits for or makes wait: a key created while its creator
	// is being revoked is either refused or revoked with it.
	// Errors: ECONFLICT when a key with k's id or hash exists, or the
	// creator is not stored or not usable (ErrCreatorGone).
	CreateKey(ctx context.Context, k Key, audit ...AuditEntry) error
	// KeyByHash returns the key whose secret hashes to hash, revoked and
	// expired keys included (the caller checks Usable), in one indexed read.
	KeyByHash(ctx context.Context, hash string) (Key, bool, error)
	// Keys returns at most first keys with ids greater than after, ordered
	// by id. first must be 1 to MaxPage.
	Keys(ctx context.Context, first int, after string) ([]Key, error)
	// RevokeKey marks the key revoked at at, and with it every key it
	// created, directly or not (Descendants), in one transaction; it
	// returns the key and the ids of the keys this call revoked with it,
	// in id order, and appends audit in the same transaction, each
	// entry's reason extended with those ids (RevokedWithReason).
	// Revoking a revoked key keeps the earlier of its RevokedAt and at (a
	// copy run again brings the source's time of a key revoked before its
	// creator, whose cascade may have reached the copy first), and each
	// key revoked with it keeps its RevokedAt. With ctx marked by WithHolds it refuses a key,
	// the one named or one revoked with it, that holds a scope outside
	// those (a *NotHeldError); with ctx marked by WithKeepAdmin, to revoke
	// the last keys usable at at that hold keys:admin (LastAdmin).
	// Errors: ENOTFOUND, ECONFLICT for the last admin key, a *NotHeldError
	// (and nothing is written or appended).
	RevokeKey(ctx context.Context, id string, at time.Time, audit ...AuditEntry) (Key, []string, error)
	// TouchKey raises the key's LastUsedAt to at (an older at changes
	// nothing). It writes, so the caller throttles it: at most once a
	// minute per key (TouchInterval).
	// Errors: ENOTFOUND.
	TouchKey(ctx context.Context, id string, at time.Time) error
	// CountKeys counts every stored key, revoked and expired included, so
	// that revoking keys never turns enforcement off.
	CountKeys(ctx context.Context) (int, error)
	// AppendAudit stores entries, each of which must pass Validate, in one
	// transaction and a fixed number of round trips.
	// Errors: ECONFLICT when an entry's id is already stored or repeated.
	AppendAudit(ctx context.Context, entries []AuditEntry) error
	// Audit returns the entries q selects, newest first (At, then ID,
	// descending).
	Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// PruneAudit deletes the entries older than before and returns how
	// many. It is the only way an entry leaves the log.
	PruneAudit(ctx context.Context, before time.Time) (int, error)
}

// Loader is implemented by the stores that take keys as another store
// held them (cdp copy): LoadKey is CreateKey, with no audit entry, of a
// key checked by CheckStored rather than Validate, so that a name stored
// before a rule of Validate existed is kept as it is.
type Loader interface {
	LoadKey(ctx context.Context, k Key) error
}

// TxAuditor is implemented by the graph.Tx of every store's write
// transaction: AppendAudit stores entries in that transaction, so they
// commit or roll back with the rest of it. Same rules as Store.AppendAudit.
type TxAuditor interface {
	AppendAudit(ctx context.Context, entries []AuditEntry) error
}

// AppendInTx appends entries inside tx, a write transaction of a store.
//
// Errors: those of Store.AppendAudit; an internal error when tx's store
// does not implement TxAuditor.
func AppendInTx(ctx context.Context, tx graph.Tx, entries []AuditEntry) error {
	a, ok := tx.(TxAuditor)
	if !ok {
		return fmt.Errorf("access: the store's transaction %T cannot append audit entries", tx)
	}
	return a.AppendAudit(ctx, entries)
}

type auditInWriteKey struct{}

// WithAuditInWrite returns ctx carrying entries for a store's own write
// method (one that takes no graph transaction: the audience store's) to
// append in that write's transaction, after its work, so that the entries
// exist exactly when the write committed. Stores that keep the audit log
// honour it on every such write; the caller passes the returned ctx to
// that one call only.
func WithAuditInWrite(ctx context.Context, entries ...AuditEntry) context.Context {
	return context.WithValue(ctx, auditInWriteKey{}, entries)
}

// AuditInWrite returns the entries WithAuditInWrite put in ctx, if any.
func AuditInWrite(ctx context.Context) []AuditEntry {
	es, _ := ctx.Value(auditInWriteKey{}).([]AuditEntry)
	return es
}

// TouchInterval is how often, at most, a caller records a key's use.
const TouchInterval = time.Minute

// MaxPage bounds Keys' first and AuditQuery.Limit.
const MaxPage = 1000

// Limits of a key's and an entry's text fields.
const (
	MaxNameLen         = 200
	MaxReasonLen       = 1000
	MaxAuditProfileIDs = 100
)

// ValidKeyID reports whether id has the shape of a key id: key_ and 1 to
// 64 letters or digits.
func ValidKeyID(id string) bool { return keyIDRe.MatchString(id) }

// KeyIDShape says in words what ValidKeyID accepts, for error messages.
const KeyIDShape = "key_ followed by 1 to 64 letters or digits"

var (
	keyIDRe   = regexp.MustCompile(`^key_[A-Za-z0-9]{1,64}$`)
	auditIDRe = regexp.MustCompile(`^aud_[A-Za-z0-9]{1,64}$`)
	// sourceRe is the collector's source name rule (ingest).
	sourceRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	// actionRe covers GraphQL field names and dotted action names.
	actionRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.:]{0,99}$`)
	// outcomeRe is "ok" or an error code such as FORBIDDEN or not_found.
	outcomeRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
	// opNameRe is a GraphQL operation name.
	opNameRe = regexp.MustCompile(`^[_A-Za-z][_0-9A-Za-z]{0,199}$`)
)

// Key is an API key as stored: never its secret.
type Key struct {
	ID         string
	Name       string
	Scopes     []Scope
	Source     string    // for event keys: labels the events sent with it; optional
	Hash       string    // HashSecret of the secret
	CreatedAt  time.Time //
	LastUsedAt time.Time // zero: never used
	ExpiresAt  time.Time // zero: never expires
	RevokedAt  time.Time // zero: not revoked
	// CreatedBy is the id of the key that created it (createApiKey); empty
	// for a key created with `cdp keys create`, in open mode, or stored
	// before creators were recorded. Revoking a key revokes the keys it
	// created, directly or not (RevokeKey).
	CreatedBy string
}

// NewKey makes a key named name with the given scopes, source (optional)
// and expiry (zero: none), created at now, and returns it with its secret.
//
// Errors: EINVALID, as Validate.
func NewKey(name string, scopes []string, source string, expiresAt, now time.Time) (Key, string, error) {
	sc, err := ParseScopes(scopes)
	if err != nil {
		return Key{}, "", err
	}
	secret := NewSecret()
	k := Key{
		ID: randomID("key_"), Name: strings.TrimSpace(name), Scopes: sc, Source: source,
		Hash: HashSecret(secret), CreatedAt: graph.Clean(now),
	}
	if !expiresAt.IsZero() {
		k.ExpiresAt = graph.Clean(expiresAt)
	}
	if err := k.Validate(); err != nil {
		return Key{}, "", err
	}
	return k, secret, nil
}

// Validate checks every field of a new key: CheckStored, a name without a
// control character of any kind, and a source that is not one the service
// keeps for itself (graph.ReservedSource; a key stored before that rule
// may hold one, and keeps it).
//
// Errors: EINVALID, naming the field.
func (k Key) Validate() error {
	if err := k.CheckStored(); err != nil {
		return err
	}
	if strings.ContainsFunc(k.Name, unicode.IsControl) {
		return graph.Errorf(graph.EINVALID, "key name holds a control character (C0, DEL or C1); it must be printable UTF-8")
	}
	if graph.ReservedSource(k.Source) {
		return graph.Errorf(graph.EINVALID, "key source %q is reserved: the service labels manual corrections (\"manual\") and identity-rule refusals (\"rules\") with it; choose another", k.Source)
	}
	return nil
}

// CheckStored checks k as a store may hold it: Validate's rules but the
// one against C1 control characters (U+0080 to U+009F) in the name, which
// names stored before that rule may hold. A key loaded from another store
// (Loader) is checked so, to be kept as it was.
//
// Errors: EINVALID, naming the field.
func (k Key) CheckStored() error {
	bad := func(format string, args ...any) error { return graph.Errorf(graph.EINVALID, format, args...) }
	switch {
	case !keyIDRe.MatchString(k.ID):
		return bad("key id %q is not key_ followed by 1 to 64 letters or digits", k.ID)
	case strings.TrimSpace(k.Name) == "":
		return bad("key name is empty")
	case len(k.Name) > MaxNameLen || !utf8.ValidString(k.Name):
		return bad("key name must be at most %d bytes of printable UTF-8", MaxNameLen)
	case strings.ContainsFunc(k.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return bad("key name holds a control character (C0, DEL or C1); it must be printable UTF-8")
	case len(k.Scopes) == 0:
		return bad("a key needs at least one scope; the scopes are %s", validScopes)
	case k.Source != "" && !sourceRe.MatchString(k.Source):
		return bad("key source %q must match %s", k.Source, sourceRe)
	case !validHash(k.Hash):
		return bad("key hash is not a lowercase hex SHA-256")
	case k.CreatedAt.IsZero():
		return bad("key creation time is missing")
	case !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(k.CreatedAt):
		return bad("key expiry %s is not after its creation %s", k.ExpiresAt.Format(time.RFC3339), k.CreatedAt.Format(time.RFC3339))
	case k.CreatedBy != "" && !keyIDRe.MatchString(k.CreatedBy):
		return bad("key creator %q is not a key id", k.CreatedBy)
	case k.CreatedBy == k.ID:
		return bad("key %s names itself as its creator", k.ID)
	}
	for _, s := range k.Scopes {
		if _, err := ParseScope(string(s)); err != nil {
			return err
		}
	}
	return nil
}

// Usable reports whether k may authenticate a request at now: not revoked,
// and not expired (ExpiresAt is the first instant it is refused).
func (k Key) Usable(now time.Time) bool {
	return k.RevokedAt.IsZero() && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt))
}

type keepAdminKey struct{}

// WithKeepAdmin returns ctx asking RevokeKey to keep at least one usable
// key with keys:admin: over the API, revoking the last one would lock
// every administrator out (keys stay enforced once any key exists). `cdp
// keys revoke`, run by whoever holds the store, does not ask.
func WithKeepAdmin(ctx context.Context) context.Context {
	return context.WithValue(ctx, keepAdminKey{}, true)
}

// KeepAdmin reports whether ctx was marked by WithKeepAdmin.
func KeepAdmin(ctx context.Context) bool {
	v, _ := ctx.Value(keepAdminKey{}).(bool)
	return v
}

type holdsKey struct{}

// WithHolds returns ctx asking RevokeKey to revoke a key only when it
// holds no scope outside scopes, those of the request's key: revoking a
// key needs every scope it holds, as creating it did (a key gives only
// scopes its creator holds), so that keys:admin alone cannot take away a
// bigger key. RevokeKey refuses another with a *NotHeldError, in its
// transaction, and writes nothing. Open mode and `cdp keys revoke`, which
// hold every scope, do not ask.
func WithHolds(ctx context.Context, scopes []Scope) context.Context {
	return context.WithValue(ctx, holdsKey{}, slices.Clone(scopes))
}

// CheckHeld returns a *NotHeldError naming the first scope of k, in the
// canonical order, that is not among the scopes WithHolds put in ctx; nil
// when ctx was not so marked or k holds no other.
func CheckHeld(ctx context.Context, k Key) error {
	held, ok := ctx.Value(holdsKey{}).([]Scope)
	if !ok {
		return nil
	}
	for _, s := range allScopes {
		if k.HasScope(s) && !slices.Contains(held, s) {
			return &NotHeldError{KeyID: k.ID, Scope: s}
		}
	}
	return nil
}

// NotHeldError is RevokeKey's refusal of a key holding Scope, which the
// caller (WithHolds) does not hold.
type NotHeldError struct {
	KeyID string
	Scope Scope
}

func (e *NotHeldError) Error() string {
	return fmt.Sprintf("key %s holds the scope %s, which the request's key does not hold; revoking a key needs every scope it holds", e.KeyID, e.Scope)
}

// LastAdmin reports whether revoking the keys ids together at now would
// leave no key of keys usable at now with keys:admin: some of them are
// such keys, and no other key is. It returns those, in the order of ids.
func LastAdmin(ids []string, keys []Key, now time.Time) ([]string, bool) {
	admin := func(k Key) bool { return k.Usable(now) && k.HasScope(ScopeKeysAdmin) }
	var lost []string
	for _, k := range keys {
		switch {
		case slices.Contains(ids, k.ID):
			if admin(k) {
				lost = append(lost, k.ID)
			}
		case admin(k):
			return nil, false
		}
	}
	slices.SortFunc(lost, func(a, b string) int { return slices.Index(ids, a) - slices.Index(ids, b) })
	return lost, len(lost) > 0
}

// ErrLastAdmin is RevokeKey's refusal to revoke the key id when that
// would revoke lost, the last usable keys with keys:admin: id itself,
// keys it created (directly or not), or both.
func ErrLastAdmin(id string, lost []string) error {
	if len(lost) == 1 && lost[0] == id {
		return graph.Errorf(graph.ECONFLICT, "key %s is the last usable key with keys:admin; create another admin key before revoking it (or revoke it with `cdp keys revoke`)", id)
	}
	const most = 10
	named := strings.Join(lost[:min(len(lost), most)], ", ")
	if len(lost) > most {
		named += fmt.Sprintf(" and %d more", len(lost)-most)
	}
	return graph.Errorf(graph.ECONFLICT, "revoking key %s would revoke the last usable keys with keys:admin (%s; it and the keys it created, directly or not, are revoked together); create another admin key first (or revoke it with `cdp keys revoke`)", id, named)
}

// Descendants returns the keys of keys that the key id created, directly
// or not (following CreatedBy), in id order, id itself left out.
func Descendants(id string, keys []Key) []Key {
	children := map[string][]Key{}
	for _, k := range keys {
		if k.CreatedBy != "" {
			children[k.CreatedBy] = append(children[k.CreatedBy], k)
		}
	}
	seen := map[string]bool{id: true}
	var out []Key
	for frontier := []string{id}; len(frontier) > 0; {
		var next []string
		for _, p := range frontier {
			for _, c := range children[p] {
				if !seen[c.ID] {
					seen[c.ID] = true
					out = append(out, c)
					next = append(next, c.ID)
				}
			}
		}
		frontier = next
	}
	slices.SortFunc(out, func(a, b Key) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// ErrCreatorGone is CreateKey's refusal of a key whose creator is not
// stored, or is revoked or expired: a key that can no longer authenticate
// creates no key.
func ErrCreatorGone(creator string) error {
	return graph.Errorf(graph.ECONFLICT, "key %s, which creates this key, is revoked, expired or not stored: it creates no key", creator)
}

// RevokedWithReason is the reason of a revocation's audit entry that took
// the keys ids with it: reason, then how many and which, as many ids as
// MaxReasonLen leaves room for ("and N more" for the others). Without ids
// it is reason.
func RevokedWithReason(reason string, ids []string) string {
	if len(ids) == 0 {
		return reason
	}
	noun := "keys"
	if len(ids) == 1 {
		noun = "key"
	}
	head := fmt.Sprintf("%s; with it %d %s it created, directly or not: ", reason, len(ids), noun)
	out := head
	for i, id := range ids {
		sep := ""
		if i > 0 {
			sep = ", "
		}
		more := ""
		if i < len(ids)-1 {
			more = fmt.Sprintf(", and %d more", len(ids)-1-i)
		}
		if len(out)+len(sep)+len(id)+len(more) > MaxReasonLen {
			if i == 0 {
				return clipReason(head + fmt.Sprintf("%d not listed", len(ids)))
			}
			return clipReason(out + fmt.Sprintf(", and %d more", len(ids)-i))
		}
		out += sep + id
	}
	return clipReason(out)
}

// clipReason cuts s to MaxReasonLen bytes, on a rune boundary.
func clipReason(s string) string {
	for len(s) > MaxReasonLen {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

// RevokedWith returns a copy of audit whose every entry's reason names
// ids (RevokedWithReason).
func RevokedWith(audit []AuditEntry, ids []string) []AuditEntry {
	out := slices.Clone(audit)
	for i := range out {
		out[i].Reason = RevokedWithReason(out[i].Reason, ids)
	}
	return out
}

// HasScope reports whether k holds s.
func (k Key) HasScope(s Scope) bool { return slices.Contains(k.Scopes, s) }

// Matches reports, in constant time, whether secret is k's.
func (k Key) Matches(secret string) bool { return SecretMatches(secret, k.Hash) }

// Outcome of an audit entry that succeeded; any other is an error code.
const OutcomeOK = "ok"

// ScopeRefusedReason is the reason of the audit entry of a read refused
// for want of scope s (a data export, an audience export, a backup),
// whose outcome is FORBIDDEN: "refused: the key lacks the scope <s>".
func ScopeRefusedReason(s Scope) string {
	return "refused: the key lacks the scope " + string(s)
}

// AuditEntry is one line of the audit log. It holds no personal values:
// profile ids, never identifiers.
type AuditEntry struct {
	ID            string
	At            time.Time
	KeyID         string // empty in open loopback mode
	KeyName       string
	Action        string // the mutation or query field, e.g. "mergeProfiles"
	OperationName string // the GraphQL operation name, optional
	RequestID     string
	ProfileIDs    []string // at most MaxAuditProfileIDs
	ProfileCount  int      // every profile touched, >= len(ProfileIDs)
	Reason        string   // as the caller gave it
	Outcome       string   // OutcomeOK or an error code
}

// NewAuditID returns a new entry id: "aud_", then 16 bytes in lowercase
// hex, the first 8 the current Unix time in nanoseconds and the rest
// random. Ids made later sort after those made earlier (to the clock's
// precision), so a store that indexes entries by id appends to the end of
// its index instead of inserting all over it: on the embedded store,
// appending 2,000 entries to a log of 200,000 cost half the CPU and half
// the memory with these ids that it cost with random ones
// (BenchmarkAppendAudit, docs/BENCHMARKS.md). Nothing relies on the order:
// the time is a hint for the index, and an entry's At is its time.
func NewAuditID() string { return auditID(time.Now()) }

func auditID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(b[8:])
	return "aud_" + hex.EncodeToString(b[:])
}

// SetProfiles records the distinct ids of profiles touched: the count of
// them all, and the first MaxAuditProfileIDs in order.
func (e *AuditEntry) SetProfiles(ids []string) {
	u := slices.Compact(slices.Sorted(slices.Values(ids)))
	u = slices.DeleteFunc(u, func(s string) bool { return s == "" })
	e.ProfileCount = len(u)
	e.ProfileIDs = u[:min(len(u), MaxAuditProfileIDs)]
}

// Validate checks every field of e.
//
// Errors: EINVALID, naming the field.
func (e AuditEntry) Validate() error {
	bad := func(format string, args ...any) error { return graph.Errorf(graph.EINVALID, format, args...) }
	switch {
	case !auditIDRe.MatchString(e.ID):
		return bad("audit entry id %q is not aud_ followed by 1 to 64 letters or digits", e.ID)
	case e.At.IsZero():
		return bad("audit entry %s has no time", e.ID)
	case e.KeyID != "" && !keyIDRe.MatchString(e.KeyID):
		return bad("audit entry %s: key id %q is not a key id", e.ID, e.KeyID)
	case len(e.KeyName) > MaxNameLen || !utf8.ValidString(e.KeyName):
		return bad("audit entry %s: key name must be at most %d bytes of UTF-8", e.ID, MaxNameLen)
	case !actionRe.MatchString(e.Action):
		return bad("audit entry %s: action %q must match %s", e.ID, e.Action, actionRe)
	case e.OperationName != "" && !opNameRe.MatchString(e.OperationName):
		return bad("audit entry %s: operation name is not a GraphQL name", e.ID)
	case len(e.RequestID) > 200 || !utf8.ValidString(e.RequestID):
		return bad("audit entry %s: request id must be at most 200 bytes of UTF-8", e.ID)
	case len(e.ProfileIDs) > MaxAuditProfileIDs:
		return bad("audit entry %s holds %d profile ids, more than %d", e.ID, len(e.ProfileIDs), MaxAuditProfileIDs)
	case e.ProfileCount < len(e.ProfileIDs):
		return bad("audit entry %s: profile count %d is below the %d ids it holds", e.ID, e.ProfileCount, len(e.ProfileIDs))
	case slices.Contains(e.ProfileIDs, ""):
		return bad("audit entry %s holds an empty profile id", e.ID)
	case len(e.Reason) > MaxReasonLen || !utf8.ValidString(e.Reason):
		return bad("audit entry %s: reason must be at most %d bytes of UTF-8", e.ID, MaxReasonLen)
	case !outcomeRe.MatchString(e.Outcome):
		return bad("audit entry %s: outcome %q is neither %q nor an error code", e.ID, e.Outcome, OutcomeOK)
	}
	return nil
}

// CheckAudit validates a batch for AppendAudit: every entry, and no id
// twice.
//
// Errors: EINVALID, ECONFLICT for a repeated id.
func CheckAudit(entries []AuditEntry) error {
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		if err := e.Validate(); err != nil {
			return err
		}
		if seen[e.ID] {
			return graph.Errorf(graph.ECONFLICT, "audit entry %s appears twice in the batch", e.ID)
		}
		seen[e.ID] = true
	}
	return nil
}

// AuditCursor is the position of an entry in the log's order.
type AuditCursor struct {
	At time.Time
	ID string
}

// IsZero reports whether c is no position (start from the newest).
func (c AuditCursor) IsZero() bool { return c.ID == "" && c.At.IsZero() }

// Cursor is the position of e.
func (e AuditEntry) Cursor() AuditCursor { return AuditCursor{At: e.At, ID: e.ID} }

// Before reports whether e comes after c in the log's order (newest first),
// that is, whether (e.At, e.ID) < (c.At, c.ID).
func (e AuditEntry) Before(c AuditCursor) bool {
	if !e.At.Equal(c.At) {
		return e.At.Before(c.At)
	}
	return e.ID < c.ID
}

// AuditQuery selects audit entries. Empty fields select everything.
type AuditQuery struct {
	KeyID     string
	ProfileID string
	Action    string
	From      time.Time   // inclusive; zero: no bound
	To        time.Time   // exclusive; zero: no bound
	After     AuditCursor // only entries after this one, newest first
	Limit     int         // 1 to MaxPage
}

// Matches reports whether e satisfies every filter of q (not the cursor).
func (q AuditQuery) Matches(e AuditEntry) bool {
	return (q.KeyID == "" || e.KeyID == q.KeyID) &&
		(q.Action == "" || e.Action == q.Action) &&
		(q.ProfileID == "" || slices.Contains(e.ProfileIDs, q.ProfileID)) &&
		(q.From.IsZero() || !e.At.Before(q.From)) &&
		(q.To.IsZero() || e.At.Before(q.To)) &&
		(q.After.IsZero() || e.Before(q.After))
}

// Validate checks q's limit.
//
// Errors: EINVALID.
func (q AuditQuery) Validate() error {
	if q.Limit < 1 || q.Limit > MaxPage {
		return graph.Errorf(graph.EINVALID, "audit limit %d is outside 1 to %d", q.Limit, MaxPage)
	}
	if !q.After.IsZero() && (q.After.ID == "" || q.After.At.IsZero()) {
		return graph.Errorf(graph.EINVALID, "audit cursor needs both a time and an id")
	}
	return nil
}

// CheckPage validates Keys' first.
//
// Errors: EINVALID.
func CheckPage(first int) error {
	if first < 1 || first > MaxPage {
		return graph.Errorf(graph.EINVALID, "first %d is outside 1 to %d", first, MaxPage)
	}
	return nil
}

// ProfilesOf returns the ids of the profiles w changes: written, named by
// a history change, or deleted.
func ProfilesOf(w *graph.Write) []string {
	if w == nil {
		return nil
	}
	var ids []string
	for _, p := range w.PutProfiles {
		ids = append(ids, p.ID)
	}
	for _, c := range w.Changes {
		ids = append(ids, c.From, c.Into)
	}
	return append(ids, w.DeleteProfiles...)
}

// AuditHook returns the graph.BeforeCommit that appends e inside the
// correction's transaction, with the profiles the correction changed added
// to e's (SetProfiles). Pass it with graph.WithBeforeCommit: the entry then
// exists exactly when the correction committed.
func AuditHook(e AuditEntry) graph.BeforeCommit {
	return func(ctx context.Context, tx graph.Tx, w *graph.Write) error {
		entry := e // each run of the transaction starts from e
		entry.SetProfiles(append(slices.Clone(e.ProfileIDs), ProfilesOf(w)...))
		return AppendInTx(ctx, tx, []AuditEntry{entry})
	}
}
