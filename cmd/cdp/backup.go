package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/redact"
)

const backupHelp = `
"cdp backup --out FILE" downloads a consistent copy of the embedded store
from a running server (POST /admin/backup) while it goes on serving. The copy
is the store's database file as of the request: "cdp restore" puts it in
place, and "cdp serve --data-dir" opens it.

The key needs every scope, the copy holding all the data they guard (no
key is needed in open mode). FILE is written
under a temporary name beside it, with mode 0600 (it holds personal data),
and renamed to FILE only once every byte has arrived and the file has been
checked as a sound store file of a layout this build reads; a failed or
partial download leaves nothing behind. An existing FILE is kept unless
--force is given. At the end it prints what the copy holds and its SHA-256.

A server on Neo4j answers 501: back Neo4j up with neo4j-admin database dump
(see the README).

Exit status: 0 done, 1 the server refused or failed, or the transfer, the
check or the file failed, 2 bad usage.

Example:
  cdp backup --server http://127.0.0.1:8080 --key "$CDP_API_KEY" --out cdp-backup.db`

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var server, key, out string
	var force bool
	fs := newFlagSet("backup", stderr, backupHelp)
	fs.str(&server, "server", "CDP_SERVER", "http://127.0.0.1:8080", "base URL of the running server")
	fs.str(&key, "key", "CDP_API_KEY", "", "API key holding every scope")
	fs.str(&out, "out", "", "", "file to write the backup to (required)")
	fs.boolean(&force, "force", "", false, "replace FILE if it exists")
	pos, err := parseKeysFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("unexpected argument %q: give the file with --out", pos[0])
	case out == "" || out == "-":
		return usagef("--out FILE is required (the backup is checked as a file before it is kept, so it is not written to standard output)")
	}
	if err := checkKeyFlag(key); err != nil {
		return err
	}
	base, err := url.Parse(strings.TrimRight(server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return usagef("--server %q is not an http or https URL", shownURL(server))
	}
	if st, err := os.Stat(out); err == nil {
		if !force {
			return fmt.Errorf("%s already exists; give --force to replace it", out)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", out)
		}
		// Checked before the download, and again as it is replaced.
		release, err := embedded.LockFile(out)
		if err != nil {
			return inUseErr(out, err)
		}
		release()
	}

	resp, err := callServer(ctx, http.MethodPost, base, base.JoinPath("admin", "backup"), key)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.ContentLength < 0 {
		return fmt.Errorf("the server at %s sent no Content-Length: is it a cdp server?", shownURL(base.String()))
	}

	prog := newByteProgress(stderr, resp.ContentLength)
	sum, digest, err := receiveBackup(ctx, out, resp.Body, resp.ContentLength, force, prog)
	prog.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup written to %s: %d bytes, layout version %d; %d identifiers, %d live profiles, %d merged away, %d events, %d API keys; sha256 %s\n",
		out, sum.Size, sum.Layout, sum.Identifiers, sum.Profiles, sum.MergedProfiles, sum.Events, sum.Keys, digest)
	return nil
}

// shownURL is raw as a message shows it: a password written into it is
// shown as xxxxx, and of text that is not a URL no user information is
// shown (the same rule as for Neo4j URIs).
func shownURL(raw string) string { return redact.URI(raw) }

// receiveBackup writes body, which must hold exactly size bytes, to a
// temporary file beside path, checks it as a store file, and renames it to
// path. It returns what the file holds and its SHA-256 in hex.
func receiveBackup(ctx context.Context, path string, body io.Reader, size int64, force bool, prog *byteProgress) (embedded.FileSummary, string, error) {
	var none embedded.FileSummary
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.part")
	if err != nil {
		return none, "", fmt.Errorf("cannot write in %s: %v", dir, unwrapPathError(err))
	}
	tmp := f.Name()
	defer os.Remove(tmp) // gone once renamed; removed on every failure
	fail := func(err error) (embedded.FileSummary, string, error) {
		_ = f.Close()
		return none, "", err
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(fmt.Errorf("file %s: %v", path, unwrapPathError(err)))
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h, prog), body)
	switch {
	case ctx.Err() != nil:
		return fail(fmt.Errorf("the backup was interrupted after %d of %d bytes; nothing was kept", n, size))
	case err != nil && isWriteErr(err):
		return fail(fmt.Errorf("file %s: %v", path, unwrapPathError(err)))
	case err != nil:
		return fail(fmt.Errorf("the backup was cut short after %d of %d bytes (%v); nothing was kept", n, size, err))
	case n != size:
		return fail(fmt.Errorf("the backup was cut short after %d of %d bytes; nothing was kept", n, size))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("file %s: %v", path, unwrapPathError(err)))
	}
	if err := f.Close(); err != nil {
		return none, "", fmt.Errorf("file %s: %v", path, unwrapPathError(err))
	}
	sum, err := embedded.CheckFile(ctx, tmp)
	if err != nil {
		return none, "", fmt.Errorf("the backup received %v; nothing was kept", err)
	}
	if err := place(tmp, path, force); err != nil {
		return none, "", err
	}
	return sum, hex.EncodeToString(h.Sum(nil)), nil
}

