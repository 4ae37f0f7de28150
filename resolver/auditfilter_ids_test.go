package resolver

import (
	"strings"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestAuditFilterIDsAreChecked: auditLog's filter.keyId and
// filter.profileId must be shaped as a key's and a profile's id: a key's
// name typed where its id belongs, or an email pasted for a profile id, is
// INVALID_ARGUMENT naming the field (and never repeating the value),
// rather than an empty log that reads as "this key did nothing". Ids of
// the right shape filter as before.
func TestAuditFilterIDsAreChecked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		auditor, auditorKey := e.key("auditor", "", access.ScopeAuditRead, access.ScopeKeysAdmin)
		e.ok(auditor, `mutation { createApiKey(input: {name: "made", scopes: ["audit:read"]}) { secret } }`, nil, nil)

		const q = `query($f: AuditFilter) { auditLog(filter: $f) { nodes { action } } }`
		for _, c := range []struct {
			field, value string
		}{
			{"keyId", "auditor"},
			{"keyId", ""},
			{"keyId", "key_a-b"},
			{"profileId", "ann@example.com"},
			{"profileId", "P_ABC"},
			{"profileId", ""},
		} {
			r := e.as(auditor, q, map[string]any{"f": map[string]any{c.field: c.value}})
			checkRefused(t, r.gqlResponse, CodeInvalidArgument, `"filter.`+c.field+`"`)
			if c.value != "" && strings.Contains(string(r.Raw), c.value) {
				t.Errorf("filter.%s %q: the answer repeats the value: %s", c.field, c.value, r.Raw)
			}
		}

		var out struct {
			AuditLog struct{ Nodes []struct{ Action string } }
		}
		e.ok(auditor, q, map[string]any{"f": map[string]any{"keyId": auditorKey.ID}}, &out)
		if len(out.AuditLog.Nodes) != 1 || out.AuditLog.Nodes[0].Action != "createApiKey" {
			t.Errorf("the auditor's entries: %+v, want its one createApiKey", out.AuditLog.Nodes)
		}
		e.ok(auditor, q, map[string]any{"f": map[string]any{"profileId": "p_abc123"}}, &out)
		if len(out.AuditLog.Nodes) != 0 {
			t.Errorf("entries of p_abc123: %+v, want none", out.AuditLog.Nodes)
		}
	})
}
