package neo4jstore

import (
	"fmt"
	"regexp"
	"strings"
)

// The graph model of DESIGN.md. Analysts query these names directly, so they
// change only together with the design.
const (
	labelIdentifier = "Identifier"
	labelProfile    = "Profile"
	labelEvent      = "Event"
	// labelMerged marks a merged-away profile, so that the live count is
	// count(:Profile) - count(:Merged), both from the count store.
	labelMerged = "Merged"

	relLinked     = "LINKED"
	relIn         = "IN"
	relBy         = "BY"
	relMergedInto = "MERGED_INTO"
	relSplitFrom  = "SPLIT_FROM"
	relRejected   = "REJECTED_LINK"

	// Identifier.
	propKey       = "key"
	propType      = "type"
	propValue     = "value"
	propFirstSeen = "firstSeen"
	propLastSeen  = "lastSeen"
	propSources   = "sources"
	propTraits    = "traits" // JSON, also on Event
	// Profile.
	propID         = "id" // also Event.id
	propCreatedAt  = "createdAt"
	propUpdatedAt  = "updatedAt"
	propSize       = "size"
	propCounts     = "counts" // JSON
	propMergedInto = "mergedInto"
	// Event (type, id and traits above).
	propName    = "name"
	propChannel = "channel"
	propSource  = "source" // also LINKED and REJECTED_LINK
	// propCampaign is an Event's context.campaign.name; events stored
	// before campaigns were kept, and those without one, lack it.
	propCampaign = "campaign"
	// propLongName holds an Event's name longer than graph.MaxEventNameBytes,
	// which the index on name and timestamp cannot take when it is past
	// about 8 KB (the collector has refused such names since 2026-12-06; an
	// embedded store may hold older ones). name is then absent: reads take
	// coalesce(name, longName), and no condition, which names at most
	// graph.MaxEventNameBytes, matches it.
	propLongName   = "longName"
	propTimestamp  = "timestamp"
	propReceivedAt = "receivedAt"
	propProperties = "properties" // JSON
	// The slots of audience.Slots, parallel lists from which compiled
	// filters compare values without parsing JSON (filter.go): on an
	// Event its properties by dotted path, on an Identifier its traits
	// by name (with slotTimes and slotReceived). Absent when empty.
	propSlotNames   = "slotNames"
	propSlotKinds   = "slotKinds"
	propSlotStrings = "slotStrings"
	propSlotNumbers = "slotNumbers"
	propSlotTimes   = "slotTimes" // Identifier only: each entry's trait time
	// propSlotReceived is, on an Identifier only, when each entry's trait
	// was received (graph.TraitValue.Received; 0001-01-01 for none).
	propSlotReceived = "slotReceived"
	propMessageID    = "messageId" // as sent; id is "<source>/<messageId>"
	propDigest       = "digest"    // hex SHA-256 of the content; absent on events stored before
	// propClaim marks an event node created by ClaimEvents and not yet
	// completed by Apply; it never outlives the transaction.
	propClaim = "claim"
	// Relationships (source, firstSeen, lastSeen above).
	propEvidence = "evidence"
	propCount    = "count"
	propAt       = "at"
	propReason   = "reason"
	// MERGED_INTO: the keys the merged profile held.
	propMembers = "members"

	// Access (access.go): API keys and the append-only audit log.
	labelAPIKey     = "ApiKey"
	labelAuditEntry = "AuditEntry"
	// ApiKey (id, name, source, createdAt above).
	propHash       = "hash" // hex SHA-256 of the secret
	propScopes     = "scopes"
	propLastUsedAt = "lastUsedAt"
	propExpiresAt  = "expiresAt"
	propRevokedAt  = "revokedAt"
	propCreatedBy  = "createdBy" // the creator's id; absent on keys without one
	// AuditEntry (id, at, reason above).
	propKeyID         = "keyId"
	propKeyName       = "keyName"
	propAction        = "action"
	propOperationName = "operationName"
	propRequestID     = "requestId"
	propProfileIDs    = "profileIds"
	propProfileCount  = "profileCount"
	propOutcome       = "outcome"

	// Suppression (suppress.go): hashes of erased identifiers, and the
	// secret that keys them. Neither is connected to the identity graph.
	labelSuppressed     = "Suppressed"
	labelSuppressionKey = "SuppressionKey"
	propSecret          = "secret"
	// Suppressed has hash, at and reason (above); SuppressionKey has id.

	// Consent (consent.go): the consent ledger, one node per record, found
	// by its identifier's key and not connected to the identity graph.
	// Consent also has id, at, source, expiresAt and receivedAt (above).
	labelConsent       = "Consent"
	propPurpose        = "purpose"
	propStatus         = "status"
	propLegalBasis     = "legalBasis"
	propIdentifier     = "identifier" // the graph key of the identifier
	propProofText      = "proofText"
	propProofVersion   = "proofVersion"
	propProofChannel   = "proofChannel"
	propProofCollector = "proofCollector"
	propProofEventID   = "proofEventId"

	// Erasure receipts (receipt.go): one node per erasure, holding no
	// personal data and not connected to the identity graph.
	// ErasureReceipt also has id, at, reason, keyId and keyName (above).
	labelErasureReceipt     = "ErasureReceipt"
	propKind                = "kind"
	propIdentifierCount     = "identifierCount"
	propEventCount          = "eventCount"
	propScrubbedEventCount  = "scrubbedEventCount"
	propTraitCount          = "traitCount"
	propConsentRecordCount  = "consentRecordCount"
	propSuppressedHashCount = "suppressedHashCount"

	// Audiences (audience.go): definitions, kept membership and its log,
	// computed trait definitions and values. None is connected to the
	// identity graph: a profile is named by its id (profileId).
	// Audience has id, name, purpose, size, createdAt and updatedAt
	// (above); AudienceChange has kind and at; ComputedTrait has name,
	// createdAt and updatedAt; ComputedValue has name and value (JSON).
	labelAudience       = "Audience"
	labelAudienceMember = "AudienceMember"
	labelAudienceChange = "AudienceChange"
	labelComputedTrait  = "ComputedTrait"
	labelComputedValue  = "ComputedValue"
	propDescription     = "description"
	propFilter          = "filter" // JSON
	propStatic          = "static" // Audience: true on a static audience, else absent
	propRefreshedAt     = "refreshedAt"
	propSeq             = "seq" // Audience: changes logged so far; AudienceChange: its number
	propAudienceID      = "audienceId"
	propProfileID       = "profileId"
	propSince           = "since"
	propAggregate       = "aggregate"
	propEventName       = "event"
	propEventType       = "eventType"
	propProperty        = "property"
	propWhere           = "where" // JSON
	propWindow          = "window"
	propComputedAt      = "computedAt"
	propExpires         = "expires"

	// labelAudienceDeletion is the tombstone of a deleted audience whose
	// members and log are still being removed, a chunk per transaction
	// (DeleteAudience): it has audienceId, at (when the audience was
	// deleted) and lock, and outlives the deletion only when that stopped
	// (the process died, its context ended, Neo4j went away).
	labelAudienceDeletion = "AudienceDeletion"

	// Profile facts (facts.go): one node per live profile the audience
	// keeper refreshed, holding its audience.Facts in their binary form
	// (data); not connected to the identity graph.
	labelProfileFacts = "ProfileFacts"
	// labelMigration marks a data migration done (Migrate), by its id.
	labelMigration = "Migration"
	propData       = "data"

	// The change feed (feed.go): one FeedBatch per transaction that
	// appended entries, holding them as parallel lists, and the
	// FeedCounter whose head is the Seq of the newest entry. Neither is
	// connected to the identity graph.
	labelFeedBatch   = "FeedBatch"
	labelFeedCounter = "FeedCounter"
	propFirst        = "first" // Seq of the batch's first entry
	propLast         = "last"  // Seq of its last
	propKinds        = "kinds"
	propPreviousIDs  = "previousIds" // per entry, its previous ids joined by ","
	propEventIDs     = "eventIds"
	propAudienceIDs  = "audienceIds"
	propHead         = "head"
	propTrimmed      = "trimmed" // FeedCounter: the greatest Seq trimmed
	propLock         = "lock"

	// Retired profile ids (retired.go): one node per deleted profile id,
	// holding only its keyed hash (graph.RetiredIDHash, property hash),
	// never the id; not connected to the identity graph.
	labelRetiredProfileID = "RetiredProfileId"
)

