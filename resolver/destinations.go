package resolver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
)

// Webhook destinations: definitions checked here (with the URL's host
// resolved, refusing private addresses unless the server allows them),
// stored through destination.Store; the secret goes in and never comes
// back out, and header values neither.

const (
	cursorKindDestinations = "destinations"
	cursorKindDeliveries   = "deliveries"
)

// destinationStore is Config.Destinations, or the engine's store (or the
// store it wraps) when it keeps destinations.
func (r *Resolver) destinationStore() (destination.Store, error) {
	if r.cfg.Destinations != nil {
		return r.cfg.Destinations, nil
	}
	s := r.engine.Store()
	for {
		if ds, ok := s.(destination.Store); ok {
			return ds, nil
		}
		w, ok := s.(interface{ Unwrap() graph.Store })
		if !ok {
			return nil, graph.Errorf(graph.EUNAVAILABLE, "webhook destinations are not served by this server (its store keeps none)")
		}
		s = w.Unwrap()
	}
}

func checkDestinationID(arg, id string) error {
	if !destination.ValidID(id) {
		return invalidArg(arg, "is not a destination id (%s followed by 32 lowercase hex digits)", destination.IDPrefix)
	}
	return nil
}

// destinationFromInput builds the definition of destination id from in;
// old is the stored one on update (nil on create), whose secret a missing
// input.secret keeps.
func (r *Resolver) destinationFromInput(ctx context.Context, id string, in gql.DestinationInput, old *destination.Destination) (destination.Destination, error) {
	d := destination.Destination{ID: id, Name: in.Name, URL: in.URL, AudienceIDs: in.AudienceIds}
	if err := blankName("input.name", in.Name); err != nil {
		return d, err
	}
	// Answers show the URL without its query (destination.ShownURL): an
	// update that gives it back as shown keeps the stored URL, and the
	// shown form is never stored in place of the query it hides.
	switch {
	case old != nil && in.URL == destination.ShownURL(old.URL):
		d.URL = old.URL
		d.Keep.URL = in.URL != old.URL
	case destination.HoldsShownQuery(in.URL):
		return d, invalidArg("input.url", "has the query \"?…\" that answers show in place of a destination's query: give the whole URL (or, on update, the URL exactly as shown to keep the stored one)")
	}
	if err := r.checkAudienceIDs(ctx, in.AudienceIds); err != nil {
		return d, err
	}
	switch {
	case in.Secret != nil:
		d.Secret = *in.Secret
	case old != nil:
		d.Secret, d.Keep.Secret = old.Secret, true
	default:
		return d, invalidArg("input.secret", "is missing: a new destination needs a secret of %d to %d characters", destination.MinSecretLen, destination.MaxSecretLen)
	}
	for _, k := range in.Kinds {
		d.Kinds = append(d.Kinds, graph.FeedKind(k))
	}
	// Membership is audiences:read data wherever it is read, as in the
	// changes subscription: a destination that receives audience entries
	// (every kind does, when kinds is left out) needs it.
	if !access.PrincipalFrom(ctx).Has(access.ScopeAudiencesRead) &&
		(len(d.Kinds) == 0 || slices.ContainsFunc(d.Kinds, audienceKind)) {
		return d, &gqlerror.Error{
			Message: fmt.Sprintf("argument %q: a destination that receives %s or %s entries (every kind does, when kinds is left out) needs the scope %s, which the request's key does not hold",
				"input.kinds", graph.FeedAudienceEntered, graph.FeedAudienceExited, access.ScopeAudiencesRead),
			Path:       graphql.GetPath(ctx),
			Extensions: map[string]any{"code": CodeForbidden, "scope": string(access.ScopeAudiencesRead)},
		}
	}
	if in.Purpose != nil {
		d.Purpose = *in.Purpose
		ps, err := r.purposes()
		if err != nil {
			return d, err
		}
		if !ps.Known(d.Purpose) {
			return d, invalidArg("input.purpose", "is not a consent purpose of the rules (%s)", ps)
		}
	}
	d.BatchSize, d.MaxAttempts = destination.DefaultBatchSize, destination.DefaultMaxAttempts
	// Given values are checked before Normalize, which reads 0 as "the
	// default".
	if in.BatchSize != nil {
		if d.BatchSize = *in.BatchSize; d.BatchSize < 1 || d.BatchSize > destination.MaxBatchSize {
			return d, invalidArg("input.batchSize", "must be 1 to %d, got %d", destination.MaxBatchSize, d.BatchSize)
		}
	}
	if in.MaxAttempts != nil {
		if d.MaxAttempts = *in.MaxAttempts; d.MaxAttempts < 1 || d.MaxAttempts > destination.MaxMaxAttempts {
			return d, invalidArg("input.maxAttempts", "must be 1 to %d, got %d", destination.MaxMaxAttempts, d.MaxAttempts)
		}
	}
	// Header values are write-only, as the secret is: an update that
	// leaves headers out keeps the stored ones; an empty list removes them.
	if in.Headers == nil && old != nil {
		d.Headers, d.Keep.Headers = maps.Clone(old.Headers), true
	}
	if len(in.Headers) > 0 {
		d.Headers = map[string]string{}
		seen := map[string]bool{}
		for i, h := range in.Headers {
			// Header names are case-insensitive.
			c := http.CanonicalHeaderKey(h.Name)
			if seen[c] {
				return d, invalidArg(fmt.Sprintf("input.headers[%d].name", i), "repeats header %q (names are case-insensitive)", clip(h.Name, 100))
			}
			seen[c] = true
			d.Headers[h.Name] = h.Value
		}
	}
	if in.IncludePii != nil && *in.IncludePii {
		if !access.PrincipalFrom(ctx).Has(access.ScopePIIRead) {
			return d, &gqlerror.Error{
				Message: fmt.Sprintf("argument %q: a destination that receives personal data unmasked needs the scope %s, which the request's key does not hold",
					"input.includePII", access.ScopePIIRead),
				Path:       graphql.GetPath(ctx),
				Extensions: map[string]any{"code": CodeForbidden, "scope": string(access.ScopePIIRead)},
			}
		}
		d.IncludePII = true
	}
	d = d.Normalize()
	if err := destination.Validate(ctx, d, old, "input.", r.cfg.DestinationsAllowPrivate, nil); err != nil {
		return d, err
	}
	return d, nil
}