// isWriteErr tells an error of the file being written from one of the
// body being read.
func isWriteErr(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe)
}

// place renames tmp to path; without force it never replaces a file that
// appeared meanwhile.
func place(tmp, path string, force bool) error {
	if force {
		// A running store's own file must not be replaced: it would go on
		// writing to the old one, and lose every write at its next start.
		release, err := embedded.LockFile(path)
		if err != nil {
			return inUseErr(path, err)
		}
		defer release()
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("file %s: %v", path, unwrapPathError(err))
		}
	} else {
		err := os.Link(tmp, path)
		switch {
		case errors.Is(err, fs.ErrExist):
			return fmt.Errorf("%s appeared during the download; give --force to replace it (nothing was kept)", path)
		case err != nil:
			// A file system without hard links.
			if _, serr := os.Lstat(path); serr == nil {
				return fmt.Errorf("%s appeared during the download; give --force to replace it (nothing was kept)", path)
			}
			if err := os.Rename(tmp, path); err != nil {
				return fmt.Errorf("file %s: %v", path, unwrapPathError(err))
			}
		}
	}
	return syncParent(path)
}

// inUseErr refuses to replace path, a store file a running store holds.
func inUseErr(path string, err error) error {
	return fmt.Errorf("%s is not replaced: %w; it is the file of a running store, so write the backup elsewhere", path, err)
}

// syncParent makes a new file's directory entry durable.
func syncParent(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %v", filepath.Dir(path), unwrapPathError(err))
	}
	return nil
}

// byteProgress shows a progress bar of the bytes received on a terminal,
// and a line every few seconds otherwise.
type byteProgress struct {
	out   io.Writer
	bar   *progressbar.ProgressBar
	total int64
	n     int64
	start time.Time
	last  time.Time
}

func newByteProgress(stderr io.Writer, total int64) *byteProgress {
	p := &byteProgress{out: stderr, total: total, start: time.Now(), last: time.Now()}
	if f, ok := stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(stderr),
				progressbar.OptionSetDescription("backup"),
				progressbar.OptionShowBytes(true),
				progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionFullWidth(),
			)
		}
	}
	return p
}

func (p *byteProgress) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	if p.bar != nil {
		_ = p.bar.Add(len(b))
		return len(b), nil
	}
	if time.Since(p.last) >= 5*time.Second {
		p.last = time.Now()
		rate := float64(p.n) / max(time.Since(p.start).Seconds(), 0.001) / (1 << 20)
		fmt.Fprintf(p.out, "backup: %d of %d bytes (%.1f MiB/s)\n", p.n, p.total, rate)
	}
	return len(b), nil
}

func (p *byteProgress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.out)
	}
}

const restoreHelp = `
"cdp restore --data-dir DIR FILE" puts FILE, a backup from "cdp backup" (or
the cdp.db of a stopped store), in place as the embedded store of DIR, for
"cdp serve --data-dir DIR".

DIR must be empty or missing (it is created); --force restores into a DIR
that holds files, replacing its cdp.db and leaving every other file alone.
A cdp.db held by a running server is never replaced: stop the server first.
FILE is copied into DIR under a temporary name, synced and checked as a
sound store file of a layout this build reads (or upgrades: "cdp serve"
upgrades an older one on start), and only then renamed to cdp.db, so DIR
never holds a partial store. FILE is only read; the cdp.db of a running
server is refused (it changes while it is read): take a backup with
"cdp backup", or stop that server first. At the end it prints what the
store holds.

For Neo4j, use neo4j-admin database load (see the README).

Exit status: 0 done, 1 FILE refused, DIR not empty or in use, or the copy
failed, 2 bad usage.

Example:
  cdp restore --data-dir ./data cdp-backup.db`

func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var dataDir string
	var force bool
	fs := newFlagSet("restore", stderr, restoreHelp)
	fs.str(&dataDir, "data-dir", "CDP_DATA_DIR", "./data", "folder of the embedded store to restore into")
	fs.boolean(&force, "force", "", false, "restore into a DIR that holds files, replacing its cdp.db")
	pos, err := parseKeysFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return usagef("give the backup FILE to restore (run \"cdp restore -h\")")
	case len(pos) > 1:
		return usagef("unexpected argument %q: give one backup FILE", pos[1])
	case dataDir == "":
		return usagef("--data-dir must not be empty")
	}
	file := pos[0]
	sum, err := embedded.Restore(ctx, file, dataDir, force)
	if err != nil {
		if errors.Is(err, embedded.ErrNotEmpty) {
			return fmt.Errorf("%v; give --force to replace its store, or restore into an empty folder", err)
		}
		return err
	}
	upgrade := ""
	if sum.Layout < embedded.LayoutVersion {
		upgrade = fmt.Sprintf(" (cdp serve upgrades it to version %d on start)", embedded.LayoutVersion)
	}
	fmt.Fprintf(stdout, "restored %s into %s: %d bytes, layout version %d%s; %d identifiers, %d live profiles, %d merged away, %d events, %d API keys\n",
		file, filepath.Join(dataDir, embedded.FileName), sum.Size, sum.Layout, upgrade,
		sum.Identifiers, sum.Profiles, sum.MergedProfiles, sum.Events, sum.Keys)
	return nil
}
