package resolver

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/rs/zerolog"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/feedhub"
	"github.com/idgraph/cdp/privacy"
)

// Codes of the errors that end or refuse a subscription.
const (
	// CodeSlowConsumer ends a subscription that fell behind; the error's
	// extensions.cursor is the last change it was sent.
	CodeSlowConsumer = "SLOW_CONSUMER"
	// CodeCursorExpired refuses changes(after:) with a cursor older than
	// the feed's retention; extensions.cursor is the oldest that resumes.
	CodeCursorExpired = "CURSOR_EXPIRED"
	// CodeTooManySubscriptions refuses a subscription past the key's cap.
	CodeTooManySubscriptions = "TOO_MANY_SUBSCRIPTIONS"
	// CodeUnauthenticated ends a subscription whose key was revoked or
	// expired.
	CodeUnauthenticated = "UNAUTHENTICATED"
)

// DefaultKeyRecheck is how often an open subscription's key is checked
// again.
const DefaultKeyRecheck = 5 * time.Second

// errKeyRevoked ends a subscription whose key may no longer be used.
var errKeyRevoked = errors.New("the API key of this subscription was revoked or has expired")

// errOpenEnded ends a subscription begun in open mode once keys are
// enforced.
var errOpenEnded = errors.New("this subscription began in open mode, and API keys are now required; subscribe again with a key")

// errAudienceDeleted ends an audienceChanged subscription whose audience
// was deleted: no entry of it will ever come (a deletion appends none).
var errAudienceDeleted = errors.New("the audience of this subscription was deleted")

// stillOpen reports whether the server is still in open mode, asking
// Config.Authenticate as for a connection without a key (which takes no
// token of any rate limit). A store that cannot say keeps the
// subscription, as KeyUsable does: the next check decides.
func (r *Resolver) stillOpen(ctx context.Context) bool {
	_, err := r.cfg.Authenticate(ctx, "")
	var ar *AuthRefusal
	return err == nil || (errors.As(err, &ar) && ar.Code == CodeUnavailable)
}

// feedCursorPrefix marks a cursor of the change feed, before it is
// encoded: "feed:" and the entry's Seq.
const feedCursorPrefix = "feed:"

// FeedCursor is the cursor of the feed entry with Seq seq.
func FeedCursor(seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(feedCursorPrefix + strconv.FormatUint(seq, 10)))
}

// parseFeedCursor returns the Seq a FeedCursor encodes.
func parseFeedCursor(arg, c string) (uint64, error) {
	bad := invalidArg(arg, "is not a cursor of the change feed (the cursor of a ChangeEvent)")
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, bad
	}
	n, ok := strings.CutPrefix(string(raw), feedCursorPrefix)
	if !ok {
		return 0, bad
	}
	seq, err := strconv.ParseUint(n, 10, 64)
	if err != nil || strconv.FormatUint(seq, 10) != n {
		return 0, bad
	}
	return seq, nil
}

func toChangeEvent(e graph.FeedEntry) *gql.ChangeEvent {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	prev := e.PreviousIDs
	if prev == nil {
		prev = []string{}
	}
	return &gql.ChangeEvent{
		Cursor: FeedCursor(e.Seq), Kind: gql.ChangeKind(e.Kind), At: e.At.UTC(),
		ProfileID: opt(e.ProfileID), PreviousIds: prev, EventID: opt(e.EventID), AudienceID: opt(e.AudienceID),
	}
}

// feedHub returns the hub, or UNAVAILABLE when the server serves no
// subscriptions.
func (r *Resolver) feedHub() (*feedhub.Hub, error) {
	if r.cfg.Feed == nil {
		return nil, graph.Errorf(graph.EUNAVAILABLE, "subscriptions are not served: the store keeps no change feed")
	}
	return r.cfg.Feed, nil
}

// wantKinds is the filter of a kinds argument: every kind when empty.
func wantKinds(kinds []gql.ChangeKind) func(graph.FeedKind) bool {
	if len(kinds) == 0 {
		return func(graph.FeedKind) bool { return true }
	}
	want := map[graph.FeedKind]bool{}
	for _, k := range kinds {
		want[graph.FeedKind(k)] = true
	}
	return func(k graph.FeedKind) bool { return want[k] }
}

