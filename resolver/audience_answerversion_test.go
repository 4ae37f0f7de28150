package resolver

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// afterReplace is a real audience store whose next ReplaceAudience is
// followed, before it returns, by a write made on the same store: what
// another request commits just after it.
type afterReplace struct {
	audience.Store
	mu    sync.Mutex
	after func()
}

func (s *afterReplace) ReplaceAudience(ctx context.Context, a audience.Audience, ifUpdatedAt time.Time) (time.Time, error) {
	at, err := s.Store.ReplaceAudience(ctx, a, ifUpdatedAt)
	s.mu.Lock()
	f := s.after
	s.after = nil
	s.mu.Unlock()
	if f != nil {
		f()
	}
	return at, err
}

// updateAudience answers with the audience as it saved it, its updatedAt
// the version it stored, even when another update commits before the
// answer is read: an editor that keeps that version (the console does)
// is then refused when it saves again, rather than saving over the other
// update, which it never saw.
func TestUpdateAudienceAnswersTheVersionItSaved(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		st := &afterReplace{Store: s.(audience.Store)}
		cfg := testConfig()
		cfg.Audiences = st
		e := newEnv(t, s, cfg, nil)
		pro := jsonOf(t, `{"trait":{"name":"plan","op":"EQ","value":"pro"}}`)
		const op = `mutation($id: ID!, $in: AudienceInput!, $v: DateTime) { updateAudience(id: $id, input: $in, ifUpdatedAt: $v) { id name filter updatedAt } }`
		a := createAudience(e, map[string]any{"name": "plan", "filter": pro})
		var other time.Time
		st.after = func() {
			// Another editor's update, committed after this one.
			stored, ok, err := storedAudience(context.Background(), s.(audience.Store), a.ID)
			if err != nil || !ok {
				t.Errorf("read %s: %v, %v", a.ID, ok, err)
				return
			}
			o := *stored
			o.Name, o.UpdatedAt = "other", graph.Now()
			if other, err = s.(audience.Store).ReplaceAudience(context.Background(), o, time.Time{}); err != nil {
				t.Errorf("the other update: %v", err)
			}
		}
		var upd struct{ UpdateAudience *audienceOut }
		e.query(op, map[string]any{"id": a.ID, "in": map[string]any{"name": "mine", "filter": pro}, "v": a.UpdatedAt.Format(time.RFC3339Nano)}, &upd)
		got := upd.UpdateAudience
		if got == nil || got.Name != "mine" || !got.UpdatedAt.Before(other) {
			t.Fatalf("updateAudience answered %+v; want the audience named \"mine\" with the version it saved, before the other update's %v", got, other)
		}
		// Saving again on the version answered is refused: the other update
		// came since.
		e.refused(op, map[string]any{"id": a.ID, "in": map[string]any{"name": "mine again", "filter": pro}, "v": got.UpdatedAt.Format(time.RFC3339Nano)}, CodeConflict, "ifUpdatedAt")
		var read struct{ Audience *audienceOut }
		e.query(`query($id: ID!) { audience(id: $id) { id name filter updatedAt } }`, map[string]any{"id": a.ID}, &read)
		if read.Audience == nil || read.Audience.Name != "other" {
			t.Fatalf("stored %+v, want the other update's", read.Audience)
		}
	})
}
