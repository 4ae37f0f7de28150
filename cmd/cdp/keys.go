package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
)

const keysUsage = `Usage:
  cdp keys create --name NAME --scopes S1,S2 [--source SRC] [--expires WHEN] [store flags]
  cdp keys list   [--json] [store flags]
  cdp keys revoke [store flags] ID

Manage API keys directly in the store (the same store flags and environment
variables as "cdp serve"). On Neo4j this works at any time; the embedded store
must not be held by a running server (use the GraphQL mutations then).

Exit status: 0 done, 1 the store failed or the key id is unknown, 2 bad usage.
Run "cdp keys COMMAND -h" for the flags of a command.
`

// runKeys runs "cdp keys create|list|revoke".
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return usagef("give a command: create, list or revoke")
	}
	switch args[0] {
	case "create":
		return keysCreate(ctx, args[1:], stdout, stderr)
	case "list":
		return keysList(ctx, args[1:], stdout, stderr)
	case "revoke":
		return keysRevoke(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, keysUsage)
		return nil
	default:
		return usagef("unknown command %q (commands: create, list, revoke)", args[0])
	}
}

// parseKeysFlags parses args, flags before or after the positional
// arguments, and returns the positional ones.
func parseKeysFlags(fs *flagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// openKeyStore opens the store the flags name as an access.Store.
// mutation names the GraphQL field that does the command's work while a
// server holds the embedded file. With mustExist, an embedded store that
// is not there is an error: opening one creates it, and list or revoke on
// a mistyped --data-dir would otherwise answer from a new, empty store.
func openKeyStore(ctx context.Context, s *storeFlags, stderr io.Writer, mutation string, mustExist bool) (access.Store, func(), error) {
	// The command's own work is bounded by --store-timeout too, on either
	// store: a zero or negative one would fail every command at once.
	if s.timeout <= 0 {
		return nil, nil, usagef("--store-timeout must be positive, got %s", s.timeout)
	}
	if mustExist && s.neo4jURI == "" {
		if _, err := os.Stat(filepath.Join(s.dataDir, embedded.FileName)); err != nil {
			return nil, nil, fmt.Errorf("no embedded store in %s (check --data-dir): %w", s.dataDir, err)
		}
	}
	st, err := s.open(ctx, zerolog.New(stderr).With().Timestamp().Logger())
	if err != nil {
		if s.neo4jURI == "" && errors.Is(err, embedded.ErrInUse) {
			return nil, nil, fmt.Errorf("the embedded store in %s is held by a running server; stop it, or use the GraphQL %s with a keys:admin key", s.dataDir, mutation)
		}
		return nil, nil, err
	}
	closeStore := func() { _ = st.Close(context.WithoutCancel(ctx)) }
	as, ok := st.(access.Store)
	if !ok {
		closeStore()
		return nil, nil, fmt.Errorf("the store %T holds no API keys", st)
	}
	return as, closeStore, nil
}

// parseExpires reads --expires: an RFC 3339 time, or a duration from now.
func parseExpires(v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		if !t.After(now) {
			return time.Time{}, usagef("--expires %s is not in the future", v)
		}
		return t, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return time.Time{}, usagef("--expires %q is neither an RFC 3339 time (2027-01-31T00:00:00Z) nor a duration (720h)", v)
	}
	if d <= 0 {
		return time.Time{}, usagef("--expires %s is not a positive duration", v)
	}
	return now.Add(d), nil
}

func keysCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s storeFlags
	var name, scopes, source, expires string
	fs := newFlagSet("keys create", stderr, "\nCreates an API key and prints its secret once, on standard output.\nThe store keeps only its SHA-256 hash.\n\nScopes: "+scopeList())
	s.register(fs)
	fs.str(&name, "name", "", "", "name of the key, e.g. crm-backend (required)")
	fs.str(&scopes, "scopes", "", "", "comma-separated scopes (required)")
	fs.str(&source, "source", "", "", "source name that labels the events sent with the key (event keys)")
	fs.str(&expires, "expires", "", "", "expiry: an RFC 3339 time or a duration from now such as 720h (default: never)")
	pos, err := parseKeysFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q (run \"cdp keys create -h\")", pos[0])
	}
	if strings.TrimSpace(name) == "" {
		return usagef("--name is required")
	}
	var names []string
	for _, n := range strings.Split(scopes, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return usagef("--scopes is required; the scopes are %s", scopeList())
	}
	now := time.Now()
	exp, err := parseExpires(expires, now)
	if err != nil {
		return err
	}
	k, secret, err := access.NewKey(name, names, source, exp, now)
	if err != nil {
		if graph.ErrorCode(err) == graph.EINVALID {
			return usagef("%s", graph.ErrorMessage(err))
		}
		return err
	}
	as, closeStore, err := openKeyStore(ctx, &s, stderr, "mutation createApiKey", false)
	if err != nil {
		return err
	}
	defer closeStore()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := as.CreateKey(ctx, k, keysAudit("keys.create", k.ID, now)); err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	fmt.Fprintf(stdout, "secret: %s\n", secret)
	fmt.Fprintf(stdout, "id: %s\nname: %s\nscopes: %s\n", k.ID, k.Name, strings.Join(access.ScopeNames(k.Scopes), ","))
	if k.Source != "" {
		fmt.Fprintf(stdout, "source: %s\n", k.Source)
	}
	if !k.ExpiresAt.IsZero() {
		fmt.Fprintf(stdout, "expires: %s\n", k.ExpiresAt.Format(time.RFC3339))
	}
	fmt.Fprintln(stderr, "cdp keys: the secret above is shown only this once; the store keeps only its hash")
	return nil
}