func (r *Resolver) changes(ctx context.Context, after *string, kinds []gql.ChangeKind) (<-chan *gql.ChangeEvent, error) {
	h, err := r.feedHub()
	if err != nil {
		return nil, err
	}
	audiences, err := audienceKinds(ctx, kinds)
	if err != nil {
		return nil, err
	}
	head, err := h.Head(ctx)
	if err != nil {
		return nil, domainErr(err)
	}
	start, err := startAfter(ctx, h, head, after)
	if err != nil {
		return nil, err
	}
	want := wantKinds(kinds)
	return stream(ctx, r, h, start, func(e graph.FeedEntry) bool {
		return want(e.Kind) && (audiences || !audienceKind(e.Kind))
	}, r.admitGranting, toChangeEvent, nil)
}

// changeCursorKey holds, in the context of a query operation that selects
// Query.changeCursor, the feed's head read before any field (headAt).
type changeCursorKey struct{}

type headAt struct {
	seq uint64
	err error
}

// changeCursorAt reads the head of the change feed when a query operation
// selecting changeCursor starts, before any of its fields is resolved, so
// that every change the operation's data does not hold comes after the
// cursor it answers.
type changeCursorAt struct{ r *Resolver }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = changeCursorAt{}

func (changeCursorAt) ExtensionName() string                   { return "ChangeCursorAt" }
func (changeCursorAt) Validate(graphql.ExecutableSchema) error { return nil }

func (c changeCursorAt) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return next(ctx)
	}
	if !selectsChangeCursor(oc) {
		return next(ctx)
	}
	at := &headAt{}
	if h, err := c.r.feedHub(); err != nil {
		at.err = err
	} else if at.seq, err = h.Head(ctx); err != nil {
		at.err = domainErr(err)
	}
	return next(context.WithValue(ctx, changeCursorKey{}, at))
}

// selectsChangeCursor reports whether the query operation of oc selects
// changeCursor at its root, whatever alias, fragment or @include names it.
// Most queries name no fragment at their root and no changeCursor, which
// a look at the root's fields tells without collecting them.
func selectsChangeCursor(oc *graphql.OperationContext) bool {
	if !slices.ContainsFunc(oc.Operation.SelectionSet, func(s ast.Selection) bool {
		f, ok := s.(*ast.Field)
		return !ok || f.Name == "changeCursor"
	}) {
		return false
	}
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Query"}) {
		if f.Name == "changeCursor" {
			return true
		}
	}
	return false
}

// changeCursor answers Query.changeCursor from what changeCursorAt read.
func (r *Resolver) changeCursor(ctx context.Context) (*string, error) {
	at, _ := ctx.Value(changeCursorKey{}).(*headAt)
	if at == nil {
		return nil, graph.Errorf(graph.EINTERNAL, "the change feed's head was not read before the operation")
	}
	if at.err != nil {
		return nil, at.err
	}
	c := FeedCursor(at.seq)
	return &c, nil
}

// startAfter is where a subscription given after (nil: from now, head)
// starts: the Seq its cursor encodes, refused when it is no cursor of the
// feed, past its head, or older than what the retention keeps.
func startAfter(ctx context.Context, h *feedhub.Hub, head uint64, after *string) (uint64, error) {
	if after == nil {
		return head, nil
	}
	start, err := parseFeedCursor("after", *after)
	if err != nil {
		return 0, err
	}
	if start > head {
		return 0, invalidArg("after", "is past the newest change of the feed: it is not a cursor of this store")
	}
	if err := h.CheckResume(ctx, start); err != nil {
		var ce *graph.CursorExpiredError
		if !errors.As(err, &ce) {
			return 0, domainErr(err)
		}
		return 0, cursorExpired(ctx, ce, "argument \"after\": ")
	}
	return start, nil
}

// cursorExpired is the CURSOR_EXPIRED error of a subscription that would
// miss entries the retention trimmed: refused at subscribe time (prefix
// names the argument) or ended when entries it was not yet sent were
// trimmed. extensions.cursor is the oldest cursor that resumes.
func cursorExpired(ctx context.Context, ce *graph.CursorExpiredError, prefix string) *gqlerror.Error {
	oldest := FeedCursor(ce.Trimmed)
	return &gqlerror.Error{Message: fmt.Sprintf("%s%v; changes(after: %q) resumes with what is retained", prefix, ce, oldest),
		Path: graphql.GetPath(ctx), Extensions: map[string]any{"code": CodeCursorExpired, "cursor": oldest}}
}