// names is the allow-list of what a query template may name: every label,
// relationship type and property key of the model, and nothing else.
var names = func() map[string]string {
	m := map[string]string{}
	for _, n := range append([]string{
		labelIdentifier, labelProfile, labelEvent, labelMerged,
		relLinked, relIn, relBy, relMergedInto, relSplitFrom, relRejected,
		propKey, propType, propValue, propFirstSeen, propLastSeen, propSources, propTraits,
		propID, propCreatedAt, propUpdatedAt, propSize, propCounts, propMergedInto,
		propName, propLongName, propChannel, propSource, propCampaign, propTimestamp, propReceivedAt, propProperties, propClaim,
		propSlotNames, propSlotKinds, propSlotStrings, propSlotNumbers, propSlotTimes, propSlotReceived, labelMigration,
		propMessageID, propDigest,
		labelFeedBatch, labelFeedCounter, propFirst, propLast, propKinds, propPreviousIDs, propEventIDs, propAudienceIDs, propHead, propTrimmed, propLock,
		propEvidence, propCount, propAt, propReason, propMembers,
		labelAPIKey, labelAuditEntry, propHash, propScopes, propLastUsedAt, propExpiresAt, propRevokedAt, propCreatedBy,
		propKeyID, propKeyName, propAction, propOperationName, propRequestID, propProfileIDs, propProfileCount, propOutcome,
		labelSuppressed, labelSuppressionKey, propSecret,
		labelConsent, propPurpose, propStatus, propLegalBasis, propIdentifier,
		propProofText, propProofVersion, propProofChannel, propProofCollector, propProofEventID,
		labelErasureReceipt, propKind, propIdentifierCount, propEventCount, propScrubbedEventCount,
		propTraitCount, propConsentRecordCount, propSuppressedHashCount,
		labelAudience, labelAudienceMember, labelAudienceChange, labelComputedTrait, labelComputedValue, labelAudienceDeletion,
		propDescription, propFilter, propStatic, propRefreshedAt, propSeq, propAudienceID, propProfileID, propSince,
		propAggregate, propEventName, propEventType, propProperty, propWhere, propWindow, propComputedAt, propExpires,
		labelProfileFacts, propData, labelRetiredProfileID,
	}, destinationNames...) {
		m[n] = n
	}
	return m
}()

var plainName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// cypher expands a query template at init: each {{name}} becomes the model
// name it stands for. Unknown names panic, so a typo fails every test rather
// than reaching the database, and no query text ever comes from input.
// Write "{ {{key}}: x }" with spaces, since "{{{" is ambiguous.
func cypher(tmpl string) string {
	var b strings.Builder
	rest := tmpl
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			b.WriteString(rest)
			return b.String()
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			panic(fmt.Sprintf("neo4jstore: unclosed {{ in query %q", tmpl))
		}
		name := rest[i+2 : i+j]
		v, ok := names[name]
		if !ok || !plainName.MatchString(v) {
			panic(fmt.Sprintf("neo4jstore: query names %q, which is not in the model: %q", name, tmpl))
		}
		b.WriteString(rest[:i])
		b.WriteString(v)
		rest = rest[i+j+2:]
	}
}
