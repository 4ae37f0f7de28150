package resolver

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestDestinationAudienceIDsMustExist: createDestination and
// updateDestination refuse an audience id that names no stored audience
// (NOT_FOUND) or is not an audience id (INVALID_ARGUMENT), naming its
// position in the input as given (not as sorted), and store nothing; the
// ids are read in one call however many they are.
func TestDestinationAudienceIDsMustExist(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		auds := newCountingAudiences(s.(audience.Store))
		cfg := testConfig()
		cfg.Audiences = auds
		e := newKeyEnv(t, s, cfg, nil)
		hooks, _ := e.key("hooks", "", access.ScopeAudiencesWrite, access.ScopeProfilesRead)
		now := graph.Now()
		known := make([]string, 50)
		for i := range known {
			known[i] = audience.NewAudienceID()
			storetest.Must(t, auds.Store.PutAudience(ctx, audience.Audience{ID: known[i], Name: fmt.Sprintf("a%d", i), Static: true, CreatedAt: now, UpdatedAt: now}))
		}
		// Sorted, the unknown id would come first and the malformed one
		// last: the messages name the positions given.
		unknown := "seg_00000000000000000000000000000000"
		with := func(ids ...string) map[string]any {
			return destInput(func(m map[string]any) { m["audienceIds"] = ids })
		}
		r := e.as(hooks, createDestOp, with(known[0], unknown))
		checkRefused(t, r.gqlResponse, CodeNotFound, `"input.audienceIds[1]"`)
		r = e.as(hooks, createDestOp, with("zz", known[0]))
		checkRefused(t, r.gqlResponse, CodeInvalidArgument, `"input.audienceIds[0]"`)
		if ds, err := s.(destination.Store).DestinationPage(ctx, "", 10); err != nil || len(ds) != 0 {
			t.Fatalf("after the refusals, stored %d destinations (%v)", len(ds), err)
		}

		// One read, for one id or fifty.
		var created struct{ CreateDestination destOut }
		auds.reset()
		e.ok(hooks, createDestOp, with(known[0]), &created)
		one := auds.reset()["Audiences"]
		e.ok(hooks, createDestOp, with(known...), nil)
		fifty := auds.reset()["Audiences"]
		if one != 1 || fifty != 1 {
			t.Errorf("audience reads: %d for one id, %d for fifty, want 1 each", one, fifty)
		}

		// An update is checked the same way and changes nothing.
		id := created.CreateDestination.ID
		upd := `mutation($id: ID!, $in: DestinationInput!) { updateDestination(id: $id, input: $in) { id audienceIds } }`
		in := with(known[1], known[2], unknown)["in"]
		r = e.as(hooks, upd, map[string]any{"id": id, "in": in})
		checkRefused(t, r.gqlResponse, CodeNotFound, `"input.audienceIds[2]"`)
		stored, err := s.(destination.Store).Destination(ctx, id)
		storetest.Must(t, err)
		if strings.Join(stored.AudienceIDs, ",") != known[0] {
			t.Fatalf("after a refused update, audienceIds %v, want %s", stored.AudienceIDs, known[0])
		}
	})
}