// checkAudienceIDs refuses an audience id that is not one, or that names
// no stored audience, naming its position as given. The ids are read in
// one store call.
func (r *Resolver) checkAudienceIDs(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if len(ids) > destination.MaxAudienceIDs {
		return invalidArg("input.audienceIds", "holds %d ids, more than %d", len(ids), destination.MaxAudienceIDs)
	}
	for i, id := range ids {
		if !audience.ValidAudienceID(id) {
			return invalidArg(fmt.Sprintf("input.audienceIds[%d]", i), "is not an audience id (%s followed by 32 lowercase hex digits)", audience.AudienceIDPrefix)
		}
	}
	st, err := r.audienceStore()
	if err != nil {
		return err
	}
	got, err := st.Audiences(ctx, ids)
	if err != nil {
		return err
	}
	for i, id := range ids {
		if _, ok := got[id]; !ok {
			return graph.Errorf(graph.ENOTFOUND, "argument %q names no stored audience", fmt.Sprintf("input.audienceIds[%d]", i))
		}
	}
	return nil
}

// audienceGoneErr words the store's refusal of an audience id that is not
// stored (an audience deleted after checkAudienceIDs read it) as
// checkAudienceIDs does, naming its position in given; other errors pass.
func audienceGoneErr(err error, given []string) error {
	var missing *destination.MissingAudienceError
	if !errors.As(err, &missing) {
		return err
	}
	arg := "input.audienceIds"
	if i := slices.Index(given, missing.Audience); i >= 0 {
		arg = fmt.Sprintf("input.audienceIds[%d]", i)
	}
	return graph.Errorf(graph.ENOTFOUND, "argument %q names no stored audience", arg)
}

