package graph

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Engine resolves identities. It is the only writer of the graph: every
// change goes through one Store.Update, so both stores behave the same.
type Engine struct {
	store Store
	norm  *Normalizer
	// Now is the clock; tests may replace it.
	Now func() time.Time

	stampMu sync.Mutex
	stamped time.Time // the latest time stamp handed out

	// The store's secret keying retired profile ids (see retirer), read
	// once; secretRead is set once it was read, nil secret and all when
	// the store keeps none.
	secretMu   sync.Mutex
	secret     []byte
	secretRead bool
}

// stamp returns the time of a write that may create profiles at up to n
// successive microseconds from it (a batch's new profiles are dated by the
// event that first carried them). It is the clock's time, moved past every
// time stamp this engine handed out before, so that a profile it creates
// later is never dated earlier, or the same, as one it created before:
// "older" in the resolution rules then means "seen first", however a clock
// that stands still or steps back reads. The write is also dated after
// after (the latest creation or update time of the profiles it has
// locked), so that a profile is never changed, nor another profile that
// meets it created, before its own time, whatever the clock of the process
// that dated it said. The stamps handed out later start past that floor
// too: otherwise a profile this engine creates next would be dated before
// one it created under the floor, "older" would no longer mean "seen
// first", and how events were batched would decide which profile survives
// a merge. A profile dated ahead by a clock elsewhere thus moves this
// engine's stamps ahead by as much, until its own clock catches up.
func (e *Engine) stamp(n int, after time.Time) time.Time {
	now := Clean(e.Now())
	after = Clean(after)
	e.stampMu.Lock()
	if !now.After(e.stamped) {
		now = e.stamped.Add(time.Microsecond)
	}
	if !now.After(after) {
		now = after.Add(time.Microsecond)
	}
	e.stamped = now.Add(time.Duration(max(n, 1)-1) * time.Microsecond)
	e.stampMu.Unlock()
	return now
}

// latestOf is the latest creation or update time of profiles.
func latestOf[M ~map[string]Profile](profiles M) time.Time {
	var latest time.Time
	for _, p := range profiles {
		latest = maxTime(latest, maxTime(p.CreatedAt, p.UpdatedAt))
	}
	return latest
}

// NewEngine returns an engine over s with rules r (nil for the defaults).
func NewEngine(s Store, r *Rules) *Engine {
	if r == nil {
		r = DefaultRules()
	}
	return &Engine{store: s, norm: NewNormalizer(r), Now: Now}
}

// Store returns the engine's store.
func (e *Engine) Store() Store { return e.store }

// Normalizer returns the engine's normalizer, with its drop counts.
func (e *Engine) Normalizer() *Normalizer { return e.norm }

// Event outcomes in a BatchResult.
const (
	StatusStored    = "stored"
	StatusDuplicate = "duplicate"
	StatusRejected  = "rejected"
	// StatusConflict: the event's id is already stored (or came earlier in
	// the batch) with other content (another Digest). It is not a retry,
	// and nothing is stored. A caller that knows only the three statuses
	// above treats it as a rejection.
	StatusConflict = ReasonDuplicateConflict
)

// ReasonDuplicateConflict starts the Reason of a StatusConflict result.
const ReasonDuplicateConflict = "duplicate_conflict"

const conflictReason = ReasonDuplicateConflict + ": this message id was already stored for this source with different content"

// claimOutcome is what becomes of an event whose id is already stored (or
// came earlier in the batch) with digest stored: a duplicate when the
// content is the same, or when either digest is unknown (an event stored
// before digests were kept, or built without one), and a conflict otherwise.
func claimOutcome(stored string, ev *Event) EventResult {
	if stored == "" || ev.Digest == "" || stored == ev.Digest {
		return EventResult{ID: ev.ID, Status: StatusDuplicate}
	}
	return EventResult{ID: ev.ID, Status: StatusConflict, Reason: conflictReason}
}

// settleRepeats gives each later copy of an id in a batch (repeats: its
// index -> the first copy's) the outcome it would have in a batch of its
// own after the first copy's. The event filter has judged every copy on
// its own content, and a copy it refused is never a first copy. When the
// first copy was a conflict with what is stored (stored holds the digest
// of each id the batch found stored), the copy is judged against what is
// stored: a copy of the stored content is a duplicate, whatever the first
// copy held. Otherwise a copy that has the first copy's content, and so
// was judged a duplicate of it, gets the first copy's outcome when that
// copy was refused: "duplicate" says the content is stored, and it is not.
func settleRepeats(rs []EventResult, repeats map[int]int, events []Event, stored map[string]string) {
	for i, f := range repeats {
		first := rs[f]
		if d, ok := stored[events[i].ID]; ok && first.Status == StatusConflict {
			rs[i] = claimOutcome(d, &events[i])
			continue
		}
		if rs[i].Status == StatusDuplicate && (first.Status == StatusConflict || first.Status == StatusRejected) {
			rs[i] = EventResult{ID: rs[i].ID, Status: first.Status, Reason: first.Reason}
		}
	}
}

