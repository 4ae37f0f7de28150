package access

import (
	"slices"
	"strings"

	"github.com/idgraph/cdp/graph"
)

// Scope is a permission an API key holds.
type Scope string

// The scopes, exactly these names.
const (
	ScopeProfilesRead   Scope = "profiles:read"
	ScopePIIRead        Scope = "pii:read"
	ScopeEventsWrite    Scope = "events:write"
	ScopeIdentityWrite  Scope = "identity:write" // merge, unlink, remove
	ScopeConsentWrite   Scope = "consent:write"
	ScopePrivacyRead    Scope = "privacy:read"
	ScopePrivacyWrite   Scope = "privacy:write"
	ScopeAudiencesRead  Scope = "audiences:read"
	ScopeAudiencesWrite Scope = "audiences:write"
	ScopeAuditRead      Scope = "audit:read"
	ScopeKeysAdmin      Scope = "keys:admin"
	ScopeMetricsRead    Scope = "metrics:read"
)

// allScopes is every scope in its canonical order, the order ParseScopes
// returns them in.
var allScopes = []Scope{
	ScopeProfilesRead, ScopePIIRead, ScopeEventsWrite, ScopeIdentityWrite,
	ScopeConsentWrite, ScopePrivacyRead, ScopePrivacyWrite,
	ScopeAudiencesRead, ScopeAudiencesWrite, ScopeAuditRead, ScopeKeysAdmin, ScopeMetricsRead,
}

// AllScopes returns every scope in canonical order.
func AllScopes() []Scope { return slices.Clone(allScopes) }

// validScopes lists the scopes for error messages.
var validScopes = func() string {
	names := make([]string, len(allScopes))
	for i, s := range allScopes {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}()

// ParseScope returns the scope named s.
//
// Errors: EINVALID for an unknown name, naming it and listing the valid ones.
func ParseScope(s string) (Scope, error) {
	if i := slices.Index(allScopes, Scope(s)); i >= 0 {
		return allScopes[i], nil
	}
	return "", graph.Errorf(graph.EINVALID, "unknown scope %q; the scopes are %s", s, validScopes)
}

// ParseScopes parses names and returns the distinct scopes in canonical
// order.
//
// Errors: EINVALID for an unknown name (see ParseScope) or no scope at all.
func ParseScopes(names []string) ([]Scope, error) {
	if len(names) == 0 {
		return nil, graph.Errorf(graph.EINVALID, "no scope given; the scopes are %s", validScopes)
	}
	have := make(map[Scope]bool, len(names))
	for _, n := range names {
		s, err := ParseScope(n)
		if err != nil {
			return nil, err
		}
		have[s] = true
	}
	out := make([]Scope, 0, len(have))
	for _, s := range allScopes {
		if have[s] {
			out = append(out, s)
		}
	}
	return out, nil
}

// ScopeNames returns the names of scopes, for storage.
func ScopeNames(scopes []Scope) []string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = string(s)
	}
	return out
}
