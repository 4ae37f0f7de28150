package audiencetest

import (
	"testing"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// A static audience has no filter and reads back static, by id and by
// page; one with a filter is refused. Static is part of the definition a
// replace writes, and a replace keeps the members either way.
func testStaticAudience(t *testing.T, s Store) {
	st := audience.Audience{ID: aid(1), Name: "lookalike", Description: "saved", Purpose: "marketing", Static: true,
		CreatedAt: at(0), UpdatedAt: at(0)}
	putAud(t, s, st, aud(2))
	got, ok := getAud(t, s, st.ID)
	if !ok {
		t.Fatal("the static audience is not stored")
	}
	checkAudience(t, "static audience", got, st)
	page, err := s.AudiencePage(bg, audience.Page{Limit: 10})
	must(t, err)
	if len(page) != 2 || !page[0].Static || page[1].Static {
		t.Fatalf("AudiencePage: %+v, want %s static and %s not", page, aid(1), aid(2))
	}

	withFilter := st
	withFilter.ID, withFilter.Filter = aid(3), simple("pro")
	wantCode(t, s.PutAudience(bg, withFilter), graph.EINVALID, "PutAudience(static with a filter)")
	if _, ok := getAud(t, s, aid(3)); ok {
		t.Fatal("a static audience with a filter was stored")
	}

	apply(t, s, st.ID, []string{"p1", "p2"}, nil, at(5))
	renamed := st
	renamed.Name, renamed.Purpose, renamed.UpdatedAt = "lookalike, renamed", "", at(6)
	putAud(t, s, renamed)
	got, _ = getAud(t, s, st.ID)
	renamed.Size, renamed.RefreshedAt = 2, at(5)
	checkAudience(t, "static audience renamed", got, renamed)
	// Made a filter audience by a replace, it keeps its members until a
	// keeper evaluates it.
	filtered := renamed
	filtered.Static, filtered.Filter, filtered.UpdatedAt = false, simple("pro"), at(7)
	putAud(t, s, filtered)
	got, _ = getAud(t, s, st.ID)
	checkAudience(t, "static audience given a filter", got, filtered)
	ms, err := s.Members(bg, st.ID, audience.Page{Limit: 10})
	must(t, err)
	if len(ms) != 2 || ms[0].ProfileID != "p1" || ms[1].ProfileID != "p2" {
		t.Fatalf("members after the replaces: %+v, want p1 and p2", ms)
	}
}
