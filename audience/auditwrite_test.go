package audience_test

import (
	"context"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// An audience store write appends the audit entries its ctx carries in its
// own transaction: the entry exists exactly when the write committed. A
// write that fails leaves no entry, and an entry that cannot be stored
// (its id is taken) rolls the write back.
func TestAudienceWriteAppendsAuditInItsTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		type both interface {
			audience.Store
			access.Store
		}
		st, ok := s.(both)
		if !ok {
			t.Fatalf("%T does not keep both audiences and the audit log", s)
		}
		ctx := context.Background()
		entry := func(action string) access.AuditEntry {
			return access.AuditEntry{ID: access.NewAuditID(), At: fat(1), Action: action, Outcome: access.OutcomeOK}
		}
		logged := func(action string) int {
			t.Helper()
			es, err := st.Audit(ctx, access.AuditQuery{Action: action, Limit: access.MaxPage})
			storetest.Must(t, err)
			return len(es)
		}
		stored := func(id string) bool {
			t.Helper()
			got, err := st.Audiences(ctx, []string{id})
			storetest.Must(t, err)
			_, ok := got[id]
			return ok
		}
		aud := func(n int) audience.Audience {
			return audience.Audience{ID: segID(n), Name: "audited", CreatedAt: fat(0), UpdatedAt: fat(0),
				Filter: audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: "pro"}}}
		}

		first := entry("createAudience")
		storetest.Must(t, st.PutAudience(access.WithAuditInWrite(ctx, first), aud(1)))
		if !stored(segID(1)) || logged("createAudience") != 1 {
			t.Fatalf("after a committed write: audience stored %v, %d entries; want true, 1", stored(segID(1)), logged("createAudience"))
		}

		// The same entry id again: the entry cannot be stored, so neither
		// is the audience.
		err := st.PutAudience(access.WithAuditInWrite(ctx, first), aud(2))
		if graph.ErrorCode(err) != graph.ECONFLICT {
			t.Fatalf("write with a taken entry id: %v, want CONFLICT", err)
		}
		if stored(segID(2)) || logged("createAudience") != 1 {
			t.Fatalf("after the refused entry: audience 2 stored %v, %d entries; want false, 1", stored(segID(2)), logged("createAudience"))
		}

		// A write that fails in its transaction leaves no entry.
		err = st.ApplyMembership(access.WithAuditInWrite(ctx, entry("applyMembership")), segID(9), []string{"p_a"}, nil, fat(2))
		if graph.ErrorCode(err) != graph.ENOTFOUND {
			t.Fatalf("membership of a missing audience: %v, want NOT_FOUND", err)
		}
		if n := logged("applyMembership"); n != 0 {
			t.Fatalf("a failed write left %d entries", n)
		}

		// Deleting commits its entry with it.
		if ok, err := st.DeleteAudience(access.WithAuditInWrite(ctx, entry("deleteAudience")), segID(1)); err != nil || !ok {
			t.Fatalf("delete: %v %v", ok, err)
		}
		if stored(segID(1)) || logged("deleteAudience") != 1 {
			t.Fatalf("after the delete: stored %v, %d entries; want false, 1", stored(segID(1)), logged("deleteAudience"))
		}
	})
}
