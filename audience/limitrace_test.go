package audience_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// The store never holds more than MaxComputedTraits definitions, however
// many are defined at once: of puts made together at the limit, one is
// stored and the others are refused with ECONFLICT, as if sent one after
// another.
func TestComputedTraitLimitHoldsUnderConcurrentPuts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		st := s.(audience.Store)
		def := func(name string) audience.ComputedTrait {
			return audience.ComputedTrait{Name: name, Aggregate: audience.AggCount, Event: "Viewed", CreatedAt: ft0, UpdatedAt: ft0}
		}
		for i := range audience.MaxComputedTraits - 1 {
			storetest.Must(t, st.PutComputedTrait(bg, def(fmt.Sprintf("t%03d", i))))
		}
		stored := race(t, func(i int) error { return st.PutComputedTrait(bg, def(fmt.Sprintf("race%d", i))) })
		defs, err := st.ComputedTraits(bg)
		storetest.Must(t, err)
		if stored != 1 || len(defs) != audience.MaxComputedTraits {
			t.Errorf("%d of %d puts at the limit stored, %d definitions held; want 1 and %d", stored, racers, len(defs), audience.MaxComputedTraits)
		}
	})
}

// racers is how many puts race at the limit.
const racers = 8

// race runs put(0..racers-1) at once and returns how many succeeded; any
// other answer than success or ECONFLICT is an error.
func race(t *testing.T, put func(i int) error) int {
	t.Helper()
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = put(i)
		}()
	}
	wg.Wait()
	stored := 0
	for i, err := range errs {
		switch {
		case err == nil:
			stored++
		case graph.ErrorCode(err) != graph.ECONFLICT:
			t.Errorf("put %d: %v, want ECONFLICT or success", i, err)
		}
	}
	return stored
}

// Likewise the store never holds more than MaxAudiences audiences.
func TestAudienceLimitHoldsUnderConcurrentPuts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		st := s.(audience.Store)
		aud := func(id string) audience.Audience {
			return audience.Audience{ID: id, Name: id, Filter: audience.Filter{Identifier: &audience.IdentifierCondition{Type: "email"}}, CreatedAt: ft0, UpdatedAt: ft0}
		}
		for i := range audience.MaxAudiences - 1 {
			storetest.Must(t, st.PutAudience(bg, aud(fmt.Sprintf("seg_%032x", i))))
		}
		stored := race(t, func(i int) error { return st.PutAudience(bg, aud(fmt.Sprintf("seg_f%031x", i))) })
		n := 0
		p := audience.Page{Limit: audience.MaxPage}
		for {
			page, err := st.AudiencePage(bg, p)
			storetest.Must(t, err)
			n += len(page)
			if len(page) < p.Limit {
				break
			}
			p.After = page[len(page)-1].ID
		}
		if stored != 1 || n != audience.MaxAudiences {
			t.Errorf("%d of %d puts at the limit stored, %d audiences held; want 1 and %d", stored, racers, n, audience.MaxAudiences)
		}
	})
}
