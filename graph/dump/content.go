package dump

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// ContentKinds are the kinds whose records ContentSums hashes whole: every
// kind a copy carries, in load order. That is profiles (live and merged
// away, with their times, sizes, counts and the profile a merged one
// redirects to), identifiers with their profile, times, sources and
// traits, links and refused links with every field, events with every
// stored field (properties and traits included), the history of merges
// and splits (with a merge's members), API keys (hash, scopes, source,
// expiry, last use and revocation: who gets in), the audit log, consent
// records, the suppression secret, the suppressed hashes (with their time
// and reason), the retired profile ids, erasure receipts (with their
// counts), computed trait definitions, their values (with their times),
// the audience keeper's profile facts (as stored: keys, types, traits,
// event counts and computed values with their versions and spans),
// audiences (definition, size, refresh time and log sequence), their
// members (with the time each entered) and their membership log (with its
// sequence numbers), the change feed's entries (Seq, time, kind and every
// id), webhook destinations (URL, secret, headers, filters, cursor and
// delivery number; not their leases, which a copy does not carry, so that
// the target's servers take them up) and deliveries (number, status,
// attempts, times, last answer and entries). Leases are the only thing a
// copied kind holds that is not compared. A copy's verification compares
// the suppression secret only when it keys a hash on one side at least
// (Counts.Compared), as it does its count.
var ContentKinds = append([]Kind(nil), allKinds...)

// ContentSums returns, for each kind of ContentKinds the stream holds, the
// hex SHA-256 of its records' content: each record in its canonical form
// (CanonicalRecord) is hashed, and the hex hashes, sorted, one per line,
// are hashed. Sorting makes it independent of each store's page order,
// and keeps 32 bytes per record in memory. pageSize records are read per
// page.
func (s *Stream) ContentSums(ctx context.Context, pageSize int) (map[Kind]string, error) {
	if pageSize < 1 {
		pageSize = 1000
	}
	out := map[Kind]string{}
	for _, k := range ContentKinds {
		if !s.holds(k) {
			continue
		}
		var sums [][sha256.Size]byte
		after := ""
		for {
			b, err := s.Page(ctx, k, after, pageSize)
			if err != nil {
				return nil, fmt.Errorf("content checksum of %s: %w", k, err)
			}
			recs, err := contentRecords(b)
			if err != nil {
				return nil, fmt.Errorf("content checksum of %s: %w", k, err)
			}
			for _, r := range recs {
				c, err := CanonicalRecord(r)
				if err != nil {
					return nil, fmt.Errorf("content checksum of %s: %w", k, err)
				}
				sums = append(sums, sha256.Sum256(c))
			}
			if b.Next == "" {
				break
			}
			after = b.Next
		}
		// Lowercase hex keeps the order of the bytes.
		slices.SortFunc(sums, func(a, b [sha256.Size]byte) int { return bytes.Compare(a[:], b[:]) })
		h := sha256.New()
		for _, x := range sums {
			h.Write([]byte(hex.EncodeToString(x[:])))
			h.Write([]byte{'\n'})
		}
		out[k] = hex.EncodeToString(h.Sum(nil))
	}
	return out, nil
}

// contentRecords returns the records of a page of a ContentKinds kind.
func contentRecords(b Batch) ([]any, error) {
	switch b.Kind {
	case Profiles:
		return anys(b.Profiles), nil
	case Identifiers:
		return anys(b.Identifiers), nil
	case Links:
		return anys(b.Links), nil
	case Rejected:
		return anys(b.Rejected), nil
	case Changes:
		return anys(b.Changes), nil
	case APIKeys:
		return anys(b.APIKeys), nil
	case Audit:
		return anys(b.Audit), nil
	case Events:
		return anys(b.Events), nil
	case Consent:
		return anys(b.Consent), nil
	case Destinations:
		return anys(b.Destinations), nil
	case SuppressionKey:
		if b.SuppressionKey == nil {
			return nil, nil
		}
		return []any{suppressionKey(b.SuppressionKey)}, nil
	case Suppressed:
		return anys(b.Suppressed), nil
	case RetiredIDs:
		return anys(b.RetiredIDs), nil
	case Receipts:
		return anys(b.Receipts), nil
	case ComputedTraits:
		return anys(b.ComputedTraits), nil
	case ComputedValues:
		return anys(b.ComputedValues), nil
	case Facts:
		return anys(b.Facts), nil
	case Audiences:
		return anys(b.Audiences), nil
	case AudienceMembers:
		return anys(b.AudienceMembers), nil
	case AudienceChanges:
		return anys(b.AudienceChanges), nil
	case Feed:
		return anys(b.Feed), nil
	case Deliveries:
		return anys(b.Deliveries), nil
	}
	return nil, fmt.Errorf("no content checksum for %s", b.Kind)
}