// destChangedErr names the argument of UpdateDestination's refusal of an
// update made on an older read (ifUpdatedAt); other errors pass as they
// are.
func destChangedErr(err error) error {
	if changed := (*destination.ChangedError)(nil); errors.As(err, &changed) {
		return graph.Errorf(graph.ECONFLICT, "argument %q: the destination was changed since it was read (its updatedAt is now %s); read it again and make the change on what is stored",
			"ifUpdatedAt", changed.UpdatedAt.UTC().Format(time.RFC3339Nano))
	}
	return err
}

// destinationsChanged tells this server's deliveries to look again.
func (r *Resolver) destinationsChanged() {
	if r.cfg.OnDestinationsChanged != nil {
		r.cfg.OnDestinationsChanged()
	}
}

// destErr is domainErr, letting through the FORBIDDEN errors of
// destinationFromInput as they are.
func destErr(err error) error {
	var ge *gqlerror.Error
	if errors.As(err, &ge) {
		return ge
	}
	return domainErr(err)
}

func destinationOut(d destination.Destination) *gql.Destination {
	out := &gql.Destination{ID: d.ID, Name: d.Name, URL: destination.ShownURL(d.URL), SecretHint: destination.SecretHint(d.Secret),
		Kinds: []gql.ChangeKind{}, AudienceIds: []string{}, BatchSize: d.BatchSize, MaxAttempts: d.MaxAttempts,
		HeaderNames: []string{}, IncludePii: d.IncludePII, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
		Position: strconv.FormatUint(d.Cursor, 10)}
	for _, k := range d.Kinds {
		out.Kinds = append(out.Kinds, gql.ChangeKind(k))
	}
	out.AudienceIds = append(out.AudienceIds, d.AudienceIDs...)
	if d.Purpose != "" {
		out.Purpose = &d.Purpose
	}
	for k := range d.Headers {
		out.HeaderNames = append(out.HeaderNames, k)
	}
	slices.Sort(out.HeaderNames)
	if d.Lease.Holder != "" && d.Lease.Expires.After(time.Now()) {
		h, exp := d.Lease.Holder, d.Lease.Expires
		out.LeaseHolder, out.LeaseExpiresAt = &h, &exp
	}
	return out
}

func deliveryOut(d destination.Delivery) *gql.Delivery {
	out := &gql.Delivery{ID: d.ID, Number: int(d.Number), Status: gql.DeliveryStatus(d.Status), Attempts: d.Attempts,
		EntryCount: d.EntryCount, CreatedAt: d.CreatedAt, QueuedAt: d.QueuedAt, UpdatedAt: d.UpdatedAt,
		FirstPosition: strconv.FormatUint(d.FirstSeq, 10), LastPosition: strconv.FormatUint(d.LastSeq, 10)}
	if d.Status.InFlight() && !d.NextAttempt.IsZero() {
		t := d.NextAttempt
		out.NextAttemptAt = &t
	}
	if d.LastStatusCode != 0 {
		c := d.LastStatusCode
		out.LastStatusCode = &c
	}
	if d.LastError != "" {
		e := d.LastError
		out.LastError = &e
	}
	return out
}

func (r *Resolver) createDestination(ctx context.Context, in gql.DestinationInput) (*gql.Destination, error) {
	entry := newEntry(ctx, "createDestination", "")
	fail := func(err error) (*gql.Destination, error) {
		r.auditFailure(ctx, entry, err)
		return nil, destErr(err)
	}
	st, err := r.destinationStore()
	if err != nil {
		return fail(err)
	}
	id := destination.NewID()
	entry.Reason = "destination " + id
	d, err := r.destinationFromInput(ctx, id, in, nil)
	if err != nil {
		return fail(err)
	}
	now := graph.Now()
	d.CreatedAt, d.UpdatedAt = now, now
	wctx, alone := r.auditedWrite(ctx, st, entry)
	got, err := st.CreateDestination(wctx, d)
	if err != nil {
		return fail(audienceGoneErr(err, in.AudienceIds))
	}
	alone()
	r.destinationsChanged()
	return destinationOut(got), nil
}