// audienceKind reports whether k reports an audience membership, which
// only a key holding audiences:read may read (as audienceChanged and
// Profile.audiences need it).
func audienceKind(k graph.FeedKind) bool {
	return k == graph.FeedAudienceEntered || k == graph.FeedAudienceExited
}

// audienceKinds returns whether the caller may read audience entries, or
// the FORBIDDEN error naming audiences:read when it asks for them in kinds
// without that scope. A caller without it that asks for no audience kind
// reads the feed without them.
func audienceKinds(ctx context.Context, kinds []gql.ChangeKind) (bool, error) {
	if access.PrincipalFrom(ctx).Has(access.ScopeAudiencesRead) {
		return true, nil
	}
	for _, k := range kinds {
		if audienceKind(graph.FeedKind(k)) {
			err := forbidden(ctx, access.ScopeAudiencesRead)
			if ge := (*gqlerror.Error)(nil); errors.As(err, &ge) {
				ge.Message = fmt.Sprintf("argument %q: the kinds %s and %s need the scope %s, which the request's key does not hold",
					"kinds", graph.FeedAudienceEntered, graph.FeedAudienceExited, access.ScopeAudiencesRead)
			}
			return false, err
		}
	}
	return false, nil
}

func (r *Resolver) profileChanged(ctx context.Context, id *string, ident *gql.IdentifierInput, kinds []gql.ChangeKind, after *string) (<-chan *gql.ChangeEvent, error) {
	h, err := r.feedHub()
	if err != nil {
		return nil, err
	}
	if (id == nil) == (ident == nil) {
		return nil, invalidArg("id", "or identifier must be given, and not both")
	}
	if id != nil {
		if err := profileIDArg("id", *id); err != nil {
			return nil, err
		}
	}
	audiences, err := audienceKinds(ctx, kinds)
	if err != nil {
		return nil, err
	}
	// The head first: a merge committed while the profile is looked up
	// is then among the entries the subscription reads.
	head, err := h.Head(ctx)
	if err != nil {
		return nil, domainErr(err)
	}
	start, err := startAfter(ctx, h, head, after)
	if err != nil {
		return nil, err
	}
	// cur is the person's profile: the one the argument names now, then
	// the survivor of each later merge of it. followed holds the profiles
	// whose changes are reported, each with the Seq of the merge that made
	// it the person's (0 for cur): those merged into cur since start, from
	// before their merge. A split that gives one of them back after that
	// merge makes it someone else's again.
	var cur string
	if id != nil {
		p, err := r.engine.ProfileByID(ctx, *id)
		if graph.ErrorCode(err) == graph.ENOTFOUND {
			return nil, graph.Errorf(graph.ENOTFOUND, "argument %q: no profile ever had this id", "id")
		}
		if err != nil {
			return nil, domainErr(err)
		}
		cur = p.ID
	} else {
		ref, err := r.normalizeInput("identifier.type", "identifier.value", ident.Type, ident.Value)
		if err != nil {
			return nil, err
		}
		p, ok, err := r.lookupProfile(ctx, ref)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, graph.Errorf(graph.ENOTFOUND, "argument %q: identifier not found", "identifier")
		}
		cur = p.ID
	}
	// The head as it is now that the profile is resolved, which holds a
	// merge committed meanwhile (the profile resolved may be its
	// survivor). The filter takes a merge of cur with a Seq up to it for
	// one from before cur was resolved, so cur is resolved again after
	// the read: a merge of it committed between the lookup and the read
	// makes cur its survivor, and the head is read again.
	var now uint64
	for {
		if now, err = h.Head(ctx); err != nil {
			return nil, domainErr(err)
		}
		p, err := r.engine.ProfileByID(ctx, cur)
		if graph.ErrorCode(err) == graph.ENOTFOUND {
			break // erased meanwhile: its FORGOTTEN entry is reported
		}
		if err != nil {
			return nil, domainErr(err)
		}
		if p.ID == cur {
			break
		}
		cur = p.ID
	}
	followed := map[string]uint64{cur: 0}
	join := func(id string, seq uint64) {
		if id != cur && followed[id] < seq {
			followed[id] = seq
		}
	}
	// The profiles merged into it since start are the person's too, and
	// so are their changes from before their merge: the merges read
	// newest first give them, through chains of merges, up to now.
	if start < now {
		merges, err := h.Merges(ctx, start, now)
		if err != nil {
			return nil, domainErr(err)
		}
		for i := len(merges) - 1; i >= 0; i-- {
			if _, ok := followed[merges[i].ProfileID]; ok {
				for _, prev := range merges[i].PreviousIDs {
					join(prev, merges[i].Seq)
				}
			}
		}
	}
	is := func(id string) bool { _, ok := followed[id]; return ok }
	want := wantKinds(kinds)
	// Called in Seq order, never concurrently: it follows the survivor of
	// each merge of the person's profile after now (cur, as resolved, is
	// the survivor of those before).
	filter := func(e graph.FeedEntry) bool {
		switch e.Kind {
		case graph.FeedMerged:
			switch {
			case is(e.ProfileID):
			case e.Seq > now && slices.Contains(e.PreviousIDs, cur):
				cur = e.ProfileID // the old one joins it below
				followed[cur] = 0
			default:
				return false
			}
			for _, prev := range e.PreviousIDs {
				join(prev, e.Seq)
			}
		case graph.FeedSplit:
			if len(e.PreviousIDs) == 0 || !is(e.PreviousIDs[0]) {
				if !is(e.ProfileID) {
					return false
				}
				break
			}
			// Split off the person: a profile given back after it
			// merged into the person is someone else from now on.
			if seq, ok := followed[e.ProfileID]; ok && e.ProfileID != cur && seq < e.Seq {
				delete(followed, e.ProfileID)
			}
		default:
			if !is(e.ProfileID) {
				return false
			}
		}
		return want(e.Kind) && (audiences || !audienceKind(e.Kind))
	}
	return stream(ctx, r, h, start, filter, r.admitGranting, toChangeEvent, nil)
}

