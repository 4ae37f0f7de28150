package neo4jstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"
	"go.opentelemetry.io/otel/attribute"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/redact"
	"github.com/idgraph/cdp/internal/telemetry"
)

// dbSystem names the store on its spans.
var dbSystem = attribute.String("db.system", "neo4j")

// DefaultDatabase is used when Config.Database is empty.
const DefaultDatabase = "neo4j"

// systemDatabase is the database in which Neo4j keeps its own settings
// (users, roles, the other databases), never a store.
const systemDatabase = "system"

// pingTimeout bounds Ping, so a health check answers quickly even when the
// server accepts connections but does not run queries.
const pingTimeout = 2 * time.Second

var _ graph.Store = (*Store)(nil)

// Config says where the Neo4j server is.
type Config struct {
	URI      string // e.g. bolt://127.0.0.1:7687 or neo4j://host:7687
	User     string // empty: no authentication
	Password string
	Database string // empty: DefaultDatabase
	// CAFile, when set, names a PEM file of certificate authorities that
	// bolt+s:// and neo4j+s:// trust besides the system's: a Neo4j whose
	// certificate a private authority signed, or a self-signed one.
	CAFile string
	// OnAvailability, when set, is called when Neo4j stops answering
	// (available false, with the reason) and when it answers again. While
	// it is down every call fails at once with graph.ErrUnavailable.
	OnAvailability func(available bool, err error)
	// NoWritesAtOpen makes Open write nothing: instead of applying the
	// schema (Migrate) it checks that it is current (SchemaGaps), and
	// refuses a database whose schema is not, and it leaves the audience
	// deletions left unfinished to the next Open without it. For a store
	// opened only to be read and compared (cdp copy --verify-only).
	NoWritesAtOpen bool
	// ConnectDeadline, when set, bounds Open's wait for Neo4j to answer
	// (the driver's connectivity check), and only that: the schema and
	// data migrations that follow once it answers (which may take long on
	// a large store) are bounded by Open's context alone.
	ConnectDeadline time.Time
	// CheckIdentity, when set, is called by Open with the database's
	// Identity once Neo4j answers, before Open writes anything; an error
	// it returns ends Open, which returns it as it is. cdp copy uses it to
	// refuse one database named two ways as both source and target.
	CheckIdentity func(identity string) error
}

// Store is the Neo4j graph.Store. It holds one driver (one connection pool)
// and is safe for concurrent use.
type Store struct {
	driver neo4j.DriverWithContext
	uri    string // without a password
	db     string
	// bookmarks make every session see the writes this process committed
	// before it started, also when a read is routed to a follower of a
	// cluster (neo4j:// URIs). They are dropped when Neo4j comes back after
	// being down, and when the server refuses them: a database restored
	// from a backup, or wiped, has not reached them and never will.
	bookmarks atomic.Pointer[bookmarkManager]
	health    *health
	stopWatch context.CancelFunc
	watching  sync.WaitGroup
	// deletionsAtOpen is closed once the audience deletions found
	// unfinished at Open are finished (or the store is closed).
	deletionsAtOpen chan struct{}
}