func (r *Resolver) updateDestination(ctx context.Context, id string, in gql.DestinationInput, ifUpdatedAt *time.Time) (*gql.Destination, error) {
	entry := newEntry(ctx, "updateDestination", "")
	fail := func(err error) (*gql.Destination, error) {
		r.auditFailure(ctx, entry, err)
		return nil, destErr(err)
	}
	st, err := r.destinationStore()
	if err != nil {
		return fail(err)
	}
	if err := checkDestinationID("id", id); err != nil {
		return fail(err)
	}
	entry.Reason = "destination " + id
	old, err := st.Destination(ctx, id)
	if err != nil {
		if graph.ErrorCode(err) == graph.ENOTFOUND {
			err = graph.Errorf(graph.ENOTFOUND, "argument %q names no stored destination", "id")
		}
		return fail(err)
	}
	if ifUpdatedAt != nil {
		// Checked here for a quick answer, and by the store in the write.
		old.IfUpdatedAt = *ifUpdatedAt
		if err := old.CheckVersion(old.UpdatedAt); err != nil {
			return fail(destChangedErr(err))
		}
	}
	d, err := r.destinationFromInput(ctx, id, in, &old)
	if err != nil {
		return fail(err)
	}
	d.IfUpdatedAt = old.IfUpdatedAt
	d.CreatedAt, d.UpdatedAt = old.CreatedAt, graph.Now()
	wctx, alone := r.auditedWrite(ctx, st, entry)
	got, err := st.UpdateDestination(wctx, d)
	if changed := (*destination.ShownURLChangedError)(nil); errors.As(err, &changed) {
		err = invalidArg("input.url", "has the query \"?…\" that answers show in place of a destination's query, and the stored URL changed since it was read: give the whole URL")
	}
	if err != nil {
		return fail(destChangedErr(audienceGoneErr(err, in.AudienceIds)))
	}
	alone()
	r.destinationsChanged()
	return destinationOut(got), nil
}

func (r *Resolver) deleteDestination(ctx context.Context, id string) (*bool, error) {
	return destinationWrite(ctx, r, "deleteDestination", "id", id, func(ctx context.Context, st destination.Store) (bool, error) {
		return st.DeleteDestination(ctx, id)
	})
}

func (r *Resolver) replayDeadLetters(ctx context.Context, id string) (*int, error) {
	return destinationWrite(ctx, r, "replayDeadLetters", "destinationId", id, func(ctx context.Context, st destination.Store) (int, error) {
		return st.ReplayDead(ctx, id, time.Now(), destination.MaxPage)
	})
}

func (r *Resolver) retryDestination(ctx context.Context, id string) (*bool, error) {
	return destinationWrite(ctx, r, "retryDestination", "destinationId", id, func(ctx context.Context, st destination.Store) (bool, error) {
		return st.RetryNow(ctx, id, time.Now())
	})
}

// destinationWrite runs write, one audited change of the destination id
// given as argument arg, and tells this server's deliveries to look
// again. A store's NOT_FOUND names arg.
func destinationWrite[T any](ctx context.Context, r *Resolver, action, arg, id string, write func(context.Context, destination.Store) (T, error)) (*T, error) {
	entry := newEntry(ctx, action, "")
	fail := func(err error) (*T, error) {
		r.auditFailure(ctx, entry, err)
		return nil, destErr(err)
	}
	st, err := r.destinationStore()
	if err != nil {
		return fail(err)
	}
	if err := checkDestinationID(arg, id); err != nil {
		return fail(err)
	}
	entry.Reason = "destination " + id
	wctx, alone := r.auditedWrite(ctx, st, entry)
	v, err := write(wctx, st)
	if err != nil {
		if graph.ErrorCode(err) == graph.ENOTFOUND {
			err = graph.Errorf(graph.ENOTFOUND, "argument %q names no stored destination", arg)
		}
		return fail(err)
	}
	alone()
	r.destinationsChanged()
	return &v, nil
}

