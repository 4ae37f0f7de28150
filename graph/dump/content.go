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
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// ContentKinds are the kinds whose records ContentSums hashes whole:
// profiles (live and merged away, with their times, sizes, counts and the
// profile a merged one redirects to), identifiers with their profile,
// times, sources and traits, links and refused links with every field,
// events with every stored field (properties and traits included), the
// history of merges and splits (with a merge's members), API keys (hash,
// scopes, source, expiry, last use and revocation: who gets in), the
// audit log, consent records, and webhook destinations (URL, secret, headers, filters, cursor
// and delivery number; not their leases, which a copy does not carry).
// The other kinds are compared by their counts only.
var ContentKinds = []Kind{Profiles, Identifiers, Links, Rejected, Events, Changes, APIKeys, Audit, Consent, Destinations}

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
	}
	return nil, fmt.Errorf("no content checksum for %s", b.Kind)
}

// anys returns xs as values of type any.
func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// CanonicalRecord returns the canonical form of a graph.Profile, a
// graph.Identifier, a graph.Link, a graph.RejectedLink, a graph.Event, a
// graph.ProfileChange, an access.Key, an access.AuditEntry, a
// privacy.Record or a destination.Destination, as ContentSums hashes it:
// the record's JSON (its json tags; the Go field names of a key, an audit
// entry, a consent record or a destination) with every time in UTC to the
// microsecond (graph.Clean, the precision both stores keep), an event's
// Keys, a merge's Members, a key's Scopes, an audit entry's ProfileIDs and
// a destination's Kinds and AudienceIDs sorted (a store keeps them as a
// set), a destination's Lease left out (a copy does not
// carry it), a link's or refused link's ends in order (the
// pair is undirected), and then every object's keys sorted and numbers
// written as they were read, with no spaces.
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
				t.At = graph.Clean(t.At)
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