// admitGranting admits the entries of the change feed as audienceChanged
// would: all but an AUDIENCE_ENTERED of an audience with a purpose whose
// profile (the survivor, for one merged away) does not grant it now, as
// Audience.changes and destinations leave it out. It reads nothing when
// the entries hold no AUDIENCE_ENTERED, and a few reads per audience they
// name otherwise. An audience no longer stored has no purpose to hold:
// its entries are admitted. When the consent cannot be read it admits
// nothing and the subscription ends, to be resumed from before the
// entries: the feed misses nothing, and shows nobody entering who may
// have withdrawn.
func (r *Resolver) admitGranting(ctx context.Context, es []graph.FeedEntry) ([]bool, error) {
	ok := make([]bool, len(es))
	entering := map[string][]string{}
	for i, e := range es {
		if e.Kind == graph.FeedAudienceEntered {
			entering[e.AudienceID] = append(entering[e.AudienceID], e.ProfileID)
		} else {
			ok[i] = true
		}
	}
	if len(entering) == 0 {
		return ok, nil
	}
	st, err := r.audienceStore()
	if err != nil {
		return nil, err
	}
	granted := make(map[string]map[string]bool, len(entering))
	for id, pids := range entering {
		a, stored, err := storedAudience(ctx, st, id)
		if err != nil {
			return nil, err
		}
		if !stored {
			continue
		}
		if granted[id], err = r.grantingPurpose(ctx, a.Purpose, pids); err != nil {
			return nil, err
		}
	}
	for i, e := range es {
		if e.Kind == graph.FeedAudienceEntered {
			g, checked := granted[e.AudienceID]
			ok[i] = !checked || g[e.ProfileID]
		}
	}
	return ok, nil
}