func (r *Resolver) destinations(ctx context.Context, first *int, after *string) (*gql.DestinationConnection, error) {
	st, err := r.destinationStore()
	if err != nil {
		return nil, err
	}
	n, from, err := idPage(first, after, cursorKindDestinations)
	if err != nil {
		return nil, err
	}
	if from != "" && !destination.ValidID(from) {
		return nil, invalidArg("after", "is not a valid %s cursor", cursorKindDestinations)
	}
	var ds []destination.Destination
	if ds, err = st.DestinationPage(ctx, from, n+1); err != nil {
		return nil, domainErr(err)
	}
	more := len(ds) > n
	ds = ds[:min(len(ds), n)]
	conn := &gql.DestinationConnection{
		Edges:    make([]*gql.DestinationEdge, len(ds)),
		Nodes:    make([]*gql.Destination, len(ds)),
		PageInfo: &gql.PageInfo{HasNextPage: more, HasPreviousPage: after != nil},
	}
	for i, d := range ds {
		node := destinationOut(d)
		conn.Nodes[i] = node
		conn.Edges[i] = &gql.DestinationEdge{Cursor: encodeCursor(cursorBody{V: cursorVersion, K: cursorKindDestinations, ID: d.ID}), Node: node}
	}
	if len(ds) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(ds)-1].Cursor
	}
	return conn, nil
}

func (r *Resolver) destinationDeliveries(ctx context.Context, id string, status *gql.DeliveryStatus, first *int, after *string) (*gql.DeliveryConnection, error) {
	st, err := r.destinationStore()
	if err != nil {
		return nil, err
	}
	if err := checkDestinationID("destinationId", id); err != nil {
		return nil, err
	}
	n, from, err := idPage(first, after, cursorKindDeliveries)
	if err != nil {
		return nil, err
	}
	q := destination.DeliveryQuery{DestinationID: id}
	if from != "" {
		if q.Before, err = strconv.ParseUint(from, 10, 64); err != nil || q.Before == 0 {
			return nil, invalidArg("after", "is not a valid %s cursor", cursorKindDeliveries)
		}
	}
	if status != nil {
		q.Status = destination.Status(*status)
	}
	var ds []destination.Delivery
	q.Limit = n + 1
	if ds, err = st.Deliveries(ctx, q); err != nil {
		if graph.ErrorCode(err) == graph.ENOTFOUND {
			err = graph.Errorf(graph.ENOTFOUND, "argument %q names no stored destination", "destinationId")
		}
		return nil, domainErr(err)
	}
	more := len(ds) > n
	ds = ds[:min(len(ds), n)]
	conn := &gql.DeliveryConnection{
		Edges:    make([]*gql.DeliveryEdge, len(ds)),
		Nodes:    make([]*gql.Delivery, len(ds)),
		PageInfo: &gql.PageInfo{HasNextPage: more, HasPreviousPage: after != nil},
	}
	for i, d := range ds {
		node := deliveryOut(d)
		conn.Nodes[i] = node
		conn.Edges[i] = &gql.DeliveryEdge{Cursor: encodeCursor(cursorBody{V: cursorVersion, K: cursorKindDeliveries,
			ID: strconv.FormatUint(d.Number, 10)}), Node: node}
	}
	if len(ds) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(ds)-1].Cursor
	}
	return conn, nil
}

// priceDestinations prices the destination lists by their first.
func priceDestinations(c *gql.ComplexityRoot) {
	c.Query.Destinations = func(child int, first *int, _ *string) int {
		return satAdd(1, satMul(pageCost(first, defaultAccessPage, maxAccessPage), child))
	}
	c.Query.DestinationDeliveries = func(child int, _ string, _ *gql.DeliveryStatus, first *int, _ *string) int {
		return satAdd(1, satMul(pageCost(first, defaultAccessPage, maxAccessPage), child))
	}
}