// firstCopies splits the events at idxs into the first copy of each id
// (todo, in order) and the later copies (repeats: index -> the first
// copy's index).
func firstCopies(events []Event, idxs []int) (todo []int, repeats map[int]int) {
	first := make(map[string]int, len(idxs))
	for _, i := range idxs {
		if f, ok := first[events[i].ID]; ok {
			if repeats == nil {
				repeats = map[int]int{}
			}
			repeats[i] = f
			continue
		}
		first[events[i].ID] = i
		todo = append(todo, i)
	}
	return todo, repeats
}

// EventResult is the outcome of one event of a batch.
type EventResult struct {
	ID        string
	Status    string
	Reason    string
	ProfileID string
}

// BatchResult is the outcome of ApplyBatch, one result per event in order.
type BatchResult struct {
	Results    []EventResult
	Stored     int
	Duplicates int
	Rejected   int
	Conflicts  int // StatusConflict results, not counted in Rejected
	// Merged are the profiles the batch merged away (each now redirects
	// to a survivor named by a stored event's ProfileID), sorted.
	Merged []string
	// Touched are the live profiles whose members, events or traits the
	// batch changed, sorted: beside each stored event's ProfileID, the
	// other profiles an event it could not link is shared with.
	Touched []string
}

// ApplyBatch resolves and stores events in one transaction. Events that
// carry no usable identifier are rejected with the reason; events whose id
// is already stored (or repeated in the batch) change nothing: they are
// duplicates when their Digest matches, conflicts (StatusConflict) when
// it differs. Events are resolved in the order given.
//
// When ctx carries an EventsHook (WithEventsHook), it runs in the same
// transaction, after the write and before the commit, with every event's
// result in order (the rejected ones too); its error rolls the batch back
// and is returned.
//
// Errors: EUNAVAILABLE when the store cannot be reached; the hook's error;
// nothing is stored.
func (e *Engine) ApplyBatch(ctx context.Context, events []Event) (BatchResult, error) {
	res := BatchResult{Results: make([]EventResult, len(events))}
	var valid []int      // the events to filter, claim and resolve, repeated ids included
	var dropped []string // why each value NormalizeAll dropped, counted once the batch commits
	for i := range events {
		ev := &events[i]
		r := &res.Results[i]
		r.ID = ev.ID
		if ev.ID == "" {
			r.Status, r.Reason = StatusRejected, "event has no id"
			continue
		}
		if t := e.unknownType(ev.Identifiers); t != "" {
			r.Status, r.Reason = StatusRejected, fmt.Sprintf("%s: identifier type %q is not in the rules, which do not allow other types", ReasonUnknownType, t)
			continue
		}
		keys, drops := e.norm.NormalizeAll(ev.Identifiers)
		for _, d := range drops {
			dropped = append(dropped, d.Reason)
		}
		if len(keys) == 0 {
			r.Status, r.Reason = StatusRejected, noIdentifierReason(drops)
			continue
		}
		if why := unstorableNumber(ev.Properties, "properties"); why != "" {
			r.Status, r.Reason = StatusRejected, why
			continue
		}
		if why := unstorableNumber(ev.Traits, "traits"); why != "" {
			r.Status, r.Reason = StatusRejected, why
			continue
		}
		ev.Keys = keys
		ev.Timestamp = Clean(ev.Timestamp)
		ev.ReceivedAt = Clean(ev.ReceivedAt)
		if ev.ReceivedAt.IsZero() {
			ev.ReceivedAt = Clean(e.Now())
		}
		if ev.Timestamp.IsZero() {
			ev.Timestamp = ev.ReceivedAt
		}
		valid = append(valid, i)
	}
	hook := EventsHookFrom(ctx)
	var repeats map[int]int // a later event with an id seen before -> the first's index
	if len(valid) > 0 || hook != nil {
		// With a hook a transaction runs even when nothing is to be
		// stored, so that what the hook records (the call's audit entry)
		// exists for every call that succeeded.
		var r retirer
		if len(valid) > 0 {
			// Read before the transaction: naming new profiles needs it.
			var err error
			if r, err = e.retirer(ctx); err != nil {
				return BatchResult{}, err
			}
		}
		var out map[int]EventResult
		var merged, touched []string
		var stored map[string]string // the digests of the ids found stored
		filter := eventFilterFrom(ctx)
		update := func(ctx context.Context, tx Tx) error {
			var err error
			out, merged, touched = nil, nil, nil
			stored = map[string]string{}
			kept := valid
			var refused map[int]EventResult
			if filter != nil && len(valid) > 0 {
				// Every copy of a repeated id is filtered on its own
				// content: a copy the filter refuses is not the first
				// copy of its id, and the next kept copy is judged as it
				// would be in a batch of its own.
				if kept, refused, err = filterEvents(ctx, tx, filter, events, valid); err != nil {
					return err
				}
			}
			var todo []int
			todo, repeats = firstCopies(events, kept)
			if len(todo) > 0 {
				recheck := filter
				if SerialWrites(e.store) {
					recheck = nil // nothing commits between its read and the locks
				}
				if out, merged, touched, err = e.resolve(ctx, tx, r, events, todo, recheck, stored); err != nil {
					return err
				}
			}
			if out == nil {
				out = make(map[int]EventResult, len(refused)+len(repeats))
			}
			maps.Copy(out, refused)
			for i, f := range repeats {
				out[i] = claimOutcome(events[f].Digest, &events[i])
			}
			if hook == nil {
				return nil
			}
			// Each run builds its own results: a store may run this
			// function again, and out is that run's.
			rs := slices.Clone(res.Results)
			for i, r := range out {
				rs[i] = r
			}
			settleRepeats(rs, repeats, events, stored)
			return hook(ctx, tx, rs)
		}
		err := e.store.Update(ctx, update)
		// Run again, rolled back, when the filter refused after the locks
		// what it kept before them: the new run's filter refuses it first.
		for again := 0; errors.Is(err, errRefusedMeanwhile) && again < maxRefusedMeanwhile; again++ {
			err = e.store.Update(ctx, update)
		}
		if err != nil {
			return BatchResult{}, err
		}
		for i, r := range out {
			res.Results[i] = r
		}
		res.Merged, res.Touched = merged, touched
		settleRepeats(res.Results, repeats, events, stored)
	}
	// Counted only now, so that a batch rolled back and committed again
	// (by the collector without a call whose hook failed) counts once.
	for _, why := range dropped {
		e.norm.Count(why)
	}
	for _, r := range res.Results {
		switch r.Status {
		case StatusStored:
			res.Stored++
		case StatusDuplicate:
			res.Duplicates++
		case StatusRejected:
			res.Rejected++
		case StatusConflict:
			res.Conflicts++
		}
	}
	return res, nil
}

