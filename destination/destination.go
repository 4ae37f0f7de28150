package destination

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/idgraph/cdp/graph"
)

// Limits of a destination's definition. The name's and the secret's are
// in characters (Unicode code points), as the schema says.
const (
	MaxDestinations    = 100
	MaxNameLen         = 200
	MaxURLLen          = 2048
	MinSecretLen       = 16
	MaxSecretLen       = 256
	MaxAudienceIDs     = 100
	MaxHeaders         = 20
	MaxHeaderLen       = 1024
	DefaultBatchSize   = 100
	MaxBatchSize       = 1000
	DefaultMaxAttempts = 10
	MaxMaxAttempts     = 100
	MaxPage            = 500 // limit of ReplayDead and PruneDelivered, and the worker's pages
	// MaxListPage is the limit of DestinationPage and Deliveries: one
	// more than a GraphQL page holds, so that a page of the most items
	// can tell whether more follow.
	MaxListPage = 1000
	// MaxRetryWindow is how long a batch is retried, counted from when it
	// was queued (Delivery.QueuedAt), before it goes to dead letters whatever its attempts.
	MaxRetryWindow = 24 * time.Hour
)

// IDPrefix starts every destination id; DeliveryIDPrefix every delivery id.
const (
	IDPrefix         = "dst_"
	DeliveryIDPrefix = "dlv_"
)

var (
	idRe         = regexp.MustCompile(`^dst_[0-9a-f]{32}$`)
	deliveryIDRe = regexp.MustCompile(`^dlv_[0-9a-f]{32}$`)
	purposeRe    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	headerNameRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
	audienceIDRe = regexp.MustCompile(`^seg_[0-9a-f]{32}$`)
)

// NewID returns a random destination id.
func NewID() string { return IDPrefix + randomHex() }

// NewDeliveryID returns a random delivery id.
func NewDeliveryID() string { return DeliveryIDPrefix + randomHex() }

// ValidID reports whether id has the syntax of a destination id.
func ValidID(id string) bool { return idRe.MatchString(id) }

// ValidDeliveryID reports whether id has the syntax of a delivery id.
func ValidDeliveryID(id string) bool { return deliveryIDRe.MatchString(id) }

func randomHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Destination is a webhook the change feed is delivered to.
type Destination struct {
	ID   string
	Name string
	// URL is where batches are POSTed: http or https.
	URL string
	// Secret signs every delivery (Sign). It is stored so that it can sign,
	// and never shown again: answers carry SecretHint.
	Secret string
	// Kinds selects the feed kinds delivered; empty means every kind.
	Kinds []graph.FeedKind
	// AudienceIDs, when set, keeps only the entries of those audiences
	// (AUDIENCE_ENTERED, AUDIENCE_EXITED), within Kinds.
	AudienceIDs []string
	// Purpose, when set, is a consent purpose: only entries of profiles
	// whose state for it is GRANTED are delivered.
	Purpose     string
	BatchSize   int // entries per delivery, 1..MaxBatchSize
	MaxAttempts int // attempts of a batch before it is dead, 1..MaxMaxAttempts
	// Headers are sent with every delivery.
	Headers map[string]string
	// IncludePII sends identifiers and traits unmasked.
	IncludePII bool
	CreatedAt  time.Time
	UpdatedAt  time.Time

	// Kept by the store. Cursor is the Seq of the last feed entry taken
	// into a delivery (or skipped by the filters); it starts at the feed
	// head when the destination is created, so there is no backfill.
	Cursor uint64
	// LastNumber is the Number of the newest delivery the destination
	// took (0 before its first), from which the next is numbered. It
	// outlives the deliveries, so that a number pruned is not taken again.
	LastNumber uint64
	// Lease says which process delivers the destination, until when.
	Lease Lease

	// Keep, read by UpdateDestination only and never stored, names the
	// write-only fields the caller left out (Keep.Apply).
	Keep Keep
	// IfUpdatedAt, read by UpdateDestination only and never stored, when
	// not zero is the UpdatedAt of the destination as the caller read it:
	// another stored is refused with a *ChangedError (Apply).
	IfUpdatedAt time.Time
}

// ChangedError is UpdateDestination's refusal (ECONFLICT) of an update
// made on a read older than the stored destination (IfUpdatedAt).
type ChangedError struct {
	Destination string
	UpdatedAt   time.Time // the stored one
}

