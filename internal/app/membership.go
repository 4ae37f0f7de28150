package app

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/audience"
)

// DefaultAudienceRefresh is how often time-dependent audience membership is
// evaluated again when `--audience-refresh` is not given.
const DefaultAudienceRefresh = time.Minute

// maxDirty bounds the profiles waiting for evaluation; past it the next
// round evaluates every profile instead.
const maxDirty = 100_000

// retryAfter is the pause after a failed round.
const retryAfter = 2 * time.Second

// progressEvery is how many profiles a pass over every profile evaluates
// between two progress lines in the log.
const progressEvery = 10_000

// passProgress logs, at info, every progressEvery profiles a pass over
// every profile has evaluated (an audience or computed trait defined on a
// large store: the backfill).
func passProgress(log zerolog.Logger) func(done int) {
	last := 0
	return func(done int) {
		if done < last { // a new pass
			last = 0
		}
		if done/progressEvery > last/progressEvery {
			log.Info().Int("profiles", done).Msg("audiences: evaluating every profile")
		}
		last = done
	}
}

// settleWait bounds how long a count waits for the membership queue (see
// memberships.settle).
const settleWait = 5 * time.Second

// refreshChunk is how many profiles one Refresh call evaluates.
const refreshChunk = 500

// roundGap is, on a store with one writer, the least time between the end
// of one round of the membership queue and the start of the next, unless
// a count is waiting (settle). Under steady ingestion a round then covers
// every profile touched in the last second or so, however many commits
// touched them: a profile touched by several is evaluated once, and the
// keeper's writes, which share the embedded store's one writer with
// ingestion, come once a second rather than after every commit. The first
// touch after a quiet second is evaluated at once.
const roundGap = time.Second

// roundGapFor returns the gap between rounds on st: roundGap on a store
// with one writer, which the keeper's writes take from ingestion; 0 on a
// store whose Keep locks only the profiles it writes (audience.KeepSplit:
// Neo4j), which writes beside ingestion, and where waiting only made the
// rounds burstier (docs/BENCHMARKS.md, "Kept membership on the embedded
// store").
func roundGapFor(st audience.Store) time.Duration {
	if _, ok := st.(audience.KeepSplit); ok {
		return 0
	}
	return roundGap
}

// refresher is what keeps audience membership: audience/keep.Keeper.
type refresher interface {
	// Refresh evaluates the given profiles against every audience.
	Refresh(ctx context.Context, profileIDs []string) error
	// RefreshAll evaluates every live profile, and drops members that are
	// no longer live.
	RefreshAll(ctx context.Context) error
	// RefreshDue evaluates every live profile against the audiences that
	// time alone can change (event windows, windowed computed traits,
	// consent that expires).
	RefreshDue(ctx context.Context) error
}

// memberships keeps audience membership current in the background: the
// profiles each committed micro-batch, correction, consent change or
// erasure touched are queued (touch) and evaluated within about gap
// (rounds start at least gap after the previous one ended); every
// `every`, the audiences that time alone changes (an event leaving a
// 30-day window) are evaluated again over all profiles. A change of the
// audiences themselves (refreshAll), or a queue that overflowed, makes the
// next round evaluate every profile against every audience.
type memberships struct {
	keep  refresher
	every time.Duration
	// gap is the least time between two rounds that no settle call hurries
	// (roundGap in the service; 0: none).
	gap time.Duration
	log zerolog.Logger
	// catchUp, when set, tells at start whether a full round is due: any
	// audience or computed trait stored, or the store cannot say.
	catchUp func(ctx context.Context) bool

	mu    sync.Mutex
	dirty map[string]bool
	all   bool
	wake  chan struct{}
	// urge ends the wait for gap: a settle call is waiting.
	urge chan struct{}
	// asked counts touches and refreshAll calls; done is the count a
	// successful round had seen when it took the queue; progress is
	// closed (and replaced) whenever done moves.
	asked, done uint64
	progress    chan struct{}

	stop  context.CancelFunc
	ended sync.WaitGroup
}

func newMemberships(keep refresher, every, gap time.Duration, log zerolog.Logger) *memberships {
	return &memberships{keep: keep, every: every, gap: gap, log: log, dirty: map[string]bool{},
		wake: make(chan struct{}, 1), urge: make(chan struct{}, 1), progress: make(chan struct{})}
}