// keyJSON is a key as "cdp keys list --json" prints it: never its hash.
type keyJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	Source     *string    `json:"source"` // null for a key without one
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	ExpiresAt  *time.Time `json:"expiresAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
	CreatedBy  *string    `json:"createdBy"` // null for a key without a creator
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func textTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func keysList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s storeFlags
	var asJSON bool
	fs := newFlagSet("keys list", stderr, "\nLists every API key, revoked and expired ones included; never a secret or hash.")
	s.register(fs)
	fs.boolean(&asJSON, "json", "", false, "print a JSON array instead of a table")
	pos, err := parseKeysFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q (run \"cdp keys list -h\")", pos[0])
	}
	as, closeStore, err := openKeyStore(ctx, &s, stderr, "query apiKeys", true)
	if err != nil {
		return err
	}
	defer closeStore()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var keys []access.Key
	for after := ""; ; {
		page, err := as.Keys(ctx, access.MaxPage, after)
		if err != nil {
			return fmt.Errorf("list keys: %w", err)
		}
		keys = append(keys, page...)
		if len(page) < access.MaxPage {
			break
		}
		after = page[len(page)-1].ID
	}
	if asJSON {
		out := make([]keyJSON, 0, len(keys))
		for _, k := range keys {
			out = append(out, keyJSON{
				ID: k.ID, Name: k.Name, Scopes: access.ScopeNames(k.Scopes), Source: optString(k.Source),
				CreatedAt: k.CreatedAt.UTC(), LastUsedAt: optTime(k.LastUsedAt.UTC()),
				ExpiresAt: optTime(k.ExpiresAt.UTC()), RevokedAt: optTime(k.RevokedAt.UTC()),
				CreatedBy: optString(k.CreatedBy),
			})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tSOURCE\tCREATED\tCREATED BY\tLAST USED\tEXPIRES\tREVOKED")
	for _, k := range keys {
		src, by := k.Source, k.CreatedBy
		if src == "" {
			src = "-"
		}
		if by == "" {
			by = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(access.ScopeNames(k.Scopes), ","), src,
			textTime(k.CreatedAt), by, textTime(k.LastUsedAt), textTime(k.ExpiresAt), textTime(k.RevokedAt))
	}
	return tw.Flush()
}

func keysRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s storeFlags
	fs := newFlagSet("keys revoke", stderr, "\nRevokes the key whose id (key_...) is the argument ID: \"cdp keys revoke [flags] ID\".\nRequests with it are refused from then on.")
	s.register(fs)
	pos, err := parseKeysFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give exactly one key id, got %d (run \"cdp keys list\" to see them)", len(pos))
	}
	id := strings.TrimSpace(pos[0])
	if !access.ValidKeyID(id) {
		return usagef("the argument is not a key id (%s; run \"cdp keys list\" to see them)", access.KeyIDShape)
	}
	as, closeStore, err := openKeyStore(ctx, &s, stderr, "mutation revokeApiKey", true)
	if err != nil {
		return err
	}
	defer closeStore()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	now := graph.Clean(time.Now())
	k, with, err := as.RevokeKey(ctx, id, now, keysAudit("keys.revoke", id, now))
	if err != nil {
		if graph.ErrorCode(err) == graph.ENOTFOUND {
			return fmt.Errorf("no key with id %q (run \"cdp keys list\" to see them)", id)
		}
		return fmt.Errorf("revoke key: %w", err)
	}
	if k.RevokedAt.Before(now) {
		fmt.Fprintf(stdout, "key %s (%s) was already revoked at %s\n", k.ID, k.Name, textTime(k.RevokedAt))
	} else {
		fmt.Fprintf(stdout, "revoked key %s (%s) at %s\n", k.ID, k.Name, textTime(k.RevokedAt))
	}
	for _, w := range with {
		fmt.Fprintf(stdout, "revoked with it key %s, which it created (directly or not)\n", w)
	}
	return nil
}

// keysAudit is the audit entry of a change made with "cdp keys" to the key
// id: no key made it (the operator works on the store directly), its
// reason names the key as the GraphQL mutations' entries do, and the store
// writes it in the change's transaction.
func keysAudit(action, id string, at time.Time) access.AuditEntry {
	return access.AuditEntry{
		ID: access.NewAuditID(), At: graph.Clean(at), Action: action, Reason: "cdp keys, key " + id, Outcome: access.OutcomeOK,
	}
}

func scopeList() string { return strings.Join(access.ScopeNames(access.AllScopes()), ", ") }

// optString is s, or nil when it is empty (JSON null).
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
