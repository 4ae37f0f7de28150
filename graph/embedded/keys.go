package embedded

import (
	"encoding/binary"
	"time"
)

// Bucket names. The layout is described next to each read and write; keys
// that hold several strings length-prefix all but the last (see appendPart).
// Records marked binary use the encodings of codec.go.
//
// Everything an identifier owns that ingest writes (its record, its BY
// entries and its link adjacency entries) lives in the identifiers bucket
// under the prefix part(key): a batch that touches an identifier then
// rewrites one page for it instead of one page in each of three buckets.
var (
	bucketIdentifiers = []byte("identifiers")        // part(key) tag ... (see the tags below)
	bucketMembers     = []byte("members")            // part(profileID) key -> present
	bucketProfiles    = []byte("profiles")           // id -> binary graph.Profile, live profiles only
	bucketMerged      = []byte("merged_profiles")    // id -> binary graph.Profile, merged away
	bucketMeta        = []byte("meta")               // metaFormat, metaLiveCount
	bucketRejected    = []byte("rejected")           // part(a) b, a < b -> graph.RejectedLink JSON
	bucketRejectedAdj = []byte("rejected_adjacency") // part(key) other -> present, both ways
	bucketEvents      = []byte("events")             // id -> binary graph.Event with Keys
	bucketChanges     = []byte("changes")            // seq -> graph.ProfileChange JSON
	bucketChangeIdx   = []byte("changes_by_profile") // part(profileID) time seq -> present
)

// Tags of the identifiers bucket, the byte after part(key):
//
//	part(key) tagRecord           -> compact identifier JSON (codec.go)
//	part(key) tagBy time eventID  -> present: the event is BY key
//	part(key) tagLink other       -> binary graph.Link when key < other,
//	                                 present when key > other
//
// The record sorts first, so a lookup and the writes of a batch that
// extends an identifier land on the same page.
const (
	tagRecord byte = 0
	tagBy     byte = 1
	tagLink   byte = 2
)

var allBuckets = [][]byte{
	bucketIdentifiers, bucketMembers, bucketProfiles, bucketMerged, bucketMeta,
	bucketRejected, bucketRejectedAdj, bucketEvents, bucketChanges, bucketChangeIdx,
	// access.go
	bucketAPIKeys, bucketAPIKeyHashes, bucketAudit, bucketAuditIDs, bucketAuditByKey, bucketAuditByProfile,
	// suppress.go
	bucketSuppressed, bucketSuppressionKey,
	// consent.go
	bucketConsent, bucketConsentIDs,
	// receipt.go
	bucketReceipts, bucketReceiptIDs,
	// audience.go
	bucketAudiences, bucketAudienceMembers, bucketAudienceMemberOf, bucketAudienceChanges,
	bucketComputedTraits, bucketComputedValues, bucketComputedByName, bucketComputedExpiryIdx,
	// facts.go
	bucketProfileFacts,
	// feed.go
	bucketFeed,
	// destination.go
	bucketDestinations, bucketDeliveries, bucketDeliveryStatus,
	// retired.go
	bucketRetired,
}

var (
	metaFormat    = []byte("format")
	metaLiveCount = []byte("live_count")
	// metaFeedTrimmed is the greatest Seq TrimFeed deleted (8 bytes, big
	// endian), absent when it deleted none.
	metaFeedTrimmed = []byte("feed_trimmed")
)