func (r *Resolver) audienceChanged(ctx context.Context, audienceID string) (<-chan *audience.Change, error) {
	h, err := r.feedHub()
	if err != nil {
		return nil, err
	}
	head, err := h.Head(ctx)
	if err != nil {
		return nil, domainErr(err)
	}
	st, err := r.audienceStore()
	if err != nil {
		return nil, err
	}
	if !audience.ValidAudienceID(audienceID) {
		return nil, invalidArg("audienceId", "is not an audience id (%s followed by 32 lowercase hex digits)", audience.AudienceIDPrefix)
	}
	if _, ok, err := storedAudience(ctx, st, audienceID); err != nil {
		return nil, err
	} else if !ok {
		return nil, graph.Errorf(graph.ENOTFOUND, "argument %q: no such audience", "audienceId")
	}
	filter := func(e graph.FeedEntry) bool {
		return e.AudienceID == audienceID && (e.Kind == graph.FeedAudienceEntered || e.Kind == graph.FeedAudienceExited)
	}
	// An entry of a profile that does not grant the audience's purpose now
	// is not sent, as Audience.changes leaves it out. The entries waiting
	// are checked together, in a few reads whatever their number.
	admit := func(ctx context.Context, es []graph.FeedEntry) ([]bool, error) {
		ok := make([]bool, len(es))
		var entering []string
		for i, e := range es {
			if e.Kind == graph.FeedAudienceEntered {
				entering = append(entering, e.ProfileID)
			} else {
				ok[i] = true
			}
		}
		if len(entering) == 0 {
			return ok, nil
		}
		granted, err := r.grantingAudiencePurpose(ctx, st, audienceID, entering)
		if err != nil {
			// Not sent: a person who may have withdrawn is not shown
			// entering. The entries' numbers alone are logged.
			r.cfg.Logger.Warn().Str("code", graph.ErrorCode(err)).Uint64("seq", es[0].Seq).Uint64("lastSeq", es[len(es)-1].Seq).
				Msg("audienceChanged: the entering profiles' consent could not be read; their entries are not sent")
		}
		for i, e := range es {
			if e.Kind == graph.FeedAudienceEntered {
				ok[i] = granted[e.ProfileID]
			}
		}
		return ok, nil
	}
	return stream(ctx, r, h, head, filter, admit, func(e graph.FeedEntry) *audience.Change {
		kind := audience.Entered
		if e.Kind == graph.FeedAudienceExited {
			kind = audience.Exited
		}
		return &audience.Change{AudienceID: e.AudienceID, ProfileID: e.ProfileID, Kind: kind, At: e.At.UTC(), Seq: e.Seq}
	}, func(ctx context.Context) (bool, error) {
		_, ok, err := storedAudience(ctx, st, audienceID)
		return ok, err
	})
}