func (e *ChangedError) Error() string { return e.err().Message }

// Unwrap gives the refusal as a *graph.Error.
func (e *ChangedError) Unwrap() error { return e.err() }

func (e *ChangedError) err() *graph.Error {
	return graph.Errorf(graph.ECONFLICT, "destination %s was changed since it was read: it is stored with updatedAt %s",
		e.Destination, e.UpdatedAt.UTC().Format(time.RFC3339Nano))
}

// CheckVersion returns the refusal of d when d.IfUpdatedAt is set and
// stored is another version.
func (d Destination) CheckVersion(stored time.Time) error {
	if d.IfUpdatedAt.IsZero() || graph.Clean(d.IfUpdatedAt).Equal(graph.Clean(stored)) {
		return nil
	}
	return &ChangedError{Destination: d.ID, UpdatedAt: graph.Clean(stored)}
}

// Keep names the fields of an update that keep their stored values: those
// stored when the update's transaction runs, not those the caller read
// before it, which another update may have changed since.
type Keep struct {
	// Secret keeps the stored secret, Headers the stored headers.
	Secret, Headers bool
	// URL keeps the stored URL: the caller gave it back as answers show
	// it (ShownURL) and set the destination's URL to the one it read. A
	// stored URL no longer shown as that one is refused with a
	// *ShownURLChangedError.
	URL bool
}

// ShownURLChangedError is UpdateDestination's refusal (EINVALID) of an
// update that keeps the stored URL (Keep.URL) when that URL is no longer
// shown as the one the caller read: another update changed it since.
type ShownURLChangedError struct{}

func (e *ShownURLChangedError) Error() string { return e.err().Message }

// Unwrap gives the refusal as a *graph.Error.
func (e *ShownURLChangedError) Unwrap() error { return e.err() }

func (e *ShownURLChangedError) err() *graph.Error {
	return graph.Errorf(graph.EINVALID, "url: the URL as shown is no longer the stored one's (another update changed it); give the whole URL")
}

// Apply gives d with the fields d.Keep names taken from stored, the
// destination as stored in the update's transaction, and an UpdatedAt
// after stored's; Keep and IfUpdatedAt are cleared. It first refuses d
// made on another version than stored's (CheckVersion).
func (d Destination) Apply(stored Destination) (Destination, error) {
	if err := d.CheckVersion(stored.UpdatedAt); err != nil {
		return d, err
	}
	// A version after the stored one, however the writes' clocks fall (two
	// in one microsecond, a clock set back): each version read names one
	// definition.
	if u, st := graph.Clean(d.UpdatedAt), graph.Clean(stored.UpdatedAt); !stored.UpdatedAt.IsZero() && !u.After(st) {
		d.UpdatedAt = st.Add(time.Microsecond)
	}
	k := d.Keep
	d.Keep, d.IfUpdatedAt = Keep{}, time.Time{}
	if k.Secret {
		d.Secret = stored.Secret
	}
	if k.Headers {
		d.Headers = maps.Clone(stored.Headers)
	}
	if k.URL {
		if ShownURL(stored.URL) != ShownURL(d.URL) {
			return d, &ShownURLChangedError{}
		}
		d.URL = stored.URL
	}
	return d, nil
}

// Lease is a process's hold on a destination.
type Lease struct {
	Holder  string
	Expires time.Time
}

// HeldBy reports whether holder holds the lease at now.
func (l Lease) HeldBy(holder string, now time.Time) bool {
	return l.Holder == holder && l.Expires.After(now)
}

// SecretHint is what answers show of a secret: its length and last four
// characters, enough to tell two secrets apart and not to sign.
func SecretHint(secret string) string {
	r := []rune(secret)
	if len(r) < MinSecretLen {
		return "****"
	}
	return fmt.Sprintf("****%s (%d characters)", string(r[len(r)-4:]), len(r))
}