// EventFilter is run by ApplyBatch inside its write transaction, before
// any event is claimed or any identifier locked, with the events about to
// be stored (Keys set, normalized), every copy of a repeated id included:
// it returns, for each, the reason to refuse it ("" to keep it), judging
// each on its own content. Refused events get a rejected result with
// that reason and nothing of them is written. Reading through tx, it sees
// every transaction committed before it reads (the suppression list an
// erasure just added to, say); on a store with several writers it runs
// again, for the events carrying a new identifier, once their identifiers
// are locked (errRefusedMeanwhile). Like the other hooks it may run more
// than once and must not keep state from one run to the next.
type EventFilter func(ctx context.Context, tx Tx, events []Event) ([]string, error)

// errRefusedMeanwhile ends a write transaction whose EventFilter, read
// again once the batch's identifiers are locked, refuses an event it kept
// before the locks. On a store with several writers (Neo4j) a filter's
// first read does not lock what it reads: an erasure can commit between
// it and the batch's locks, deleting an identifier the batch then creates
// again, and adding it to the suppression list the filter had read
// before. Only the events carrying an identifier the transaction creates
// can meet such an erasure (an identifier that existed when it was locked
// was not erased since: the erasure would wait for the lock), so only
// those are read again. ApplyBatch then runs the transaction again, up to
// maxRefusedMeanwhile times. A store whose writes run one at a time
// (SerialWriter) needs no second read.
var errRefusedMeanwhile = errors.New("an event filter refused, once the identifiers were locked, an event it had kept")

const maxRefusedMeanwhile = 3

type eventFilterKey struct{}

// WithEventFilter returns ctx carrying fn, for the ingestion call made
// with it.
func WithEventFilter(ctx context.Context, fn EventFilter) context.Context {
	return context.WithValue(ctx, eventFilterKey{}, fn)
}

func eventFilterFrom(ctx context.Context) EventFilter {
	fn, _ := ctx.Value(eventFilterKey{}).(EventFilter)
	return fn
}

// filterEvents runs fn over the events at todo and returns those it keeps
// and the results of those it refuses.
func filterEvents(ctx context.Context, tx Tx, fn EventFilter, events []Event, todo []int) ([]int, map[int]EventResult, error) {
	batch := make([]Event, len(todo))
	for j, i := range todo {
		batch[j] = events[i]
	}
	reasons, err := fn(ctx, tx, batch)
	if err != nil {
		return nil, nil, err
	}
	if len(reasons) != len(batch) {
		return nil, nil, fmt.Errorf("event filter gave %d answers for %d events", len(reasons), len(batch))
	}
	var kept []int
	refused := map[int]EventResult{}
	for j, i := range todo {
		if reasons[j] != "" {
			refused[i] = EventResult{ID: events[i].ID, Status: StatusRejected, Reason: reasons[j]}
			continue
		}
		kept = append(kept, i)
	}
	return kept, refused, nil
}

// unknownType returns the first identifier type among refs that the rules
// do not accept, or "".
func (e *Engine) unknownType(refs []IdentifierRef) string {
	if r := e.norm.rules; r.AllowAnyType == nil || *r.AllowAnyType {
		return ""
	}
	for _, r := range refs {
		if t := strings.ToLower(strings.TrimSpace(r.Type)); validType(t) && !e.norm.rules.KnownType(t) {
			return t
		}
	}
	return ""
}

// ReasonInvalidNumber starts the Reason of an event refused for a number
// no store can keep and read back.
const ReasonInvalidNumber = "invalid_number"

