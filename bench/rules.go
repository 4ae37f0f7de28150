package bench

import "github.com/idgraph/cdp/graph"

// RulesJSON is the identity rules file the bench runs the engine with, and
// that `cdp bench gen` writes as rules.json. It is the built-in rules plus a
// blocklist of the placeholders real forms collect: test@test.com-style
// emails and phone numbers that are possible but never assigned. Without it
// those values would be ordinary identifiers, and one typed by several
// people would link them until a limit stops it.
const RulesJSON = `{
  "blocked": [
    "null", "nil", "undefined", "none", "nan", "n/a", "anonymous", "unknown", "-1",
    "(null)", "<nil>", "[object Object]",
    "na", "test",
    "test@test.com", "test@example.com", "none@none.com", "noemail@noemail.com",
    "no@email.com", "asdf@asdf.com", "email@email.com",
    "+10000000000", "+11111111111", "+11234567890", "+15555555555", "+19999999999"
  ],
  "blockedPatterns": ["^[0-]*$"]
}
`

// Rules parses RulesJSON.
func Rules() (*graph.Rules, error) { return graph.ParseRules([]byte(RulesJSON)) }

// MergeType is the identifier type of the merge-scaling graphs. Its limit is
// high enough that every link of a chain or star is accepted.
const MergeType = "bench_node"

// mergeRulesJSON adds MergeType to the bench rules, and lifts maxIdentifiers
// so that one profile can hold the whole graph.
const mergeRulesJSON = `{"maxIdentifiers": 1000000000, "types": {"` + MergeType + `": {"priority": 50, "limit": 1000000000}}}`

// MergeRules returns the rules of the merge-scaling runs.
func MergeRules() (*graph.Rules, error) { return graph.ParseRules([]byte(mergeRulesJSON)) }