// suppressionKey is the suppression secret as a record of ContentSums.
type suppressionKey []byte

// anys returns xs as values of type any.
func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// CanonicalRecord returns the canonical form of a record of a
// ContentKinds kind (a graph.Profile, a graph.Identifier, a graph.Link, a
// graph.RejectedLink, a graph.Event, a graph.ProfileChange, an
// access.Key, an access.AuditEntry, a privacy.Record, the suppression
// secret, a privacy.Suppression, a retired profile id's hash (a string),
// a privacy.ErasureReceipt, an audience.ComputedTrait, an
// audience.ComputedValue, an audience.Facts, an AudienceRecord, an
// audience.Membership, an audience.Change, a graph.FeedEntry, a
// destination.Destination or a destination.Delivery), as ContentSums
// hashes it: the record's JSON (its json tags, or its Go field names) with
// every time in UTC to the microsecond (graph.Clean, the precision both
// stores keep), an event's Keys, a merge's Members, a key's Scopes, an
// audit entry's ProfileIDs and a destination's Kinds and AudienceIDs
// sorted (a store keeps them as a set), a destination's Lease left out (a
// copy does not carry it), empty header maps, feed entries' PreviousIDs
// and delivery entries written as none (a store may give back none as
// empty), a link's or refused link's ends in order (the pair is
// undirected), the suppression secret in hex, a computed value's value
// in its stored form (audience.EncodeValue, which writes an integral float
// "3.0", not "3"), and profile facts as the profile id and the hex of
// their stored form (audience.EncodeFacts, which tells apart values JSON
// would not); and then every object's keys sorted
// and numbers written as they were read, with no spaces.
func CanonicalRecord(r any) ([]byte, error) {
	switch x := r.(type) {
	case graph.Profile:
		x.CreatedAt, x.UpdatedAt = graph.Clean(x.CreatedAt), graph.Clean(x.UpdatedAt)
		r = x
	case graph.Link:
		x.FirstSeen, x.LastSeen = graph.Clean(x.FirstSeen), graph.Clean(x.LastSeen)
		if x.B < x.A {
			x.A, x.B = x.B, x.A
		}
		r = x
	case graph.RejectedLink:
		x.At = graph.Clean(x.At)
		if x.B < x.A {
			x.A, x.B = x.B, x.A
		}
		r = x
	case graph.ProfileChange:
		x.At = graph.Clean(x.At)
		x.Members = slices.Sorted(slices.Values(x.Members))
		r = x
	case access.Key:
		x.CreatedAt, x.LastUsedAt = graph.Clean(x.CreatedAt), graph.Clean(x.LastUsedAt)
		x.ExpiresAt, x.RevokedAt = graph.Clean(x.ExpiresAt), graph.Clean(x.RevokedAt)
		x.Scopes = slices.Sorted(slices.Values(x.Scopes))
		r = x
	case graph.Identifier:
		x.FirstSeen, x.LastSeen = graph.Clean(x.FirstSeen), graph.Clean(x.LastSeen)
		if len(x.Traits) > 0 {
			ts := make(map[string]graph.TraitValue, len(x.Traits))
			for n, t := range x.Traits {
				t.At, t.Received = graph.Clean(t.At), graph.Clean(t.Received)
				ts[n] = t
			}
			x.Traits = ts
		}
		r = x
	case graph.Event:
		x.Timestamp, x.ReceivedAt = graph.Clean(x.Timestamp), graph.Clean(x.ReceivedAt)
		x.Keys = slices.Sorted(slices.Values(x.Keys))
		x.Identifiers, x.Shared = nil, false
		r = x
	case access.AuditEntry:
		x.At = graph.Clean(x.At)
		x.ProfileIDs = slices.Sorted(slices.Values(x.ProfileIDs))
		r = x
	case destination.Destination:
		x.CreatedAt, x.UpdatedAt = graph.Clean(x.CreatedAt), graph.Clean(x.UpdatedAt)
		x.Kinds = slices.Sorted(slices.Values(x.Kinds))
		x.AudienceIDs = slices.Sorted(slices.Values(x.AudienceIDs))
		x.Lease = destination.Lease{}
		if len(x.Headers) == 0 {
			x.Headers = nil // none, however a store gives it back
		}
		r = x
	case privacy.Record:
		x.At, x.ExpiresAt, x.ReceivedAt = graph.Clean(x.At), graph.Clean(x.ExpiresAt), graph.Clean(x.ReceivedAt)
		r = x
	case suppressionKey:
		r = hex.EncodeToString(x)
	case privacy.Suppression:
		x.At = graph.Clean(x.At)
		r = x
	case string: // a retired profile id's hash
	case privacy.ErasureReceipt:
		x.At = graph.Clean(x.At)
		r = x
	case audience.ComputedTrait:
		x.CreatedAt, x.UpdatedAt = graph.Clean(x.CreatedAt), graph.Clean(x.UpdatedAt)
		r = x
	case audience.ComputedValue:
		x.ComputedAt, x.Expires = graph.Clean(x.ComputedAt), graph.Clean(x.Expires)
		// As stored: an integer and an integral float read back as
		// themselves, and a computed value keeps which it is.
		v, err := audience.EncodeValue(x.Value)
		if err != nil {
			return nil, err
		}
		x.Value = json.RawMessage(v)
		r = x
	case audience.Facts:
		// As stored: the encoding tells apart what JSON would not (an
		// OtherValue from an empty object, a float from an integer) and
		// keeps the spans' nanoseconds.
		enc, err := audience.EncodeFacts(&x)
		if err != nil {
			return nil, err
		}
		r = struct{ ProfileID, Stored string }{x.ProfileID, hex.EncodeToString(enc)}
	case AudienceRecord:
		x.CreatedAt, x.UpdatedAt, x.RefreshedAt = graph.Clean(x.CreatedAt), graph.Clean(x.UpdatedAt), graph.Clean(x.RefreshedAt)
		r = x
	case audience.Membership:
		x.Since = graph.Clean(x.Since)
		r = x
	case audience.Change:
		x.At = graph.Clean(x.At)
		r = x
	case graph.FeedEntry:
		r = canonicalFeedEntry(x)
	case destination.Delivery:
		x.NextAttempt, x.CreatedAt = graph.Clean(x.NextAttempt), graph.Clean(x.CreatedAt)
		x.QueuedAt, x.UpdatedAt = graph.Clean(x.QueuedAt), graph.Clean(x.UpdatedAt)
		var es []graph.FeedEntry // none, however a store gives it back
		for _, e := range x.Entries {
			es = append(es, canonicalFeedEntry(e))
		}
		x.Entries = es
		r = x
	default:
		return nil, fmt.Errorf("no canonical form for %T", r)
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	// Through a generic value, so that json.Marshal sorts every object's
	// keys (maps' included) and numbers keep their text.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// canonicalFeedEntry is e with its time in UTC to the microsecond and no
// PreviousIDs given as nil, however a store gives them back.
func canonicalFeedEntry(e graph.FeedEntry) graph.FeedEntry {
	e.At = graph.Clean(e.At)
	if len(e.PreviousIDs) == 0 {
		e.PreviousIDs = nil
	}
	return e
}