// unstorableNumber names the first number in v (at path) that is not a
// finite float64: a json.Number beyond float64's range, NaN or an
// infinity. Stores keep properties and traits as JSON, which has no such
// number, and read numbers back as int64 or float64 (graph.JSONNumber), so
// such a value would be stored and then fail every read of its event or
// profile. The collector
// refuses it first; this guards every other caller of ApplyBatch.
func unstorableNumber(v any, path string) string {
	if finite(v) {
		return "" // the common case, without naming paths
	}
	bad := func(what string) string {
		return fmt.Sprintf("%s: %s: number %.40s is not a finite 64-bit float", ReasonInvalidNumber, path, what)
	}
	switch x := v.(type) {
	case json.Number:
		if f, err := strconv.ParseFloat(string(x), 64); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return bad(string(x))
		}
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return bad(strconv.FormatFloat(x, 'g', -1, 64))
		}
	case float32:
		if math.IsInf(float64(x), 0) || math.IsNaN(float64(x)) {
			return bad(strconv.FormatFloat(float64(x), 'g', -1, 32))
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if why := unstorableNumber(x[k], path+"."+MessageKey(k)); why != "" {
				return why
			}
		}
	case []any:
		for i, e := range x {
			if why := unstorableNumber(e, path+"["+strconv.Itoa(i)+"]"); why != "" {
				return why
			}
		}
	}
	return ""
}

// finite reports whether every number in v is a finite float64.
func finite(v any) bool {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	case float64:
		return !math.IsInf(x, 0) && !math.IsNaN(x)
	case float32:
		return !math.IsInf(float64(x), 0) && !math.IsNaN(float64(x))
	case map[string]any:
		for _, e := range x {
			if !finite(e) {
				return false
			}
		}
	case []any:
		for _, e := range x {
			if !finite(e) {
				return false
			}
		}
	}
	return true
}

func noIdentifierReason(drops []Drop) string {
	if len(drops) == 0 {
		return "event carries no identifier"
	}
	msg := "event carries no usable identifier:"
	for i, d := range drops {
		if i > 0 {
			msg += ","
		}
		msg += fmt.Sprintf(" %s %s", d.Ref.Type, d.Reason)
	}
	return msg
}

// group is a union-find node over profiles during one batch: an existing
// profile, or a new profile seeded by a new identifier.
type group struct {
	parent    *group
	profile   string // existing profile id, "" for a new one
	seed      string // the new identifier that seeds a new profile
	id        string // a new profile's id, its seed's first free one, when named before the union
	size      int
	counts    map[string]int
	createdAt time.Time
	newKeys   []string // new identifiers that join this group
	absorbed  []string // existing profiles merged into this group
}

func (g *group) find() *group {
	for g.parent != nil {
		if g.parent.parent != nil {
			g.parent = g.parent.parent
		}
		g = g.parent
	}
	return g
}

// name is the group's profile id, or its seed while it has none.
func (g *group) name() string { return g.profile + g.seed }

// beats reports whether g survives a union with h made by the event dated
// at: the larger wins, then the older, then an existing profile over a new
// one, then the smaller id.
//
// A batch resolves as its events would one at a time, each in a batch of
// its own. A new group is dated by the first event of the batch that
// carried it (unite), so the group an earlier event started is the older.
// Two new groups of one date were started by one event; when a later event
// unites them, each stands for the profile that event would have created
// alone, so they compare by that profile's id (its seed's first free id),
// as two stored profiles do.
func (g *group) beats(h *group, at time.Time) bool {
	if g.size != h.size {
		return g.size > h.size
	}
	if !g.createdAt.Equal(h.createdAt) {
		return g.createdAt.Before(h.createdAt)
	}
	if (g.profile == "") != (h.profile == "") {
		return g.profile != ""
	}
	return g.tieName(at) < h.tieName(at)
}

// tieName is the name g compares by in a tie settled by the event dated at
// (see beats).
func (g *group) tieName(at time.Time) string {
	if g.profile == "" && g.createdAt.Before(at) {
		return cmp.Or(g.id, ProfileIDFor(g.seed, 0))
	}
	return g.name()
}

// absorb merges lose into g.
func (g *group) absorb(lose *group) {
	lose.parent = g
	g.size += lose.size
	for t, n := range lose.counts {
		g.counts[t] += n
	}
	g.newKeys = append(g.newKeys, lose.newKeys...)
	if lose.profile != "" {
		g.absorbed = append(g.absorbed, lose.profile)
	}
	g.absorbed = append(g.absorbed, lose.absorbed...)
}

// limitConflict names the first limit that a union of two profiles (their
// per-type counts and sizes) would break, or "" when the union is allowed.
func (e *Engine) limitConflict(a, b map[string]int, sizeA, sizeB int) string {
	rules := e.norm.rules
	for _, t := range slices.Sorted(maps.Keys(b)) {
		if a[t] > 0 && b[t] > 0 {
			if lim := rules.Rule(t).Limit; a[t]+b[t] > lim {
				return fmt.Sprintf("profile would hold %d %s identifiers (limit %d)", a[t]+b[t], t, lim)
			}
		}
	}
	if n := sizeA + sizeB; n > rules.MaxIdentifiers {
		return fmt.Sprintf("profile would hold %d identifiers (maxIdentifiers %d)", n, rules.MaxIdentifiers)
	}
	return ""
}