// refreshAll asks for every profile to be evaluated against every
// audience (an audience was created or its filter changed). It never
// blocks.
func (m *memberships) refreshAll() {
	m.mu.Lock()
	m.all, m.dirty = true, map[string]bool{}
	m.asked++
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// touch queues profiles for evaluation. It never blocks: past maxDirty
// queued profiles, the next round evaluates all of them.
func (m *memberships) touch(ids []string) {
	if len(ids) == 0 {
		return
	}
	m.mu.Lock()
	m.asked++
	if !m.all {
		for _, id := range ids {
			m.dirty[id] = true
		}
		if len(m.dirty) > maxDirty {
			m.all, m.dirty = true, map[string]bool{}
		}
	}
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// start runs the loop until close.
func (m *memberships) start() {
	// What the last process left unevaluated (killed between a commit and
	// its round, or stopped before its last round ended) is caught up by
	// one full round at start, when there is anything to keep. Asked
	// before start returns, so that what a caller stores afterwards is
	// not taken for what the last process left.
	if m.catchUp != nil && m.catchUp(context.Background()) {
		m.refreshAll()
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	m.ended.Add(1)
	go m.run(ctx)
}

// close stops the loop after the round in progress, and evaluates what is
// still queued, within ctx.
func (m *memberships) close(ctx context.Context) error {
	if m.stop != nil {
		m.stop()
		m.ended.Wait()
	}
	return m.round(ctx, false)
}

func (m *memberships) run(ctx context.Context) {
	defer m.ended.Done()
	var tick <-chan time.Time
	if m.every > 0 {
		t := time.NewTicker(m.every)
		defer t.Stop()
		tick = t.C
	}
	var ended time.Time // when the last round ended
	// retry is set after a failed round: the next one runs after the
	// wait, without waiting for a touch or the tick, and evaluates the
	// audiences time changes again if that is what failed (dueFailed).
	retry, dueFailed := false, false
	for {
		due := dueFailed
		if !retry {
			select {
			case <-ctx.Done():
				return
			case <-m.wake:
			case <-tick:
				due = true
			}
		}
		retry, dueFailed = false, false
		if !due && !ended.IsZero() && !m.pause(ctx, time.Until(ended.Add(m.gap))) {
			return
		}
		err := m.round(ctx, false)
		ended = time.Now()
		if err == nil && due {
			if err = m.keep.RefreshDue(ctx); err != nil {
				dueFailed = true
			}
		} else if err != nil {
			dueFailed = due
		}
		if err != nil && ctx.Err() == nil {
			m.log.Warn().Err(err).Msg("audiences: membership not evaluated; retrying in a moment")
			// What failed is queued again; wait, then retry.
			t := time.NewTimer(retryAfter)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			retry = true
		}
	}
}

// pause waits d, or less if a settle call urges the queue on. It reports
// false when ctx ended.
func (m *memberships) pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-m.urge:
	case <-t.C:
	}
	return true
}

// round evaluates the queued profiles, or every profile when all is set or
// the queue overflowed. On failure what it took is queued again.
func (m *memberships) round(ctx context.Context, all bool) error {
	m.mu.Lock()
	all = all || m.all
	taken := m.asked
	var ids []string
	if !all {
		ids = slices.Sorted(maps.Keys(m.dirty))
	}
	m.dirty, m.all = map[string]bool{}, false
	m.mu.Unlock()
	if all {
		if err := m.keep.RefreshAll(ctx); err != nil {
			m.mu.Lock()
			m.all = true
			m.mu.Unlock()
			return err
		}
		m.advance(taken)
		return nil
	}
	for start := 0; start < len(ids); start += refreshChunk {
		chunk := ids[start:min(start+refreshChunk, len(ids))]
		if err := m.keep.Refresh(ctx, chunk); err != nil {
			m.touch(ids[start:])
			return err
		}
	}
	m.advance(taken)
	return nil
}

// advance records that everything asked up to taken has been evaluated,
// and wakes the settle calls waiting for it.
func (m *memberships) advance(taken uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if taken <= m.done {
		return
	}
	m.done = taken
	close(m.progress)
	m.progress = make(chan struct{})
}

// settle waits until every profile queued before the call has been
// evaluated, so that a count reads the keeper's facts as of the request.
// It gives up after wait, or when ctx ends, and reports whether the queue
// had caught up: a count that goes on regardless reads facts at most one
// round old, and profiles without facts are read in full.
func (m *memberships) settle(ctx context.Context, wait time.Duration) bool {
	m.mu.Lock()
	want := m.asked
	m.mu.Unlock()
	if want == 0 {
		return true
	}
	for _, c := range []chan struct{}{m.wake, m.urge} {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		m.mu.Lock()
		done, progress := m.done, m.progress
		m.mu.Unlock()
		if done >= want {
			return true
		}
		select {
		case <-progress:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}