// Open connects to Neo4j, checks that it answers within ctx, and applies the
// schema (Migrate); in the background it then finishes the audience
// deletions left unfinished (DeleteAudience). With Config.NoWritesAtOpen it
// does neither, and only checks the schema. The URI may be bolt:// or bolt+s:// (one server), or
// neo4j:// or neo4j+s:// (routing: writes go to the cluster's leader, reads
// to its followers). The +s schemes use TLS and check the server's
// certificate against the system's authorities and Config.CAFile's. From
// then on the store checks every second that Neo4j answers (see
// Config.OnAvailability).
//
// Errors: wrapped by graph.ErrUnavailable when the server cannot be reached
// (retrying later may succeed); not wrapped when the configuration is wrong
// (a bad URI or CA file, refused credentials, an untrusted certificate).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	auth := neo4j.NoAuth()
	if cfg.User != "" {
		auth = neo4j.BasicAuth(cfg.User, cfg.Password, "")
	}
	uri := RedactURI(cfg.URI)
	var tlsConf []func(*config.Config)
	if cfg.CAFile != "" {
		pool, err := trustedCAs(cfg.CAFile, cfg.URI)
		if err != nil {
			return nil, err
		}
		tlsConf = append(tlsConf, func(c *config.Config) {
			c.TlsConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		})
	}
	if _, err := url.Parse(cfg.URI); err != nil {
		// The parser's error repeats the URI whole, and may quote a piece
		// of a password written into it.
		return nil, fmt.Errorf("neo4j: bad configuration for %q: the URI is not a valid URL (a user and password are not read from it: give them in the user and password settings)", uri)
	}
	if p := URIAddressProblem(cfg.URI); p != "" {
		// The driver would take it, and fail every connection as if
		// Neo4j were down: no server can listen there.
		return nil, fmt.Errorf("neo4j: bad configuration for %q: the URI has %s", uri, p)
	}
	if URIUserInfo(cfg.URI) {
		// The driver reads no credentials from the URI: it would connect
		// without them (or with cfg.User's), the ones written there unseen.
		return nil, fmt.Errorf("neo4j: bad configuration for %q: the URI holds user information, which is not read from it: give the user and password in the user and password settings, and the URI without them", HideUserInfo(cfg.URI))
	}
	if strings.EqualFold(cfg.Database, systemDatabase) {
		// Neo4j would take the connection and refuse every statement
		// with a bare SemanticError.
		return nil, fmt.Errorf("neo4j: bad configuration for %q: the system database holds Neo4j's own settings, not a store: name a user database (default %s)", uri, DefaultDatabase)
	}
	driver, err := neo4j.NewDriverWithContext(cfg.URI, auth, tlsConf...)
	if err != nil {
		return nil, fmt.Errorf("neo4j: bad configuration for %q: %w", uri, err)
	}
	s := &Store{driver: driver, uri: uri, db: cfg.Database}
	s.resetBookmarks()
	s.health = newHealth(func(available bool, err error) {
		if available {
			s.resetBookmarks()
		}
		if cfg.OnAvailability != nil {
			cfg.OnAvailability(available, err)
		}
	})
	if s.db == "" {
		s.db = DefaultDatabase
	}
	cctx := ctx
	if !cfg.ConnectDeadline.IsZero() {
		var cancel context.CancelFunc
		cctx, cancel = context.WithDeadline(ctx, cfg.ConnectDeadline)
		defer cancel()
	}
	if err := driver.VerifyConnectivity(cctx); err != nil {
		_ = driver.Close(context.WithoutCancel(ctx))
		var ne *neo4j.Neo4jError
		if errors.As(err, &ne) && ne.HasSecurityCode() {
			// Retrying will not help: the configuration is wrong.
			return nil, fmt.Errorf("Neo4j at %s refused user %q: %w", uri, cfg.User, err)
		}
		if certificateRefused(err) {
			return nil, fmt.Errorf("Neo4j at %s: its TLS certificate is not trusted (trust its authority with a CA file, e.g. --neo4j-ca-file): %w", uri, err)
		}
		return nil, graph.ErrUnavailable(fmt.Errorf("cannot reach Neo4j at %s: %w", uri, err))
	}
	if cfg.CheckIdentity != nil {
		id, err := s.Identity(ctx)
		if err == nil {
			err = cfg.CheckIdentity(id)
		}
		if err != nil {
			_ = driver.Close(context.WithoutCancel(ctx))
			if databaseNotFound(err) {
				return nil, graph.Errorf(graph.EINVALID, "Neo4j at %s has no database %q (check the database name given)", uri, s.db)
			}
			return nil, err
		}
	}
	if cfg.NoWritesAtOpen {
		var gaps []string
		if gaps, err = s.SchemaGaps(ctx); err == nil && len(gaps) > 0 {
			_ = driver.Close(context.WithoutCancel(ctx))
			return nil, graph.Errorf(graph.EINVALID, "Neo4j at %s database %q: its schema is not current (%s), and it was opened to be read only: run cdp migrate on it first",
				uri, s.db, strings.Join(gaps, "; "))
		}
	} else {
		_, err = s.Migrate(ctx)
	}
	if err != nil {
		_ = driver.Close(context.WithoutCancel(ctx))
		if databaseNotFound(err) {
			// Retrying will not help either: Neo4j answers, and has no
			// such database.
			return nil, graph.Errorf(graph.EINVALID, "Neo4j at %s has no database %q (check the database name given)", uri, s.db)
		}
		return nil, err
	}
	wctx, stop := context.WithCancel(context.Background())
	s.stopWatch = stop
	s.deletionsAtOpen = make(chan struct{})
	s.watching.Add(1)
	go func() {
		defer s.watching.Done()
		s.watch(wctx)
	}()
	if cfg.NoWritesAtOpen {
		close(s.deletionsAtOpen)
		return s, nil
	}
	// Audience deletions a stopped process left unfinished (DeleteAudience):
	// in the background, as one may take a while.
	s.watching.Add(1)
	go func() {
		defer s.watching.Done()
		s.finishAudienceDeletionsAtOpen(wctx)
	}()
	return s, nil
}