// Normalize fills the defaults of zero BatchSize and MaxAttempts, sorts and
// dedups Kinds and AudienceIDs, and cleans the times.
func (d Destination) Normalize() Destination {
	if d.BatchSize == 0 {
		d.BatchSize = DefaultBatchSize
	}
	if d.MaxAttempts == 0 {
		d.MaxAttempts = DefaultMaxAttempts
	}
	d.Kinds = slices.Compact(slices.Sorted(slices.Values(d.Kinds)))
	d.AudienceIDs = slices.Compact(slices.Sorted(slices.Values(d.AudienceIDs)))
	if len(d.Kinds) == 0 {
		d.Kinds = nil
	}
	if len(d.AudienceIDs) == 0 {
		d.AudienceIDs = nil
	}
	if len(d.Headers) == 0 {
		d.Headers = nil
	} else {
		h := make(map[string]string, len(d.Headers))
		for k, v := range d.Headers {
			h[http.CanonicalHeaderKey(k)] = v
		}
		d.Headers = h
	}
	d.CreatedAt, d.UpdatedAt = graph.Clean(d.CreatedAt), graph.Clean(d.UpdatedAt)
	return d
}

// reservedHeaders are set by the worker and cannot be overridden.
var reservedHeaders = []string{"Content-Type", "Content-Length", "Host", "X-Cdp-Signature", "X-Cdp-Delivery-Id",
	"Transfer-Encoding", "Connection", "User-Agent"}

// Check checks a new definition d (the URL's syntax, not where it
// resolves: CheckURL does that): CheckStored, a name without a control
// character of any kind (CheckName), a secret counted in characters
// (CheckSecret) and header values without control characters
// (CheckHeaders). Errors are EINVALID and name the field (under
// prefix, such as "input."), never repeating the secret or a header's
// value.
func (d Destination) Check(prefix string) error {
	if err := d.CheckStored(prefix); err != nil {
		return err
	}
	if err := d.CheckName(prefix); err != nil {
		return err
	}
	if err := d.CheckSecret(prefix); err != nil {
		return err
	}
	return d.CheckHeaders(prefix)
}

// CheckName checks a name given anew: no control character of any kind.
// CheckStored also takes a C1 control character (U+0080 to U+009F), which
// names stored before this rule may hold; an update that keeps the stored
// name is checked so, one that gives a name passes CheckName.
func (d Destination) CheckName(prefix string) error {
	// C1 too, as an audience's name: a CSI or NEL in a name shown on a
	// terminal or a page is as bad as ESC or LF.
	if strings.ContainsFunc(d.Name, unicode.IsControl) {
		return graph.Errorf(graph.EINVALID, "%sname holds a control character (C0, DEL or C1); it must be 1 to %d printable characters", prefix, MaxNameLen)
	}
	return nil
}

// CheckSecret checks a secret given anew: MinSecretLen to MaxSecretLen
// printable characters. CheckStored also takes a secret of MinSecretLen to
// MaxSecretLen bytes but fewer characters, which stores took while the
// limit counted bytes; an update that keeps the stored secret is checked
// so, one that gives a secret passes CheckSecret.
func (d Destination) CheckSecret(prefix string) error {
	if n := utf8.RuneCountInString(d.Secret); n < MinSecretLen || n > MaxSecretLen || !printable(d.Secret) {
		return graph.Errorf(graph.EINVALID, "%ssecret must be %d to %d printable characters", prefix, MinSecretLen, MaxSecretLen)
	}
	return nil
}