// stream subscribes the caller's key to the entries after start that
// filter keeps and admit, when set, admits (it may read the store: it runs
// on the subscription's goroutine, not under the hub's lock), and sends
// each, converted, until the client stops or the
// subscription ends; an end the client did not ask for is reported as the
// subscription's error, with the cursor to resume from. alive, when set,
// is asked at every key check whether what the subscription follows is
// still stored: once it answers false, the subscription ends
// (errAudienceDeleted); a store that cannot answer keeps it.
func stream[T any](ctx context.Context, r *Resolver, h *feedhub.Hub, start uint64, filter func(graph.FeedEntry) bool,
	admit func(context.Context, []graph.FeedEntry) ([]bool, error), conv func(graph.FeedEntry) T,
	alive func(context.Context) (bool, error)) (<-chan T, error) {
	key := ""
	p := access.PrincipalFrom(ctx)
	k := p.Key
	if k != nil {
		key = k.ID
	}
	sub, err := h.Subscribe(key, start, filter)
	if err != nil {
		var tm *feedhub.TooManyError
		if errors.As(err, &tm) {
			return nil, &gqlerror.Error{Message: err.Error(), Path: graphql.GetPath(ctx),
				Extensions: map[string]any{"code": CodeTooManySubscriptions, "cap": tm.Cap}}
		}
		return nil, graph.Errorf(graph.EUNAVAILABLE, "subscriptions are not served: %v", err)
	}
	out := make(chan T)
	var done chan struct{}
	if e, _ := ctx.Value(streamEndKey{}).(*streamEnd); e != nil {
		done = make(chan struct{})
		e.done = done
	}
	go func() {
		if done != nil {
			defer close(done)
		}
		defer close(out)
		defer sub.Close()
		// The key is checked again now and then: a revoked key's
		// subscriptions end, and so do those begun in open mode once keys
		// are enforced.
		openCheck := k == nil && p.Open && r.cfg.Authenticate != nil
		var recheck <-chan time.Time
		if (k != nil && r.cfg.KeyUsable != nil) || openCheck || alive != nil {
			t := time.NewTicker(cmp.Or(r.cfg.KeyRecheck, DefaultKeyRecheck))
			defer t.Stop()
			recheck = t.C
		}
		// A key that expires ends its subscriptions at that instant, not
		// at the next recheck: nothing is sent to it once it has expired.
		var expiry <-chan time.Time
		if k != nil && !k.ExpiresAt.IsZero() {
			t := time.NewTimer(time.Until(k.ExpiresAt))
			defer t.Stop()
			expiry = t.C
		}
		last := start
		for {
			select {
			case <-ctx.Done():
				return
			case <-expiry:
				endWith(ctx, errKeyRevoked, last)
				return
			case <-recheck:
				if k != nil && r.cfg.KeyUsable != nil && !r.cfg.KeyUsable(ctx, *k) {
					endWith(ctx, errKeyRevoked, last)
					return
				}
				if openCheck && !r.stillOpen(ctx) {
					endWith(ctx, errOpenEnded, last)
					return
				}
				if alive != nil {
					if ok, err := alive(ctx); err == nil && !ok {
						endWith(ctx, errAudienceDeleted, last)
						return
					}
				}
			case e, ok := <-sub.C():
				if !ok {
					if reason := sub.Err(); reason != nil && ctx.Err() == nil {
						endWith(ctx, reason, last)
					}
					return
				}
				// The entries already waiting are admitted together, so
				// that admit reads the store once for them all.
				batch, closed := []graph.FeedEntry{e}, false
				if admit != nil {
					batch, closed = drain(sub.C(), batch, admitBatch)
				}
				var admitted []bool
				if admit != nil {
					var err error
					if admitted, err = admit(ctx, batch); err != nil {
						if ctx.Err() == nil {
							zerolog.Ctx(ctx).Warn().Str("code", graph.ErrorCode(err)).Uint64("seq", batch[0].Seq).
								Uint64("lastSeq", batch[len(batch)-1].Seq).Msg("subscription: the entries could not be checked; it ends before them")
							endWith(ctx, err, last)
						}
						return
					}
				}
				for i, e := range batch {
					if admit != nil && !admitted[i] {
						last = e.Seq
						continue
					}
					if k != nil && !k.ExpiresAt.IsZero() && !time.Now().Before(k.ExpiresAt) {
						// Expired while the entry waited: the timer's
						// end may not have been chosen yet.
						endWith(ctx, errKeyRevoked, last)
						return
					}
					select {
					case out <- conv(e):
						last = e.Seq
					case <-ctx.Done():
						return
					}
				}
				if closed {
					if reason := sub.Err(); reason != nil && ctx.Err() == nil {
						endWith(ctx, reason, last)
					}
					return
				}
			}
		}
	}()
	return out, nil
}

// admitBatch is the most entries a subscription admits at once.
const admitBatch = 500

// drain appends to batch the entries waiting in c, without waiting for
// more, until batch holds max; closed reports that c was found closed.
func drain(c <-chan graph.FeedEntry, batch []graph.FeedEntry, max int) (_ []graph.FeedEntry, closed bool) {
	for len(batch) < max {
		select {
		case e, ok := <-c:
			if !ok {
				return batch, true
			}
			batch = append(batch, e)
		default:
			return batch, false
		}
	}
	return batch, false
}

// streamEndKey keys the *streamEnd of a subscription, put in its context
// by streamEnds.
type streamEndKey struct{}

// streamEnd is where stream leaves the channel closed once its goroutine,
// and with it any endWith, is over. The transport reads the errors endWith
// added once its handler returns nil, which it also does when the
// operation's context ends (the client left or stopped it) without
// waiting for the channel to close: the handler waits for done first.
type streamEnd struct{ done chan struct{} }

// streamEnds makes a subscription's end wait for its stream's goroutine
// (streamEnd).
type streamEnds struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = streamEnds{}

func (streamEnds) ExtensionName() string                   { return "StreamEnds" }
func (streamEnds) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation gives a subscription's resolver a streamEnd, and
// ends the operation's context before it waits, so that the goroutine
// stops even if nothing else would stop it.
func (streamEnds) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return next(ctx)
	}
	e := &streamEnd{}
	ctx, cancel := context.WithCancel(context.WithValue(ctx, streamEndKey{}, e))
	h := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		r := h(ctx)
		if r == nil {
			cancel()
			if e.done != nil {
				<-e.done
			}
		}
		return r
	}
}

