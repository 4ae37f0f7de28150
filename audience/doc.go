// Package audience holds the types and rules of audiences, filters and
// computed traits: the filter language marketers build segments with
// (Filter), its validation (Check), its meaning (Filter.Eval, the Go
// evaluator every store's answer must equal), and computed trait
// definitions and their computation. It does no I/O of its own and
// imports only graph and privacy.
//
// # Validation
//
// Check refuses, with EINVALID and the path of the fault inside the
// filter ("filter.and[2].event.count.value: must be 0 or more, got -1"):
//   - a node with no field set or with more than one;
//   - an empty and or or list (it would not survive a JSON round trip,
//     where omitempty drops it);
//   - more than MaxDepth levels (the root is level 1) or more than
//     MaxNodes nodes;
//   - an empty trait name, identifier type, computed trait name, purpose
//     or property path; a name or path longer than MaxNameBytes (an
//     event's name: graph.MaxEventNameBytes, what ingest takes) or not
//     UTF-8; a property path with an empty segment ("a..b", ".a", "a.");
//   - an op that is not one of Ops; for a count, one that is not EQ,
//     NEQ, GT, GTE, LT or LTE, or a count below 0;
//   - a value that does not fit the op: EXISTS and NOT_EXISTS take none;
//     EQ, NEQ and CONTAINS a string, number or boolean; GT, GTE, LT and
//     LTE a number or a string; STARTS_WITH a string; IN a list of 1 to
//     MaxInValues strings, numbers or booleans. Numbers must be finite
//     and strings at most MaxStringBytes;
//   - more than MaxWhere property filters in one event condition;
//   - a within that is not a Duration (ParseDuration);
//   - a purpose Env.Purposes does not know, a status that is not a
//     privacy.State, a computed trait Env.Computed does not know, an
//     inAudience that is not an audience id (seg_ and 32 lowercase hex
//     digits) or that Env.Audience does not know.
//
// Messages never repeat a condition's value (it may be personal data);
// names, ops, paths, durations and ids are quoted and clipped to 64 bytes.
//
// # Meaning
//
// Values are JSON values. Every number, whatever its Go type (json.Number,
// float64, int, int64...), is compared as a float64, so integers beyond
// 2^53 lose precision. A value is missing when it is absent or null.
//
//   - EXISTS holds when the value is present and not null; NOT_EXISTS
//     when it is missing. An empty string, 0, false, [] and {} exist.
//   - Every other op is false on a missing value. NEQ too: NEQ "pro" does
//     not hold for a profile without the trait; NOT of EQ "pro" does.
//   - EQ holds when both values are strings, numbers or booleans of the
//     same type and equal. Strings compare byte for byte, so case
//     matters; 1, 1.0 and json.Number("1.0") are equal; the number 1
//     never equals the string "1"; a list or object equals nothing.
//   - NEQ holds when both are strings, numbers or booleans of the same
//     type and not equal: a type mismatch is false, not "different".
//   - GT, GTE, LT and LTE hold when both are numbers, compared as
//     numbers, or both strings, compared by their UTF-16 code units, as
//     Neo4j compares strings ("B" < "a" < "é"; code point order, except
//     that a character above U+FFFF sorts before U+E000 to U+FFFF).
//     Anything else is false; booleans are never ordered.
//   - IN holds when the value is a string, number or boolean EQ to one of
//     the list's elements. A list value is never IN.
//   - CONTAINS on a string value holds when the filter's value is a
//     string and a substring ("" is in every string); on a list value,
//     when one of its elements is EQ to the filter's value (elements
//     that are lists or objects match nothing). On anything else it is
//     false.
//   - STARTS_WITH holds when both are strings and the value begins with
//     the filter's ("" begins every string).
//
// The conditions:
//   - trait reads Subject.Traits[name] (the profile's current value,
//     graph.FoldTraits); the name is matched whole, never split on dots.
//   - computed reads Subject.Computed[name] the same way.
//   - identifier holds when the profile has an identifier of the type
//     (exists, the default) or has none (exists: false).
//   - event counts the profile's events (each once) whose name equals
//     the condition's name and whose type equals its type, each only
//     when set (case-sensitive; Normalize and DecodeFilter put the type as
//     ingest stores it, trimmed and lower-case), whose properties satisfy every where
//     filter, and whose timestamp is not before Duration.Before(now.UTC())
//     when within is set. Events after now
//     count too. A where path is dotted into nested objects (Lookup); a
//     path through anything but an object, a list included, is missing.
//     The count is compared with count (EQ, NEQ, GT, GTE, LT, LTE), by
//     default GTE 1; so "count EQ 0" holds for a profile without such
//     events.
//   - consent holds when privacy.StateOf(all the profile's records,
//     purpose, now) is the status: GRANTED, DENIED, WITHDRAWN, EXPIRED
//     (a grant whose expiry is not after now) or UNKNOWN (no record).
//   - inAudience holds when the profile is a member of the audience
//     (Subject.Audiences). For an audience with a purpose, a filter is
//     evaluated through Filter.WithPurposes, which also asks for the
//     consent state for the purpose to be GRANTED at now.
//   - and holds when every child holds, or when there is none; or when
//     one child holds, and never when there is none; not negates.
//
// Durations (ParseDuration) are P[nY][nM][nW][nD][T[nH][nM][nS]], whole
// numbers, not negative, longer than zero and at most MaxDurationYears.
// Duration.Before(now) takes years and months off the calendar date,
// clamping the day to the month's last (31 March minus P1M is the last
// day of February; 29 February minus P1Y is 28 February), then weeks,
// days (24 hours each), hours, minutes and seconds exactly. An event
// condition's within and a computed trait's window both take it on the
// UTC calendar: Duration.Before(now.UTC()). As the clamp keeps the time
// of day, the start moves back in time at the midnights that begin a
// day the month reached lacks (29 to 31 March for P1M in 2026), though
// never to an earlier date: an event can leave a window and come back.
// ComputedTrait.NextChange accounts for that.
//
// # Computed traits
//
// A ComputedTrait folds the events an event condition with its Event,
// EventType and Where would count, inside its Window, into one value
// (ComputedTrait.Compute). Its validation (ComputedTrait.Validate) uses
// CheckPropertyPath, CheckWhere and ParseDuration, so its where filters,
// paths and windows obey the rules above. See COMPUTED.md.
package audience