// formatVersion is raised whenever the layout above or a record encoding
// of codec.go changes, so an old binary refuses a file it would misread;
// this one upgrades an older file through the steps of upgrade.go, which
// also says how to add a version. Version 3: binary profiles, links and events; compact identifier
// JSON (codec.go); live and merged profiles in separate buckets; a link
// stored in its adjacency entry. Version 4: an identifier's record, BY
// entries and link adjacency entries share the identifiers bucket under
// one prefix. Version 5: an event record may end with its digest and
// message id, and a merge change holds the members of the merged profile;
// both are read only when present, so the step from 4 writes nothing.
// Version 6: the access buckets of access.go (API keys and the audit log),
// which the step from 5 creates empty. Version 7: the suppression buckets
// of suppress.go (hashes of erased identifiers and their secret), which the
// step from 6 creates empty. Version 8: the consent buckets of consent.go
// (the consent ledger and its id index), which the step from 7 creates
// empty. Version 9: the erasure receipt buckets of receipt.go (receipts in
// time order and their id index), which the step from 8 creates empty. Version 10: the audience buckets of
// audience.go (audiences, their members both ways and their log, computed
// trait definitions and values with their indexes), which the step from 9
// creates empty. Version 11: the profile facts bucket of facts.go, which
// the step from 10 creates empty (the audience keeper fills it as it
// refreshes profiles). Version 12: the change feed bucket of feed.go, which
// the step from 11 creates empty. Version 13: the destination buckets of
// destination.go (webhook destinations, their deliveries and the status
// index), which the step from 12 creates empty. Version 14: an event
// record may end with its campaign (codec.go) and an audience record may
// say static (audience.go); records written before lack both and read as
// they did, so the step from 13 is empty, and an older build refuses the
// file rather than misread a static audience as one with a filter.
// Version 15: the bucket of retired profile ids of retired.go, which the
// step from 14 creates empty (the ids of profiles deleted before it were
// not kept, and cannot be recovered). Version 16: an API key record may
// name the key that created it (createdBy, access.go); records written
// before lack it and read as keys without a creator, so the step from 15
// is empty, and an older build, which would revoke a key without the keys
// it created, refuses the file.
const formatVersion = 16

// present is the value of index entries, whose key says everything. It is
// one byte rather than empty so that Get tells "present" from "absent"
// without relying on how bbolt hands back zero-length values.
var present = []byte{1}

// appendPart appends s prefixed with its length. Identifier values may hold
// any byte, \x00 included, so a separator could not keep the prefix of one
// key from matching a longer key that starts with it; a length can.
func appendPart(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func part(s string) []byte { return appendPart(make([]byte, 0, len(s)+2), s) }

// tagged returns part(key) tag with room for extra more bytes.
func tagged(key string, tag byte, extra int) []byte {
	return append(appendPart(make([]byte, 0, len(key)+3+extra), key), tag)
}

// identKey is the key of key's identifier record.
func identKey(key string) []byte { return tagged(key, tagRecord, 0) }

// byPrefix starts the keys of key's BY entries.
func byPrefix(key string) []byte { return tagged(key, tagBy, 0) }

// byKey is the BY entry of event id at ts under key.
func byKey(key string, ts time.Time, id string) []byte {
	return append(appendTime(tagged(key, tagBy, timeLen+len(id)), ts), id...)
}

// linkPrefix starts the keys of key's link adjacency entries.
func linkPrefix(key string) []byte { return tagged(key, tagLink, 0) }

// linkEntry is the adjacency entry of the link from key to other.
func linkEntry(key, other string) []byte {
	return append(tagged(key, tagLink, len(other)), other...)
}

// pairKey is the key of the undirected pair {a, b}, given in order.
func pairKey(a, b string) []byte {
	return append(appendPart(make([]byte, 0, len(a)+len(b)+2), a), b...)
}

// splitPart returns the leading length-prefixed string of k and the rest.
func splitPart(k []byte) (string, []byte) {
	n, w := binary.Uvarint(k)
	if w <= 0 || uint64(len(k)-w) < n {
		return "", nil
	}
	return string(k[w : w+int(n)]), k[w+int(n):]
}

// timeLen is the size of an encoded time: seconds then nanoseconds. Unix
// nanoseconds in one int64 would be shorter but overflow outside 1678-2262,
// and any time.Time must sort correctly.
const timeLen = 12

// appendTime appends t so that byte order is time order: the sign bit of
// the seconds is flipped so times before 1970 sort first.
func appendTime(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix())^(1<<63))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

// decodeTime reads back the first timeLen bytes of b, written by
// appendTime, in UTC.
func decodeTime(b []byte) time.Time {
	sec := int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
	return time.Unix(sec, int64(binary.BigEndian.Uint32(b[8:timeLen]))).UTC()
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// prefixEnd returns the smallest key greater than every key starting with
// p, or nil when there is none.
func prefixEnd(p []byte) []byte { return appendPrefixEnd(nil, p) }

// appendPrefixEnd is prefixEnd written over buf's room, or nil.
func appendPrefixEnd(buf, p []byte) []byte {
	end := append(buf[:0], p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