// resolve resolves one batch inside one write transaction, in steps: claim
// the event ids, lock what the events touch, unite (pure, no store), name
// the new profiles, and build the write.
//
// filter, when not nil, is the call's EventFilter, which kept todo before
// the locks: it reads again, once the identifiers are locked, for the
// events that carry one this transaction creates (see errRefusedMeanwhile).
// stored receives the digests of the ids already stored (claim).
func (e *Engine) resolve(ctx context.Context, tx Tx, r retirer, events []Event, todo []int, filter EventFilter, stored map[string]string) (out map[int]EventResult, merged, touched []string, err error) {
	out, kept, err := claim(ctx, tx, events, todo, stored)
	if err != nil || len(kept) == 0 {
		return out, nil, nil, err
	}
	batch := make([]Event, len(kept))
	for j, i := range kept {
		batch[j] = events[i]
	}
	st, err := e.lockBatch(ctx, tx, batch)
	if err != nil {
		return nil, nil, nil, err
	}
	if filter != nil {
		var fresh []int
		for j, i := range kept {
			if slices.ContainsFunc(batch[j].Keys, func(k string) bool { return st.idents[k].ProfileID == "" }) {
				fresh = append(fresh, i)
			}
		}
		if len(fresh) > 0 {
			_, refused, err := filterEvents(ctx, tx, filter, events, fresh)
			if err != nil {
				return nil, nil, nil, err
			}
			if len(refused) > 0 {
				return nil, nil, nil, errRefusedMeanwhile
			}
		}
	}
	// After every profile the batch touches: with the profiles locked, the
	// batch comes after them in the serial order, whatever this process's
	// clock says against the one that created them.
	latest := latestOf(st.profiles)
	// The batch's new profiles are dated from first, one microsecond per
	// event; the write itself is dated at the last of those, so that no
	// profile is updated before it was created.
	first := e.stamp(len(kept), latest)
	now := first.Add(time.Duration(len(kept)-1) * time.Microsecond)
	u := e.unite(st, batch, first, nil)
	if u.needIDs {
		// A tie between two profiles one earlier event of the batch
		// started compares the ids they would have had as stored profiles
		// (rare: only refusals keep two such profiles apart until a later
		// event). Every new identifier is named, and the union made again.
		var fresh []string
		for _, k := range st.keys {
			if st.idents[k].ProfileID == "" {
				fresh = append(fresh, k)
			}
		}
		ids := make(map[string]string, len(fresh))
		if err := nameProfiles(ctx, tx, r, fresh, func(k string) string { return k }, func(k, id string) { ids[k] = id }); err != nil {
			return nil, nil, nil, err
		}
		u = e.unite(st, batch, first, ids)
	}
	var unnamed []*group
	for _, g := range u.roots {
		switch {
		case g.profile != "":
		case g.id != "":
			g.profile = g.id
		default:
			unnamed = append(unnamed, g)
		}
	}
	if err := nameProfiles(ctx, tx, r, unnamed, func(g *group) string { return g.seed }, func(g *group, id string) { g.profile = id }); err != nil {
		return nil, nil, nil, err
	}
	var losers []string
	for _, g := range u.roots {
		losers = append(losers, g.absorbed...)
	}
	slices.Sort(losers)
	members, err := tx.Members(ctx, losers)
	if err != nil {
		return nil, nil, nil, err
	}
	existing, err := tx.LinksBetween(ctx, slices.SortedFunc(maps.Keys(u.links), compareLinkKeys))
	if err != nil {
		return nil, nil, nil, err
	}
	w := e.buildWrite(st, u, batch, members, existing, now)
	for j, i := range kept {
		out[i] = EventResult{ID: events[i].ID, Status: StatusStored, ProfileID: u.groupOf(batch[j].Keys[0]).find().profile}
	}
	if err := tx.Apply(ctx, w); err != nil {
		return nil, nil, nil, err
	}
	// The feed: merges first (a follower of a merged profile moves to its
	// survivor before the survivor's new events), then each stored event,
	// then the profiles whose identifiers got traits.
	feed := feedOfChanges(w)
	for _, i := range kept {
		feed = append(feed, FeedEntry{At: now, Kind: FeedEventAdded, ProfileID: out[i].ProfileID, EventID: events[i].ID})
	}
	traited := map[string]bool{}
	for _, t := range w.Traits {
		if g := u.groupOf(t.Key); g != nil {
			traited[g.find().profile] = true
		}
	}
	for _, p := range slices.Sorted(maps.Keys(traited)) {
		feed = append(feed, FeedEntry{At: now, Kind: FeedTraitsChanged, ProfileID: p})
	}
	if err := AppendFeed(ctx, tx, feed); err != nil {
		return nil, nil, nil, err
	}
	for _, c := range w.Changes {
		if c.Kind == ChangeMerge {
			merged = append(merged, c.From)
		}
	}
	slices.Sort(merged)
	for _, p := range w.PutProfiles {
		if p.MergedInto == "" {
			touched = append(touched, p.ID)
		}
	}
	slices.Sort(touched)
	return out, merged, slices.Compact(touched), nil
}

// claim reserves the ids of the events at todo. Events already stored are
// duplicates or conflicts in out, and their stored digests go into
// stored; kept are the events to resolve, in order.
func claim(ctx context.Context, tx Tx, events []Event, todo []int, stored map[string]string) (out map[int]EventResult, kept []int, err error) {
	out = make(map[int]EventResult, len(todo))
	claims := make([]EventClaim, len(todo))
	for j, i := range todo {
		claims[j] = EventClaim{ID: events[i].ID, Digest: events[i].Digest}
	}
	found, err := tx.ClaimEvents(ctx, claims)
	if err != nil {
		return nil, nil, err
	}
	for _, i := range todo {
		if digest, ok := found[events[i].ID]; ok {
			stored[events[i].ID] = digest
			out[i] = claimOutcome(digest, &events[i])
		} else {
			kept = append(kept, i)
		}
	}
	return out, kept, nil
}

