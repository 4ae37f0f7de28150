package resolver

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// MaxExportEvents is the most events dataExport answers with; a larger
// export is streamed by GET /v1/privacy/profiles/{id}/export.
const MaxExportEvents = 1000

// exportAnswer is dataExport's JSON object.
type exportAnswer struct {
	ProfileID   string                     `json:"profileId"`
	RequestedID string                     `json:"requestedId"`
	Profile     privacy.ExportProfile      `json:"profile"`
	Counts      privacy.Counts             `json:"counts"`
	ExportedAt  time.Time                  `json:"exportedAt"`
	Identifiers []privacy.ExportIdentifier `json:"identifiers"`
	Traits      []privacy.ExportTrait      `json:"traits"`
	Consent     []privacy.ExportConsent    `json:"consent"`
	History     []privacy.ExportChange     `json:"history"`
	Links       []privacy.ExportLink       `json:"links"`
	Refusals    []privacy.ExportRefusal    `json:"refusals"`
	Events      []privacy.ExportEvent      `json:"events"`
	Memberships []privacy.ExportMembership `json:"memberships"`
	Computed    []privacy.ExportComputed   `json:"computed"`
	// AudienceChanges are the entries of the audiences' logs naming the
	// person.
	AudienceChanges []privacy.ExportAudienceChange `json:"audienceChanges"`
}

func tooLargeForGraphQL(format string, args ...any) error {
	e := gqlerror.Errorf("%s; export it with GET /v1/privacy/profiles/{id}/export, which streams any size as NDJSON", fmt.Sprintf(format, args...))
	setCode(e, CodeInvalidArgument)
	return e
}

// dataExport builds the export of profileID in memory, refusing one over
// MaxExportEvents events or the response limit.
func (r *Resolver) dataExport(ctx context.Context, profileID string) (*exportAnswer, error) {
	if err := profileIDArg("profileId", profileID); err != nil {
		return nil, err
	}
	x := privacy.NewExporter(r.engine)
	if st, err := r.audienceStore(); err == nil {
		x = x.WithMemberships(audience.Memberships(st)).WithComputed(audience.ComputedOf(st)).WithAudienceChanges(audience.ChangeLog(st))
	}
	ex, err := x.Prepare(ctx, profileID)
	if err != nil {
		return nil, err
	}
	if ex.Counts.Events > MaxExportEvents {
		return nil, tooLargeForGraphQL("profile %s has %d events, more than the %d dataExport answers with", ex.Profile.ID, ex.Counts.Events, MaxExportEvents)
	}
	out := &exportAnswer{
		ProfileID: ex.Profile.ID, RequestedID: ex.RequestedID, Profile: ex.Profile, Counts: ex.Counts, ExportedAt: graph.Now(),
		Identifiers: []privacy.ExportIdentifier{}, Traits: []privacy.ExportTrait{}, Consent: []privacy.ExportConsent{},
		History: []privacy.ExportChange{}, Links: []privacy.ExportLink{}, Refusals: []privacy.ExportRefusal{}, Events: []privacy.ExportEvent{},
		Memberships: []privacy.ExportMembership{}, Computed: []privacy.ExportComputed{},
		AudienceChanges: []privacy.ExportAudienceChange{},
	}
	limit := r.cfg.MaxResponseBytes
	var size int64
	err = ex.Write(ctx, func(kind string, v any) error {
		if limit > 0 {
			b, err := json.Marshal(v)
			if err != nil {
				return err
			}
			if size += int64(len(b)) + 1; size > limit {
				return tooLargeForGraphQL("the export of profile %s is larger than the response limit of %d bytes", ex.Profile.ID, limit)
			}
		}
		switch rec := v.(type) {
		case privacy.ExportIdentifier:
			out.Identifiers = append(out.Identifiers, rec)
		case privacy.ExportTrait:
			out.Traits = append(out.Traits, rec)
		case privacy.ExportConsent:
			out.Consent = append(out.Consent, rec)
		case privacy.ExportChange:
			out.History = append(out.History, rec)
		case privacy.ExportEvent:
			out.Events = append(out.Events, rec)
		case privacy.ExportMembership:
			out.Memberships = append(out.Memberships, rec)
		case privacy.ExportLink:
			out.Links = append(out.Links, rec)
		case privacy.ExportRefusal:
			out.Refusals = append(out.Refusals, rec)
		case privacy.ExportComputed:
			out.Computed = append(out.Computed, rec)
		case privacy.ExportAudienceChange:
			out.AudienceChanges = append(out.AudienceChanges, rec)
		default:
			return fmt.Errorf("export: unexpected record %T", v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