// CheckStored checks d's definition as a store may hold it: Check's rules
// but the one against C1 control characters (U+0080 to U+009F) in the
// name, which names stored before that rule may hold, and with a secret
// of MinSecretLen to MaxSecretLen bytes taken even when it has fewer
// characters, as secrets stored while the limit counted bytes may, and
// with header values holding a control character but CR, LF and NUL, as
// stores took before CheckHeaders' rule. A destination loaded from
// another store (Loader), and an update that keeps the stored name,
// secret or headers, are checked so, so that they are kept as they are; a
// name given anew passes CheckName, a secret CheckSecret, headers
// CheckHeaders.
func (d Destination) CheckStored(prefix string) error {
	bad := func(field, format string, args ...any) error {
		return graph.Errorf(graph.EINVALID, "%s%s %s", prefix, field, fmt.Sprintf(format, args...))
	}
	if !ValidID(d.ID) {
		return bad("id", "is not a destination id (%s followed by 32 lowercase hex digits)", IDPrefix)
	}
	if d.Name == "" || utf8.RuneCountInString(d.Name) > MaxNameLen || !utf8.ValidString(d.Name) {
		return bad("name", "must be 1 to %d printable characters", MaxNameLen)
	}
	if !printable(d.Name) {
		return bad("name", "holds a control character (C0, DEL or C1); it must be 1 to %d printable characters", MaxNameLen)
	}
	if _, err := ParseURL(d.URL); err != nil {
		return bad("url", "%v", err)
	}
	// A secret of MinSecretLen bytes or more but fewer characters was
	// taken while the limit counted bytes (CheckSecret).
	if n := utf8.RuneCountInString(d.Secret); n > MaxSecretLen || (n < MinSecretLen && len(d.Secret) < MinSecretLen) || !printable(d.Secret) {
		return bad("secret", "must be %d to %d printable characters", MinSecretLen, MaxSecretLen)
	}
	for i, k := range d.Kinds {
		if !graph.ValidFeedKind(k) {
			return bad(fmt.Sprintf("kinds[%d]", i), "is not a change kind (%s)", kindList())
		}
	}
	if len(d.AudienceIDs) > MaxAudienceIDs {
		return bad("audienceIds", "holds %d ids, more than %d", len(d.AudienceIDs), MaxAudienceIDs)
	}
	for i, a := range d.AudienceIDs {
		if !audienceIDRe.MatchString(a) {
			return bad(fmt.Sprintf("audienceIds[%d]", i), "is not an audience id (seg_ followed by 32 lowercase hex digits)")
		}
	}
	if d.Purpose != "" && !purposeRe.MatchString(d.Purpose) {
		return bad("purpose", "is not a purpose name (lowercase letters, digits and _, up to 64, starting with a letter)")
	}
	if d.BatchSize < 1 || d.BatchSize > MaxBatchSize {
		return bad("batchSize", "must be 1 to %d, got %d", MaxBatchSize, d.BatchSize)
	}
	if d.MaxAttempts < 1 || d.MaxAttempts > MaxMaxAttempts {
		return bad("maxAttempts", "must be 1 to %d, got %d", MaxMaxAttempts, d.MaxAttempts)
	}
	if len(d.Headers) > MaxHeaders {
		return bad("headers", "holds %d headers, more than %d", len(d.Headers), MaxHeaders)
	}
	canon := make(map[string]string, len(d.Headers))
	for _, k := range slices.Sorted(maps.Keys(d.Headers)) {
		if !headerNameRe.MatchString(k) {
			return bad("headers", "name %q is not a valid header name", clip(k, 100))
		}
		// Header names are case-insensitive: two spellings would send one
		// header with either value.
		if first, dup := canon[http.CanonicalHeaderKey(k)]; dup {
			return bad("headers", "names %q and %q are the same header", first, k)
		}
		canon[http.CanonicalHeaderKey(k)] = k
		if slices.Contains(reservedHeaders, http.CanonicalHeaderKey(k)) {
			return bad("headers", "name %q is set by the server and cannot be given", k)
		}
		// A value with a control character but CR, LF and NUL was taken
		// before CheckHeaders' rule (2026-12-05).
		v := d.Headers[k]
		if len(v) > MaxHeaderLen || !utf8.ValidString(v) || strings.ContainsAny(v, "\r\n\x00") {
			return bad("headers", "value of %q must be at most %d bytes of UTF-8 text without control characters (a tab is allowed)", k, MaxHeaderLen)
		}
	}
	return nil
}

// CheckHeaders checks header values given anew: at most MaxHeaderLen bytes
// of UTF-8 with no control character but the tab (headerValue). CheckStored
// also takes a value with another control character but CR, LF and NUL,
// which stores took before this rule; an update that keeps the stored
// headers is checked so, one that gives headers passes CheckHeaders.
func (d Destination) CheckHeaders(prefix string) error {
	for _, k := range slices.Sorted(maps.Keys(d.Headers)) {
		if v := d.Headers[k]; len(v) > MaxHeaderLen || !headerValue(v) {
			return graph.Errorf(graph.EINVALID, "%sheaders value of %q must be at most %d bytes of UTF-8 text without control characters (a tab is allowed)", prefix, k, MaxHeaderLen)
		}
	}
	return nil
}