// batchState is what a batch reads under its locks.
type batchState struct {
	keys     []string                 // every key the batch carries, sorted
	idents   map[string]Identifier    // by key, with ProfileID and Traits
	profiles map[string]Profile       // the profiles idents name, by id
	manual   map[LinkKey]bool         // the pairs among keys a person unlinked
	ruled    map[LinkKey]RejectedLink // the pairs among keys the rules refused, as stored
}

// lockBatch locks every identifier the batch carries (creating new ones)
// and their profiles, in key order, and reads the manual refusals among
// them.
func (e *Engine) lockBatch(ctx context.Context, tx Tx, batch []Event) (*batchState, error) {
	sightings := map[string]*IdentifierSeen{}
	for _, ev := range batch {
		for _, k := range ev.Keys {
			s := sightings[k]
			if s == nil {
				ref := SplitKey(k)
				s = &IdentifierSeen{Key: k, Type: ref.Type, Value: ref.Value, First: ev.Timestamp, Last: ev.Timestamp}
				sightings[k] = s
			}
			if ev.Timestamp.Before(s.First) {
				s.First = ev.Timestamp
			}
			if ev.Timestamp.After(s.Last) {
				s.Last = ev.Timestamp
			}
			if ev.Source != "" && !slices.Contains(s.Sources, ev.Source) {
				s.Sources = append(s.Sources, ev.Source)
			}
		}
	}
	st := &batchState{keys: slices.Sorted(maps.Keys(sightings))}
	seen := make([]IdentifierSeen, len(st.keys))
	for j, k := range st.keys {
		seen[j] = *sightings[k]
	}
	var err error
	if st.idents, err = tx.LockIdentifiers(ctx, seen, true); err != nil {
		return nil, err
	}
	pids := map[string]bool{}
	for _, id := range st.idents {
		if id.ProfileID != "" {
			pids[id.ProfileID] = true
		}
	}
	if st.profiles, err = tx.LockProfiles(ctx, slices.Sorted(maps.Keys(pids))); err != nil {
		return nil, err
	}
	if st.manual, st.ruled, err = storedRefusals(ctx, tx, st.keys); err != nil {
		return nil, err
	}
	return st, nil
}

// united is the outcome of the union step.
type united struct {
	groups      map[string]*group // by existing profile id or seed key
	roots       []*group          // the surviving groups, by name
	links       map[LinkKey]*Link // this batch's sightings of each link
	rejected    map[LinkKey]*RejectedLink
	traits      map[string]map[string]TraitValue // the batch's newest, per anchor key
	mergeReason map[string]string                // absorbed profile id -> why
	// held are what each absorbed profile gained in the batch before it
	// was absorbed: the new identifiers that joined it and the profiles
	// it had absorbed. Its merge records them with its stored members,
	// as it would had each event come alone.
	heldNew      map[string][]string
	heldAbsorbed map[string][]string
	idents       map[string]Identifier
	// needIDs: a tie needed the ids of new profiles, and unite had none.
	needIDs bool
}

// groupOf returns the group an identifier started the batch in.
func (u *united) groupOf(key string) *group {
	if p := u.idents[key].ProfileID; p != "" {
		return u.groups[p]
	}
	return u.groups[key]
}

