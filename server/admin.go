package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/httpdrain"
	"github.com/idgraph/cdp/internal/reqid"
)

// BackupPath is the route of the store backup.
const BackupPath = "/admin/backup"

// BackupAction is the audit action of a backup.
const BackupAction = "store.backup"

// BackupScopes are the scopes a key needs to take a backup: every scope,
// keys:admin first (a key without it is refused naming it), the others in
// their canonical order. The copy holds everything each of them guards.
func BackupScopes() []access.Scope {
	out := []access.Scope{access.ScopeKeysAdmin}
	for _, s := range access.AllScopes() {
		if s != access.ScopeKeysAdmin {
			out = append(out, s)
		}
	}
	return out
}

// BackupFileName is the file name the backup's Content-Disposition
// suggests: the name of the embedded store's file.
const BackupFileName = "cdp.db"

// backupWriteWindow is how long the backup may take to write one chunk
// (bbolt copies 32 KiB at a time); it pushes the server's write timeout
// back as the copy goes, so a large file is not cut at WriteTimeout.
const backupWriteWindow = 2 * time.Minute

// BackupHandler serves POST /admin/backup: a consistent copy of the whole
// store as of the request, taken while the server goes on serving
// (graph.Backupper), as application/octet-stream with Content-Length
// and Content-Disposition: attachment; filename="cdp.db". On the embedded
// store the body is its database file, which `cdp restore` puts in place
// and `cdp serve --data-dir` opens as it is.
//
// Errors are JSON {"error", "code"}: 405 METHOD_NOT_ALLOWED for a method
// other than POST; 501 NOT_IMPLEMENTED when the store cannot copy itself
// (Neo4j, whose own tools back it up: neo4j-admin database dump and load);
// 503 UNAVAILABLE (with Retry-After) when the store is closed or the audit
// entry cannot be written. A failure once the body has begun ends the
// connection, so the client sees fewer bytes than Content-Length.
//
// The caller guards the handler with every scope (BackupScopes,
// auth.Guard.RequireAllAudited: Server.Handler audits the requests
// refused for want of one, backupRefusals).
// Each request appends one audit entry (action store.backup) to audit
// before any data is sent; nil audit writes none.
func BackupHandler(store graph.Store, audit access.Store, log zerolog.Logger) http.Handler {
	return &backupHandler{store: store, audit: audit, log: log}
}

type backupHandler struct {
	store graph.Store
	audit access.Store
	log   zerolog.Logger
}

func (h *backupHandler) logger(ctx context.Context) *zerolog.Logger {
	if l := zerolog.Ctx(ctx); l.GetLevel() != zerolog.Disabled {
		return l
	}
	return &h.log
}

func (h *backupHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		httpdrain.Body(w, r)
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "the backup is taken with POST "+BackupPath)
		return
	}
	ctx := r.Context()
	log := h.logger(ctx)
	b, ok := h.store.(graph.Backupper)
	if !ok {
		kind := "this store"
		if info, err := h.store.Info(ctx); err == nil && info.Kind != "" {
			kind = "the " + info.Kind + " store"
		}
		writeError(w, http.StatusNotImplemented, "NOT_IMPLEMENTED",
			"POST "+BackupPath+" copies only the embedded store; "+kind+" is backed up with its own tools: "+
				"for Neo4j, `neo4j-admin database dump` (and `neo4j-admin database load` to restore), see the README")
		return
	}
	if h.audit != nil {
		principal := access.PrincipalFrom(ctx)
		entry := access.AuditEntry{
			ID: access.NewAuditID(), At: graph.Now(), KeyID: principal.KeyID(), KeyName: principal.KeyName(),
			Action: BackupAction, Outcome: access.OutcomeOK, Reason: "a copy of the whole store",
		}
		if len(entry.KeyName) > access.MaxNameLen {
			entry.KeyName = ""
		}
		if rid := reqid.From(ctx); len(rid) <= 200 {
			entry.RequestID = rid
		}
		// Written before the copy's read transaction begins: a commit that
		// must grow the file waits for open read transactions.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := h.audit.AppendAudit(actx, []access.AuditEntry{entry})
		cancel()
		if err != nil {
			// Nothing leaves without its audit entry.
			log.Error().Err(err).Str("audit_id", entry.ID).Msg("audit: backup entry not written; backup withheld")
			writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "the backup's audit entry could not be written; retry later")
			return
		}
	}

	rc := http.NewResponseController(w)
	started := false
	bw := &deadlineWriter{w: w, rc: rc}
	start := time.Now()
	n, err := b.Backup(ctx, func(size int64) (io.Writer, error) {
		hd := w.Header()
		hd.Set("Content-Type", "application/octet-stream")
		hd.Set("Content-Length", strconv.FormatInt(size, 10))
		hd.Set("Content-Disposition", `attachment; filename="`+BackupFileName+`"`)
		hd.Set("Cache-Control", "no-store")
		_ = rc.SetWriteDeadline(time.Now().Add(backupWriteWindow))
		w.WriteHeader(http.StatusOK)
		started = true
		return bw, nil
	})
	switch {
	case err == nil:
		log.Info().Int64("bytes", n).Dur("duration", time.Since(start)).Msg("backup sent")
	case !started:
		status, code, msg := errorStatus(err)
		if status == http.StatusInternalServerError {
			log.Error().Err(err).Msg("backup failed")
		}
		writeError(w, status, code, msg)
	default:
		// The status is sent: end the connection so the client sees a body
		// shorter than its Content-Length rather than a short file.
		if !errors.Is(err, context.Canceled) {
			log.Error().Err(err).Int64("bytes", n).Msg("backup ended early")
		}
		panic(http.ErrAbortHandler)
	}
}

// deadlineWriter pushes the write deadline back before each write.
type deadlineWriter struct {
	w    io.Writer
	rc   *http.ResponseController
	last time.Time
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if now := time.Now(); now.Sub(d.last) > time.Second {
		d.last = now
		_ = d.rc.SetWriteDeadline(now.Add(backupWriteWindow))
	}
	return d.w.Write(p)
}