// headerValue reports whether v can be sent as a header value: valid
// UTF-8 with no control character but the tab, which is what Go's HTTP
// client sends (it refuses the request otherwise, so a value it would
// refuse would fail every delivery).
func headerValue(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func kindList() string {
	s := make([]string, len(graph.FeedKinds))
	for i, k := range graph.FeedKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Status is where a delivery stands.
type Status string

// The statuses. PENDING: taken from the feed, not yet attempted (or queued
// again by a replay); FAILED: attempted, failing, to be retried at
// NextAttempt; DELIVERED: the receiver answered 2xx; DEAD: given up on
// (dead letter), until a replay.
const (
	Pending   Status = "PENDING"
	Failed    Status = "FAILED"
	Delivered Status = "DELIVERED"
	Dead      Status = "DEAD"
)

// Statuses are every status.
var Statuses = []Status{Pending, Failed, Delivered, Dead}

// ValidStatus reports whether s is one of Statuses.
func ValidStatus(s Status) bool { return slices.Contains(Statuses, s) }

// InFlight reports whether a delivery of status s is still to be sent.
func (s Status) InFlight() bool { return s == Pending || s == Failed }

// Delivery is one batch of feed entries for one destination, and how its
// delivery went.
type Delivery struct {
	// ID is sent as X-CDP-Delivery-Id, the same on every attempt.
	ID            string
	DestinationID string
	// Number orders the destination's deliveries: 1, 2, ...
	Number uint64
	// Entries are the batch's feed entries, in Seq order, until it is
	// delivered: a delivered batch keeps only EntryCount, FirstSeq and
	// LastSeq, which describe it as it was taken. Erasure removes an
	// erased profile's entries from the batches not yet delivered.
	Entries           []graph.FeedEntry
	EntryCount        int
	FirstSeq, LastSeq uint64
	Status            Status
	// Attempts made so far; NextAttempt is when the next one is due.
	Attempts       int
	NextAttempt    time.Time
	LastStatusCode int    // 0 when no answer was received
	LastError      string // why the last attempt failed, "" when it did not
	CreatedAt      time.Time
	// QueuedAt is when the batch was queued: its creation, or its last
	// replay. Its retries end MaxRetryWindow after it.
	QueuedAt  time.Time
	UpdatedAt time.Time
}

// Outcome is what an attempt sets on a delivery (RecordAttempt).
type Outcome struct {
	Status         Status
	Attempts       int
	NextAttempt    time.Time
	LastStatusCode int
	LastError      string
	At             time.Time
}

// DeliveryQuery selects a page of a destination's deliveries, newest first
// (Number descending): those numbered below Before (0: from the newest), of
// Status when set, at most Limit (1..MaxListPage).
type DeliveryQuery struct {
	DestinationID string
	Status        Status
	Before        uint64
	Limit         int
}

// Check checks q.
func (q DeliveryQuery) Check() error {
	if !ValidID(q.DestinationID) {
		return graph.Errorf(graph.EINVALID, "destinationId is not a destination id (%s followed by 32 lowercase hex digits)", IDPrefix)
	}
	if q.Status != "" && !ValidStatus(q.Status) {
		return graph.Errorf(graph.EINVALID, "status %q is not PENDING, FAILED, DELIVERED or DEAD", clip(string(q.Status), 20))
	}
	if q.Limit < 1 || q.Limit > MaxListPage {
		return graph.Errorf(graph.EINVALID, "limit must be 1 to %d, got %d", MaxListPage, q.Limit)
	}
	return nil
}

// CheckPage checks the arguments of DestinationPage.
func CheckPage(after string, limit int) error {
	if after != "" && !ValidID(after) {
		return graph.Errorf(graph.EINVALID, "after is not a destination id")
	}
	if limit < 1 || limit > MaxListPage {
		return graph.Errorf(graph.EINVALID, "limit must be 1 to %d, got %d", MaxListPage, limit)
	}
	return nil
}

// Validate checks a destination a caller is about to save: Check, with
// field names under prefix ("input."), then CheckURL, so that a URL whose
// host resolves to a private address is refused unless allowPrivate. r
// resolves names; nil means net.DefaultResolver. An update passes the
// stored definition as old: a name it keeps as stored is checked by
// CheckStored instead of Check.
func Validate(ctx context.Context, d Destination, old *Destination, prefix string, allowPrivate bool, r Resolver) error {
	check := d.Check
	if old != nil && old.Name == d.Name {
		check = d.CheckStored
	}
	if err := check(prefix); err != nil {
		return err
	}
	return CheckURL(ctx, prefix+"url", d.URL, allowPrivate, r)
}