// unite applies the resolution rules to a batch, event by event, over what
// lockBatch read. It touches no store. For each event, the anchor (its
// highest-priority identifier) is linked to every other identifier: a pair a
// person unlinked is skipped, a union that would break a limit is refused
// and recorded, and any other pair is linked, uniting the two profiles by
// size. The batch's events are dated from first, a microsecond apart; ids
// holds the id each new identifier would give the profile it starts. With
// ids nil, a union that needs them (see group.beats) sets needIDs, and its
// outcome is not to be used.
func (e *Engine) unite(st *batchState, batch []Event, first time.Time, ids map[string]string) *united {
	u := &united{
		groups:       map[string]*group{},
		links:        map[LinkKey]*Link{},
		rejected:     map[LinkKey]*RejectedLink{},
		traits:       map[string]map[string]TraitValue{},
		mergeReason:  map[string]string{},
		idents:       st.idents,
		heldNew:      map[string][]string{},
		heldAbsorbed: map[string][]string{},
	}
	// A new identifier's group is dated by the first event carrying it,
	// one microsecond apart per event, so the group an earlier event
	// started is the older, as it would be had each event come alone.
	firstEvent := map[string]int{}
	for j := len(batch) - 1; j >= 0; j-- {
		for _, k := range batch[j].Keys {
			firstEvent[k] = j
		}
	}
	dated := func(j int) time.Time { return first.Add(time.Duration(j) * time.Microsecond) }
	for _, k := range st.keys {
		// Every identifier gets its group, even one carried alone.
		if p := st.idents[k].ProfileID; p != "" {
			if u.groups[p] == nil {
				pr := st.profiles[p]
				u.groups[p] = &group{profile: p, size: pr.Size, counts: maps.Clone(pr.Counts), createdAt: pr.CreatedAt}
				if u.groups[p].counts == nil {
					u.groups[p].counts = map[string]int{}
				}
			}
		} else {
			u.groups[k] = &group{seed: k, id: ids[k], size: 1, counts: map[string]int{SplitKey(k).Type: 1}, createdAt: dated(firstEvent[k]), newKeys: []string{k}}
		}
	}
	for j, ev := range batch {
		anchor := ev.Keys[0]
		for _, x := range ev.Keys[1:] {
			lk := NewLinkKey(anchor, x)
			if st.manual[lk] {
				// A person refused this link: it is never made again.
				continue
			}
			ra, rx := u.groupOf(anchor).find(), u.groupOf(x).find()
			if ra != rx {
				if why := e.limitConflict(ra.counts, rx.counts, ra.size, rx.size); why != "" {
					// A refusal says why the pair was first kept apart: the
					// latest one, made earlier in the batch or else stored,
					// stands with its evidence when its reason is the same,
					// and a new reason replaces it, as a batch of its own
					// would.
					standing, ok := st.ruled[lk]
					if r := u.rejected[lk]; r != nil {
						standing, ok = *r, true
					}
					if !ok || standing.Reason != why {
						u.rejected[lk] = &RejectedLink{A: anchor, B: x, Source: SourceRules, Reason: why, Evidence: ev.ID, At: dated(j)}
					}
					continue
				}
				if ids == nil && ra.profile == "" && rx.profile == "" && ra.size == rx.size &&
					ra.createdAt.Equal(rx.createdAt) && ra.createdAt.Before(dated(j)) {
					u.needIDs = true
				}
				win, lose := ra, rx
				if rx.beats(ra, dated(j)) {
					win, lose = rx, ra
				}
				if lose.profile != "" {
					u.mergeReason[lose.profile] = fmt.Sprintf("event %s linked %s and %s", ev.ID, anchor, x)
					u.heldNew[lose.profile] = slices.Clone(lose.newKeys)
					u.heldAbsorbed[lose.profile] = slices.Clone(lose.absorbed)
				}
				win.absorb(lose)
			}
			if l := u.links[lk]; l != nil {
				l.Count++
				l.FirstSeen, l.LastSeen = minTime(l.FirstSeen, ev.Timestamp), maxTime(l.LastSeen, ev.Timestamp)
			} else {
				u.links[lk] = &Link{A: lk.A, B: lk.B, Source: ev.Source, Evidence: ev.ID, FirstSeen: ev.Timestamp, LastSeen: ev.Timestamp, Count: 1}
			}
		}
		if len(ev.Traits) > 0 {
			tm := u.traits[anchor]
			if tm == nil {
				tm = map[string]TraitValue{}
				u.traits[anchor] = tm
			}
			for name, v := range ev.Traits {
				mergeTrait(tm, name, TraitValue{Value: v, Source: ev.Source, At: ev.Timestamp, Received: ev.ReceivedAt})
			}
		}
	}
	for _, g := range u.groups {
		if g.parent == nil {
			u.roots = append(u.roots, g)
		}
	}
	slices.SortFunc(u.roots, func(a, b *group) int { return strings.Compare(a.name(), b.name()) })
	return u
}

// mergeTrait sets tm[name] to v unless the value there is newer: per trait
// name, the latest time wins, then the latest received (NewerTrait), and
// on a tie of both the one merged last. A value received earlier and sent
// again with the same time (a replay) so leaves one received later.
//
// It reports whether tm[name] changed: a value equal to the one there,
// from the same source at the same times, changes nothing.
func mergeTrait(tm map[string]TraitValue, name string, v TraitValue) bool {
	old, ok := tm[name]
	if ok && NewerTrait(v, old) < 0 {
		return false
	}
	tm[name] = v
	return !ok || NewerTrait(v, old) != 0 || v.Source != old.Source || !reflect.DeepEqual(v.Value, old.Value)
}