// qDatabaseIdentity reads what Neo4j tells a database apart by: the id it
// gave the database when it was created, and the time it was.
const qDatabaseIdentity = `CALL db.info() YIELD id, creationDate RETURN id, creationDate`

// Identity returns what tells the store's database apart from every other,
// on this server or another: the id Neo4j gave it at its creation and its
// creation time (db.info). Every URI that reaches the database (any host
// name or address of the server, bolt or neo4j, with TLS or without)
// gives the same, and so does every member of a cluster that holds it.
func (s *Store) Identity(ctx context.Context) (string, error) {
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		rows, err := t.query(ctx, qDatabaseIdentity, nil)
		if err != nil {
			return nil, err
		}
		if len(rows) != 1 || len(rows[0].Values) != 2 {
			return nil, fmt.Errorf("db.info answered %d rows", len(rows))
		}
		id, _ := rows[0].Values[0].(string)
		created := fmt.Sprint(rows[0].Values[1])
		if id == "" {
			return nil, errors.New("db.info answered no database id")
		}
		return id + "@" + created, nil
	})
	if err != nil {
		return "", fmt.Errorf("neo4j: read the identity of database %q: %w", s.db, err)
	}
	return out.(string), nil
}

// URIScheme is uri's scheme, lowercased, or "" when uri is not a URL.
func URIScheme(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	return u.Scheme // lowercased by Parse
}

// URIAddressProblem says what keeps the address of uri, a URL, from being
// the one meant, or one a server can listen at: "user information cut
// short ..." (a #, / or ? not percent-encoded in it ends the host early,
// so the address is read from the user information), "no host" (neither
// host nor port), "an empty port" (a colon with nothing after it), or
// "port N, which is not 1 to 65535"; "" when it is none of these, or uri
// is not a URL. A missing host with a port is the driver's localhost, and
// a missing port 7687.
func URIAddressProblem(uri string) string {
	u, err := url.Parse(uri)
	switch {
	case err != nil:
		return ""
	case u.User == nil && redact.CutUserInfo(uri):
		return "user information cut short by a #, / or ? (a user and password are not read from the URI: give them in their own settings)"
	case u.Host == "":
		return "no host"
	case strings.HasSuffix(u.Host, ":"):
		return "an empty port"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("port %s, which is not 1 to 65535", p)
		}
	}
	return ""
}

// URIUserInfo reports whether uri, a URL, holds user information (a user
// name, a password or both). Open reads no credentials from the URI
// (Config.User and Config.Password give them), and refuses one that holds
// them rather than connecting without them.
func URIUserInfo(uri string) bool {
	u, err := url.Parse(uri)
	return err == nil && u.User != nil
}

// HideUserInfo returns uri, a URL, with its user information shown as
// xxxxx whole, user name included (a token written as the user name is
// as secret as a password); uri as RedactURI shows it when it is not a
// URL or holds none.
func HideUserInfo(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return RedactURI(uri)
	}
	u.User = url.User("xxxxx")
	return u.String()
}

// KnownScheme reports whether Open takes a URI of this scheme: bolt and
// neo4j (routing), each plain, +s (TLS, certificate checked) or +ssc
// (TLS, any certificate).
func KnownScheme(scheme string) bool {
	switch scheme {
	case "bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc":
		return true
	}
	return false
}