// TestDestinationURLShownWithoutQuery: a destination's URL is shown
// (createDestination, updateDestination, destinations) without its query
// string, which often holds a token, and delivered to in full; an update
// that gives back the URL as shown keeps the stored one.
func TestDestinationURLShownWithoutQuery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := newKeyEnv(t, s, testConfig(), nil)
		// Its updates give no kinds: every kind, audience changes included.
		hooks, _ := e.key("hooks", "", access.ScopeAudiencesWrite, access.ScopeProfilesRead, access.ScopeAudiencesRead)
		const token = "TOKEN-q7Vd2"
		full := "https://93.184.215.14/hook/in?token=" + token + "&v=2"
		const shown = "https://93.184.215.14/hook/in?…"

		var created struct{ CreateDestination destOut }
		r := e.ok(hooks, createDestOp, destInput(func(m map[string]any) { m["url"] = full }), &created)
		d := created.CreateDestination
		if d.URL != shown {
			t.Errorf("createDestination url %q, want %q", d.URL, shown)
		}
		list := e.ok(hooks, `{ destinations(first: 10) { nodes { url } } }`, nil, nil)
		if !strings.Contains(string(list.Raw), shown) {
			t.Errorf("destinations does not show %q: %s", shown, list.Raw)
		}
		for _, raw := range [][]byte{r.Raw, list.Raw} {
			if strings.Contains(string(raw), token) {
				t.Fatalf("an answer holds the URL's query: %s", raw)
			}
		}
		storedURL := func() string {
			t.Helper()
			got, err := s.(destination.Store).Destination(ctx, d.ID)
			storetest.Must(t, err)
			return got.URL
		}
		if got := storedURL(); got != full {
			t.Fatalf("stored url %q, want the full %q", got, full)
		}

		// Given back as shown, the URL keeps the stored one.
		upd := `mutation($id: ID!, $in: DestinationInput!) { updateDestination(id: $id, input: $in) { url name } }`
		var updated struct{ UpdateDestination struct{ URL, Name string } }
		e.ok(hooks, upd, map[string]any{"id": d.ID, "in": map[string]any{"name": "renamed", "url": shown}}, &updated)
		if updated.UpdateDestination.URL != shown || updated.UpdateDestination.Name != "renamed" || storedURL() != full {
			t.Fatalf("after an update with the shown url: %+v, stored %q, want %q kept", updated.UpdateDestination, storedURL(), full)
		}
		// A new URL replaces it.
		next := "https://93.184.215.14/v2?key=other"
		e.ok(hooks, upd, map[string]any{"id": d.ID, "in": map[string]any{"name": "renamed", "url": next}}, &updated)
		if updated.UpdateDestination.URL != "https://93.184.215.14/v2?…" || storedURL() != next {
			t.Fatalf("after an update with a new url: %+v, stored %q", updated.UpdateDestination, storedURL())
		}
		// The shown form is not a URL to deliver to: refused where it
		// stands for no stored URL.
		for _, bad := range []string{shown, "https://93.184.215.14/hook/in?%E2%80%A6"} {
			r = e.as(hooks, createDestOp, destInput(func(m map[string]any) { m["url"] = bad }))
			checkRefused(t, r.gqlResponse, CodeInvalidArgument, `input.url`, "whole URL")
		}
		// A refusal of a URL does not repeat its query either.
		r = e.as(hooks, createDestOp, destInput(func(m map[string]any) { m["url"] = "http://10.0.0.1/x?token=" + token }))
		checkRefused(t, r.gqlResponse, CodeInvalidArgument, "input.url")
		if strings.Contains(string(r.Raw), token) {
			t.Fatalf("a refusal repeats the URL's query: %s", r.Raw)
		}
	})
}

// TestDeleteAudienceSentByDestination: deleteAudience refuses (CONFLICT)
// an audience a destination sends, naming the destination, and keeps it;
// once the destination no longer sends it, the delete goes through. An
// audience deleted between createDestination's check and its write is
// refused by the store, and the answer names the id's position as given.
func TestDeleteAudienceSentByDestination(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := newKeyEnv(t, s, testConfig(), nil)
		hooks, _ := e.key("hooks", "", access.ScopeAudiencesWrite, access.ScopeProfilesRead)
		now := graph.Now()
		sent, other := audience.NewAudienceID(), audience.NewAudienceID()
		for _, id := range []string{sent, other} {
			storetest.Must(t, s.(audience.Store).PutAudience(ctx, audience.Audience{ID: id, Name: "a " + id, Static: true, CreatedAt: now, UpdatedAt: now}))
		}
		var created struct{ CreateDestination destOut }
		e.ok(hooks, createDestOp, destInput(func(m map[string]any) { m["audienceIds"] = []string{other, sent} }), &created)
		dst := created.CreateDestination.ID

		const del = `mutation($id: ID!) { deleteAudience(id: $id) }`
		r := e.as(hooks, del, map[string]any{"id": sent})
		checkRefused(t, r.gqlResponse, CodeConflict, `"id"`, "sent by destination "+dst, "audienceIds")
		if got, err := s.(audience.Store).Audiences(ctx, []string{sent}); err != nil || len(got) != 1 {
			t.Fatalf("after the refused delete, the audience is stored: %d (%v), want 1", len(got), err)
		}

		upd := `mutation($id: ID!, $in: DestinationInput!) { updateDestination(id: $id, input: $in) { id audienceIds } }`
		e.ok(hooks, upd, map[string]any{"id": dst, "in": destInput(func(m map[string]any) { m["audienceIds"] = []string{other} })["in"]}, nil)
		var deleted struct{ DeleteAudience bool }
		e.ok(hooks, del, map[string]any{"id": sent}, &deleted)
		if !deleted.DeleteAudience {
			t.Fatalf("deleteAudience of an audience no destination sends answered false")
		}

		// The store's own check, as a deletion committed after the
		// resolver read the audience would meet it.
		st := s.(destination.Store)
		d := destination.Destination{ID: destination.NewID(), Name: "late", URL: "https://93.184.215.14/hook", Secret: "s3cret-s3cret-s3cret",
			AudienceIDs: []string{other, sent}, CreatedAt: now, UpdatedAt: now}
		_, err := st.CreateDestination(ctx, d)
		err = audienceGoneErr(err, []string{other, sent})
		if graph.ErrorCode(err) != graph.ENOTFOUND || !strings.Contains(graph.ErrorMessage(err), `"input.audienceIds[1]"`) {
			t.Fatalf("create naming the deleted audience: %v, want NOT_FOUND naming input.audienceIds[1]", err)
		}
	})
}