// mergeLink adds a batch's sightings of a link to the stored link.
func mergeLink(stored, seen Link) Link {
	stored.Count += seen.Count
	stored.FirstSeen = minTime(stored.FirstSeen, seen.FirstSeen)
	stored.LastSeen = maxTime(stored.LastSeen, seen.LastSeen)
	return stored
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// buildWrite turns the union of a batch into the one Write that stores it:
// profiles and their members, history with each absorbed profile's members,
// links merged with the stored ones, traits merged with the stored ones, and
// the events.
func (e *Engine) buildWrite(st *batchState, u *united, batch []Event, members map[string][]Identifier, existing map[LinkKey]Link, now time.Time) *Write {
	w := &Write{At: now}
	for _, g := range u.roots {
		w.PutProfiles = append(w.PutProfiles, Profile{ID: g.profile, CreatedAt: g.createdAt, UpdatedAt: now, Size: g.size, Counts: g.counts})
		for _, k := range g.newKeys {
			w.Assign = append(w.Assign, Assignment{Key: k, ProfileID: g.profile})
		}
		slices.Sort(g.absorbed)
		for _, p := range g.absorbed {
			old := st.profiles[p]
			keys := make([]string, len(members[p]))
			for i, m := range members[p] {
				keys[i] = MemberDigest(m.Key)
				w.Assign = append(w.Assign, Assignment{Key: m.Key, ProfileID: g.profile})
			}
			// What p held when it was absorbed: its stored members, and
			// what the batch gave it before (see united.heldNew).
			for _, k := range u.heldNew[p] {
				keys = append(keys, MemberDigest(k))
			}
			for _, q := range u.heldAbsorbed[p] {
				for _, m := range members[q] {
					keys = append(keys, MemberDigest(m.Key))
				}
			}
			slices.Sort(keys)
			keys = slices.Compact(keys)
			w.PutProfiles = append(w.PutProfiles, Profile{ID: p, CreatedAt: old.CreatedAt, UpdatedAt: now, MergedInto: g.profile})
			w.Changes = append(w.Changes, ProfileChange{Kind: ChangeMerge, From: p, Into: g.profile, At: now, Reason: u.mergeReason[p], Members: keys})
		}
	}
	for _, lk := range slices.SortedFunc(maps.Keys(u.links), compareLinkKeys) {
		l := *u.links[lk]
		if old, ok := existing[lk]; ok {
			l = mergeLink(old, l)
		}
		w.PutLinks = append(w.PutLinks, l)
		// The rules refused the pair once; a limit now allows it, so that
		// refusal no longer says why the two are apart.
		if _, ok := st.ruled[lk]; ok {
			w.DeleteRejected = append(w.DeleteRejected, lk)
		}
	}
	for _, lk := range slices.SortedFunc(maps.Keys(u.rejected), compareLinkKeys) {
		w.PutRejected = append(w.PutRejected, *u.rejected[lk])
	}
	w.Events = batch
	// Traits that change nothing stored (older values, or a copy of what
	// is there) are not written, and so give no TRAITS_CHANGED.
	for _, k := range slices.Sorted(maps.Keys(u.traits)) {
		tm := maps.Clone(st.idents[k].Traits)
		if tm == nil {
			tm = map[string]TraitValue{}
		}
		changed := false
		for _, name := range slices.Sorted(maps.Keys(u.traits[k])) {
			if mergeTrait(tm, name, u.traits[k][name]) {
				changed = true
			}
		}
		if changed {
			w.Traits = append(w.Traits, TraitUpdate{Key: k, Traits: tm})
		}
	}
	return w
}

func compareLinkKeys(a, b LinkKey) int {
	if c := strings.Compare(a.A, b.A); c != 0 {
		return c
	}
	return strings.Compare(a.B, b.B)
}

// nameProfiles gives each new profile an id derived from its seed: the
// first attempt number whose id is not taken, stored or retired (the id of
// a deleted profile, whose hash r gives), nor given to an item before it.
// It reads once per round. The first round asks for each item's attempt
// 0; an item all of whose ids asked were taken asks, in the next round,
// for twice as many attempts after them. Retired ids add up over a seed's
// history (an identifier removed, then seen again, many times), and
// doubling keeps its naming to a few reads however long that history is.
func nameProfiles[T any](ctx context.Context, tx ReadTx, r retirer, items []T, seed func(T) string, set func(T, string)) error {
	attempt := make([]int, len(items)) // the first attempt not known taken
	window := make([]int, len(items))  // how many attempts to ask for
	pending := make([]int, len(items))
	for i := range items {
		pending[i] = i
		window[i] = 1
	}
	taken := map[string]bool{}
	for round := 0; len(pending) > 0; round++ {
		if round >= maxNamingRounds {
			return fmt.Errorf("could not find a free profile id after %d attempts", attempt[pending[0]])
		}
		var cands []ProfileIDCandidate
		for _, i := range pending {
			for a := attempt[i]; a < attempt[i]+window[i]; a++ {
				id := ProfileIDFor(seed(items[i]), a)
				cands = append(cands, ProfileIDCandidate{ID: id, Hash: r.hash(id)})
			}
		}
		found, err := tx.TakenProfileIDs(ctx, cands)
		if err != nil {
			return err
		}
		var next []int
		c := 0
		for _, i := range pending {
			named := false
			for _, cand := range cands[c : c+window[i]] {
				if !found[cand.ID] && !taken[cand.ID] {
					taken[cand.ID] = true
					set(items[i], cand.ID)
					named = true
					break
				}
			}
			c += window[i]
			if !named {
				attempt[i] += window[i]
				window[i] *= 2
				next = append(next, i)
			}
		}
		pending = next
	}
	return nil
}

// maxNamingRounds bounds nameProfiles' reads: a seed whose first
// 2^maxNamingRounds - 1 ids are all taken gets none.
const maxNamingRounds = 24

// storedRefusals returns the stored refusals touching keys, by who made
// them: the pairs a person unlinked, and those the rules refused.
func storedRefusals(ctx context.Context, tx ReadTx, keys []string) (manual map[LinkKey]bool, ruled map[LinkKey]RejectedLink, err error) {
	rs, err := tx.Rejected(ctx, keys)
	if err != nil {
		return nil, nil, err
	}
	manual, ruled = map[LinkKey]bool{}, map[LinkKey]RejectedLink{}
	for _, r := range rs {
		if r.Source == SourceManual {
			manual[NewLinkKey(r.A, r.B)] = true
		} else {
			ruled[NewLinkKey(r.A, r.B)] = r
		}
	}
	return manual, ruled, nil
}