// ChecksCertificate reports whether a URI of this scheme checks the
// server's certificate, the only case where a CA file applies.
func ChecksCertificate(scheme string) bool { return scheme == "bolt+s" || scheme == "neo4j+s" }

// trustedCAs is the system's certificate pool with the certificates of the
// PEM file path added, for uri, which must be bolt+s:// or neo4j+s://
// (the schemes that check the server's certificate).
func trustedCAs(path, uri string) (*x509.CertPool, error) {
	if !ChecksCertificate(URIScheme(uri)) {
		return nil, fmt.Errorf("neo4j: a CA file needs a bolt+s:// or neo4j+s:// URI, got %q", RedactURI(uri))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("neo4j: read the CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("neo4j: the CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// certificateRefused reports whether err is the client's refusal of the
// server's TLS certificate: a configuration to fix, not an outage to wait
// out. The driver keeps the cause in ConnectivityError.Inner and, for a
// routing URI, inside an error of its internal package that does not
// unwrap; there only crypto/tls's message ("tls: failed to verify
// certificate: ...") tells it.
func certificateRefused(err error) bool {
	for err != nil {
		var verify *tls.CertificateVerificationError
		if errors.As(err, &verify) {
			return true
		}
		var ce *neo4j.ConnectivityError
		if !errors.As(err, &ce) || ce.Inner == nil {
			break
		}
		err = ce.Inner
	}
	return err != nil && strings.Contains(err.Error(), "tls: failed to verify certificate")
}

// Driver is the store's driver, for callers that must run their own Cypher
// on the same connection pool (cdp bench's raw baselines). The store owns
// it: Close closes it.
func (s *Store) Driver() neo4j.DriverWithContext { return s.driver }

// Database is the name of the database the store uses.
func (s *Store) Database() string { return s.db }

// Close stops the store's background work (the health probes, and the
// audience deletions Open finishes) and closes the driver; it waits for
// connections in use to be returned.
func (s *Store) Close(ctx context.Context) error {
	s.stopWatch()
	s.watching.Wait()
	return s.driver.Close(ctx)
}

func (s *Store) session(ctx context.Context, mode neo4j.AccessMode) neo4j.SessionWithContext {
	return s.driver.NewSession(ctx, neo4j.SessionConfig{
		AccessMode:      mode,
		DatabaseName:    s.db,
		BookmarkManager: s.bookmarks.Load().m,
		// Results arrive in one message however many rows they hold, so a
		// batch costs the same number of round trips at any size.
		FetchSize: neo4j.FetchAll,
	})
}

// Update runs fn in a managed write transaction. The driver reruns fn after
// a transient failure (a deadlock between writers, a lost connection), each
// time on a fresh transaction and a fresh Tx value, so nothing from a failed
// attempt survives; the engine recomputes everything inside fn.
//
// While Neo4j is known to be down it fails at once with
// graph.ErrUnavailable, and a call under way when Neo4j is found down
// stops retrying and fails the same way, its transaction rolled back or,
// if the commit's answer was lost, of unknown outcome: never reported as
// committed when it was not.
func (s *Store) Update(ctx context.Context, fn func(ctx context.Context, tx graph.Tx) error) (err error) {
	ctx, span := telemetry.StartChild(ctx, "store.update", dbSystem)
	defer func() { telemetry.EndStore(span, "update", err) }()
	gctx, done, err := s.guard(ctx)
	if err != nil {
		return err
	}
	sess := s.session(gctx, neo4j.AccessModeWrite)
	defer sess.Close(context.WithoutCancel(ctx))
	_, err = sess.ExecuteWrite(gctx, func(mt neo4j.ManagedTransaction) (any, error) {
		// fn runs under gctx, which ends when Neo4j is found down, so
		// that a statement waiting on a connection that stopped
		// answering gives up then, as BEGIN and COMMIT do.
		t := &tx{readTx: readTx{run: mt}, nonce: newNonce()}
		if err := fn(gctx, t); err != nil {
			return nil, retryable(err)
		}
		// A caller that gave up while fn ran must not have its work
		// committed after being told it failed: roll back instead. So
		// too when Neo4j was found down meanwhile.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, gctx.Err()
	})
	return s.classify(done(callerErr(ctx, err)))
}

// View runs fn's statements as auto-commit queries of one read session
// (routed to a follower in a cluster); see read. Like Update, it fails at
// once while Neo4j is down.
func (s *Store) View(ctx context.Context, fn func(ctx context.Context, tx graph.ReadTx) error) (err error) {
	ctx, span := telemetry.StartChild(ctx, "store.view", dbSystem)
	defer func() { telemetry.EndStore(span, "view", err) }()
	return s.read(ctx, func(ctx context.Context, t *readTx) error { return fn(ctx, t) })
}

// read runs fn on a read session whose statements are auto-commit
// queries: one round trip each, where a managed read transaction adds its
// BEGIN and COMMIT to the first and last. Neo4j's reads are read-committed
// either way, every statement seeing what committed before it, and the
// session's bookmarks make the first see this process's earlier commits.
// As the driver reruns a managed transaction, fn is rerun after a lost
// connection or a transient error (neo4j.IsRetryable) for up to
// readRetryTime: at once the first time (a pooled connection that died
// with a restarted server), then after a second, doubling to eight, with
// a fifth of jitter. fn's ctx is cancelled when Neo4j is found down.
func (s *Store) read(ctx context.Context, fn func(ctx context.Context, t *readTx) error) error {
	gctx, done, err := s.guard(ctx)
	if err != nil {
		return err
	}
	err = retryRead(gctx, readRetryTime, func() error {
		// A session per attempt: nothing of a failed one carries over.
		sess := s.session(gctx, neo4j.AccessModeRead)
		defer sess.Close(context.WithoutCancel(ctx))
		return fn(gctx, &readTx{run: autoCommit{sess}, readOnly: true})
	})
	return s.classify(done(callerErr(ctx, err)))
}

// readRetryTime is the driver's default MaxTransactionRetryTime, which
// bounded View's managed transactions before.
const readRetryTime = 30 * time.Second

// retryRead calls f until it succeeds, fails with an error no retry
// mends, ctx ends, or the next wait would pass limit (counted from the
// first call). It returns f's last error.
func retryRead(ctx context.Context, limit time.Duration, f func() error) error {
	start := time.Now()
	var wait time.Duration
	for {
		err := f()
		if err == nil || ctx.Err() != nil || !neo4j.IsRetryable(retryable(err)) {
			return err
		}
		jittered := wait + time.Duration(rand.Int64N(int64(wait)/5+1))
		if time.Since(start)+jittered > limit {
			return err
		}
		t := time.NewTimer(jittered)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(max(2*wait, time.Second), 8*time.Second)
	}
}

// callerErr reports a failure after the caller gave up (cancelled, or its
// deadline passed) as the caller's own context error. The driver reports
// that as a lost connection, which would read as the store being
// unavailable.
func callerErr(ctx context.Context, err error) error {
	ce := ctx.Err()
	var ge *graph.Error
	if err == nil || ce == nil || errors.Is(err, ce) || errors.As(err, &ge) {
		return err
	}
	return fmt.Errorf("%w (%v)", ce, err)
}

// Ping runs a trivial query, without retries and within pingTimeout.
// Success ends a known outage at once (see health).
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := s.ping(ctx); err != nil {
		return graph.ErrUnavailable(fmt.Errorf("neo4j at %s: %w", s.uri, err))
	}
	// Neo4j answers: calls pass from now on, so that a ready /readyz means
	// requests are served, without waiting for the next health check.
	s.health.set(nil)
	return nil
}

func (s *Store) ping(ctx context.Context) error {
	// No bookmarks: a health check must not wait for a lagging follower.
	sess := s.driver.NewSession(ctx, neo4j.SessionConfig{AccessMode: neo4j.AccessModeRead, DatabaseName: s.db})
	defer sess.Close(context.WithoutCancel(ctx))
	res, err := sess.Run(ctx, "RETURN 1", nil)
	if err == nil {
		_, err = res.Consume(ctx)
	}
	return err
}

// Info reports "neo4j" and the server's version.
func (s *Store) Info(ctx context.Context) (graph.StoreInfo, error) {
	sess := s.session(ctx, neo4j.AccessModeRead)
	defer sess.Close(context.WithoutCancel(ctx))
	res, err := sess.Run(ctx, "CALL dbms.components() YIELD name, versions WHERE name = 'Neo4j Kernel' RETURN versions[0] AS version", nil)
	if err != nil {
		return graph.StoreInfo{}, s.classify(err)
	}
	rec, err := res.Single(ctx)
	if err != nil {
		return graph.StoreInfo{}, s.classify(err)
	}
	v, _ := rec.Values[0].(string)
	return graph.StoreInfo{Kind: "neo4j", Version: v}, nil
}

type bookmarkManager struct{ m neo4j.BookmarkManager }

func (s *Store) resetBookmarks() {
	s.bookmarks.Store(&bookmarkManager{m: neo4j.NewBookmarkManager(neo4j.BookmarkManagerConfig{})})
}

// retryable hands a connectivity error back to the driver as the driver's
// own type: its retry loop recognises a lost connection by type assertion,
// not errors.As, so a wrapped one would not be retried. Server errors
// (deadlocks) are found through wrapping and need nothing.
func retryable(err error) error {
	var ce *neo4j.ConnectivityError
	if err != nil && errors.As(err, &ce) {
		return ce
	}
	return err
}

// classify leaves the caller's domain errors as they are and marks failures
// worth retrying later as graph.ErrUnavailable.
func (s *Store) classify(err error) error {
	if err == nil {
		return nil
	}
	var ge *graph.Error
	if errors.As(err, &ge) {
		return err
	}
	var ne *neo4j.Neo4jError
	if errors.As(err, &ne) {
		if strings.Contains(ne.Code, "Bookmark") {
			s.resetBookmarks()
		}
		err = withheldMessage{code: ne.Code, err: err}
	}
	if unavailable(err) {
		return graph.ErrUnavailable(fmt.Errorf("neo4j at %s: %w", s.uri, err))
	}
	return fmt.Errorf("neo4j: %w", err)
}

// withheldMessage is a Neo4j server error whose text is its code alone.
// Neo4j's messages can quote values, stored or sent (a constraint
// violation names the key it found, a type error the value it got), and
// the error goes on into logs and, for some, into answers, where no
// identifier may appear at any log level. The error it wraps stays
// reachable for errors.As and errors.Is.
type withheldMessage struct {
	code string
	err  error
}

func (w withheldMessage) Error() string {
	return "Neo4jError: " + w.code + " (its message is not repeated: it can quote stored values)"
}

func (w withheldMessage) Unwrap() error { return w.err }

// databaseNotFound reports whether Neo4j answered err because the
// database named does not exist.
func databaseNotFound(err error) bool {
	var ne *neo4j.Neo4jError
	return errors.As(err, &ne) && ne.Code == "Neo.ClientError.Database.DatabaseNotFound"
}

// unavailable reports whether err means the database cannot serve now: no
// connection (refused, lost, no server in the routing table: the driver's
// ConnectivityError, its "service unavailable"), a database that is not
// online, a transaction the server timed out or that was terminated (by an
// operator, or by a database shutting down), or transient failures (lock
// timeouts, memory pressure, a leader switch) that outlasted the driver's
// retries. Callers answer these with 503 and Retry-After, never 500.
func unavailable(err error) bool {
	var (
		ce  *neo4j.ConnectivityError
		tel *neo4j.TransactionExecutionLimit
		ne  *neo4j.Neo4jError
	)
	switch {
	case errors.As(err, &ce), errors.As(err, &tel):
		return true
	case errors.As(err, &ne):
		switch ne.Code {
		case "Neo.ClientError.Database.DatabaseNotFound",
			// The server's transaction timeout: overloaded, not wrong.
			"Neo.ClientError.Transaction.TransactionTimedOut",
			"Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration",
			// Terminated by an operator or by the database shutting down
			// (LockClientStopped when it was waiting on a lock): Neo4j
			// itself says to retry in a new transaction.
			"Neo.ClientError.Transaction.Terminated",
			"Neo.ClientError.Transaction.LockClientStopped":
			return true
		}
		// Transient errors, and a cluster's leader moving.
		return ne.IsRetriable()
	}
	return false
}
