package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/httpdrain"
	"github.com/idgraph/cdp/internal/reqid"
	"github.com/idgraph/cdp/privacy"
)

// exportPath is the one route of the privacy handler.
const exportPath = "/v1/privacy/profiles/{id}/export"

// headReason is the reason of the audit entry of a HEAD of the export,
// which sends no record.
const headReason = "method=HEAD"

// exportWriteWindow is how long the export may take to write what follows
// each flush; it pushes the server's write timeout back as the stream goes.
const exportWriteWindow = 2 * time.Minute

// PrivacyHandler serves the privacy endpoints under /v1/privacy/:
//
//	GET /v1/privacy/profiles/{id}/export
//
// streams the export of a profile as NDJSON (application/x-ndjson): a
// header line {"kind":"header","profileId","requestedId","profile",
// "counts","exportedAt"}, then one JSON object per record, each with its
// kind (privacy.Export.Write gives the order). An id merged away answers
// for its survivor. Errors are JSON {"error", "code"}: 404 NOT_FOUND for an
// unknown or erased id, 503 UNAVAILABLE (with Retry-After) when the store
// cannot be read or the audit entry cannot be written, 405 for another
// method. Each export appends one audit entry (action privacy.export, the
// profile id, the outcome; a HEAD's has the reason "method=HEAD") to audit
// before any personal data is sent;
// without audit (nil) none is written. The caller guards the handler
// (auth.Guard.RequireAudited with privacy:read and PrivacyRefusals, which
// audits the requests refused for want of it).
func PrivacyHandler(x *privacy.Exporter, audit access.Store, log zerolog.Logger) http.Handler {
	h := &privacyHandler{x: x, audit: audit, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc(exportPath, h.export)
	mux.HandleFunc("/v1/privacy/", func(w http.ResponseWriter, r *http.Request) {
		httpdrain.Body(w, r)
		writeError(w, http.StatusNotFound, "NOT_FOUND", noSuchEndpoint(r))
	})
	return mux
}

type privacyHandler struct {
	x     *privacy.Exporter
	audit access.Store
	log   zerolog.Logger
}

// writeError answers {"error", "code"}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, map[string]any{"error": msg, "code": code})
}

// errorStatus maps a domain error to its status and code.
func errorStatus(err error) (int, string, string) {
	switch graph.ErrorCode(err) {
	case graph.ENOTFOUND:
		return http.StatusNotFound, "NOT_FOUND", graph.ErrorMessage(err)
	case graph.EINVALID:
		return http.StatusBadRequest, "INVALID_ARGUMENT", graph.ErrorMessage(err)
	case graph.ECONFLICT:
		return http.StatusConflict, "CONFLICT", graph.ErrorMessage(err)
	case graph.EUNAVAILABLE:
		return http.StatusServiceUnavailable, "UNAVAILABLE", "store unavailable; retry later"
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable, "UNAVAILABLE", "the export was canceled"
	}
	return http.StatusInternalServerError, "INTERNAL", "internal error"
}

func (h *privacyHandler) logger(ctx context.Context) *zerolog.Logger {
	if l := zerolog.Ctx(ctx); l.GetLevel() != zerolog.Disabled {
		return l
	}
	return &h.log
}

// entry starts the audit entry of an export.
func exportEntry(ctx context.Context) access.AuditEntry {
	p := access.PrincipalFrom(ctx)
	e := access.AuditEntry{
		ID: access.NewAuditID(), At: graph.Now(), KeyID: p.KeyID(), KeyName: p.KeyName(),
		Action: privacy.ExportAction, Outcome: access.OutcomeOK,
	}
	if len(e.KeyName) > access.MaxNameLen {
		e.KeyName = ""
	}
	if rid := reqid.From(ctx); len(rid) <= 200 {
		e.RequestID = rid
	}
	return e
}

// appendEntry appends e on its own, apart from the request's cancellation.
func (h *privacyHandler) appendEntry(ctx context.Context, e access.AuditEntry) error {
	if h.audit == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return h.audit.AppendAudit(ctx, []access.AuditEntry{e})
}

func (h *privacyHandler) export(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		httpdrain.Body(w, r)
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "the export is read with GET")
		return
	}
	ctx := r.Context()
	log := h.logger(ctx)
	entry := exportEntry(ctx)
	if r.Method == http.MethodHead {
		// Its status and headers tell whether the profile exists and which
		// id answers for it, so it is audited, naming the profile; the
		// reason tells it from an export that sent the person's data.
		entry.Reason = headReason
	}
	ex, err := h.x.Prepare(ctx, r.PathValue("id"))
	if err != nil {
		status, code, msg := errorStatus(err)
		if status == http.StatusInternalServerError {
			log.Error().Err(err).Msg("privacy export failed")
		}
		entry.Outcome = code
		if aerr := h.appendEntry(ctx, entry); aerr != nil {
			log.Error().Err(aerr).Str("audit_id", entry.ID).Str("outcome", code).Msg("audit: export entry not written")
		}
		writeError(w, status, code, msg)
		return
	}
	ids := []string{ex.Profile.ID}
	if ex.RequestedID != ex.Profile.ID {
		ids = append(ids, ex.RequestedID)
	}
	entry.SetProfiles(ids)
	if err := h.appendEntry(ctx, entry); err != nil {
		// No personal data leaves without its audit entry.
		log.Error().Err(err).Str("audit_id", entry.ID).Msg("audit: export entry not written; export withheld")
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "the export's audit entry could not be written; retry later")
		return
	}

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(exportWriteWindow))
	hd := w.Header()
	hd.Set("Content-Type", "application/x-ndjson")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Disposition", `attachment; filename="export-`+ex.Profile.ID+`.ndjson"`)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	header := map[string]any{
		"kind": "header", "profileId": ex.Profile.ID, "requestedId": ex.RequestedID,
		"profile": ex.Profile, "counts": ex.Counts, "exportedAt": graph.Now(),
	}
	err = enc.Encode(header)
	n := 0
	if err == nil {
		err = ex.Write(ctx, func(kind string, v any) error {
			if err := enc.Encode(v); err != nil {
				return err
			}
			if n++; n%privacy.ExportPage == 0 {
				if err := bw.Flush(); err != nil {
					return err
				}
				_ = rc.Flush()
				_ = rc.SetWriteDeadline(time.Now().Add(exportWriteWindow))
			}
			return nil
		})
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		// The status is sent: end the connection so the client sees an
		// incomplete body rather than a short export.
		// The request id joins the line to the export's audit entry, which
		// names the profile; the line itself names none (a client going
		// away is enough to write it), and a domain error's text may.
		ev := log.Error().Int("records", n)
		if code := graph.ErrorCode(err); code != graph.EINTERNAL {
			ev = ev.Str("code", code)
		} else {
			ev = ev.Err(err)
		}
		ev.Msg("privacy export ended early")
		panic(http.ErrAbortHandler)
	}
}