// endWith reports why the server ended a subscription, on the websocket
// (the only transport subscriptions are served on).
func endWith(ctx context.Context, reason error, last uint64) {
	if !isWebsocket(ctx) {
		return
	}
	if ce := (*graph.CursorExpiredError)(nil); errors.As(reason, &ce) {
		// Entries it was not sent were trimmed: it resumes only from
		// the oldest retained, as changes(after:) refuses it then.
		transport.AddSubscriptionError(ctx, cursorExpired(ctx, ce, ""))
		return
	}
	code := CodeUnavailable
	switch {
	case errors.Is(reason, feedhub.ErrSlow):
		code = CodeSlowConsumer
	case errors.Is(reason, errKeyRevoked), errors.Is(reason, errOpenEnded):
		code = CodeUnauthenticated
	case errors.Is(reason, errAudienceDeleted):
		code = CodeNotFound
	}
	cursor := FeedCursor(last)
	if shown := shownReason(reason); shown != reason {
		zerolog.Ctx(ctx).Warn().Err(reason).Str("cursor", cursor).Msg("subscription ended")
	}
	transport.AddSubscriptionError(ctx, &gqlerror.Error{
		Message:    endMessage(reason, cursor),
		Path:       graphql.GetPath(ctx),
		Extensions: map[string]any{"code": code, "cursor": cursor},
	})
}

// endMessage is what a subscriber is told when its subscription ends:
// the reason as shownReason gives it, and the cursor to resume from.
func endMessage(reason error, cursor string) string {
	return fmt.Sprintf("%v; resume with changes(after: %q)", shownReason(reason), cursor)
}

// shownReason is reason as a client may read it: the reasons this
// package and the hub give are shown as they are; a store's own error,
// which may name its hosts and files, only as feedhub.ErrUnavailable (the
// log has the whole of it).
func shownReason(reason error) error {
	for _, known := range []error{feedhub.ErrSlow, feedhub.ErrClosed, errKeyRevoked, errOpenEnded, errAudienceDeleted} {
		if errors.Is(reason, known) {
			return known
		}
	}
	return feedhub.ErrUnavailable
}

// grantingAudiencePurpose reports which of the profiles pids answer for
// (the survivor of a merge, read fresh) grant the purpose of audience id at
// this moment: all for an audience without a purpose; none for an audience
// no longer stored, nor a profile. It reads the audience, the profiles,
// their members and their consent once each, however many pids.
func (r *Resolver) grantingAudiencePurpose(ctx context.Context, st audience.Store, id string, pids []string) (map[string]bool, error) {
	a, ok, err := storedAudience(ctx, st, id)
	if err != nil || !ok {
		return map[string]bool{}, err
	}
	return r.grantingPurpose(ctx, a.Purpose, pids)
}

// grantingPurpose is grantingAudiencePurpose for an audience already read,
// of the given purpose ("" for none).
func (r *Resolver) grantingPurpose(ctx context.Context, purpose string, pids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(pids))
	if purpose == "" {
		for _, pid := range pids {
			out[pid] = true
		}
		return out, nil
	}
	ps, err := r.engine.ProfilesByIDs(ctx, pids)
	if err != nil {
		return out, err
	}
	live := make([]string, 0, len(ps))
	for _, p := range ps {
		live = append(live, p.ID)
	}
	ms, err := r.engine.Members(ctx, live)
	if err != nil {
		return out, err
	}
	var keys []string
	for _, m := range ms {
		for _, i := range m {
			keys = append(keys, i.Key)
		}
	}
	cs, err := r.consentStore()
	if err != nil {
		return out, err
	}
	byKey := map[string][]privacy.Record{}
	if len(keys) > 0 {
		if byKey, err = cs.ConsentOf(ctx, keys); err != nil {
			return out, err
		}
	}
	now := graph.Now()
	for _, pid := range pids {
		p, ok := ps[pid]
		if !ok {
			continue
		}
		var rs []privacy.Record
		for _, i := range ms[p.ID] {
			rs = append(rs, byKey[i.Key]...)
		}
		out[pid] = privacy.StateOf(rs, purpose, now).State == privacy.StateGranted
	}
	return out, nil
}
