// Command cdp is the identity graph service: one binary with the
// subcommands serve, migrate, import, keys, audience, backup, restore, copy
// and bench.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `cdp: the customer identity graph service

Usage:
  cdp serve   [flags]   run the HTTP server (Segment collector, GraphQL, health, metrics)
  cdp migrate [flags]   apply the Neo4j schema (constraints and indexes) and exit
  cdp import  [flags] FILE|-   send a CSV or NDJSON file to a running server
  cdp keys    create|list|revoke [flags]   manage API keys in the store
  cdp audience export [flags] --out FILE ID   download an audience's members from a running server
  cdp backup  [flags] --out FILE   download a consistent copy of a running server's embedded store
  cdp restore [flags] --data-dir DIR FILE   put a backup in place as the embedded store of DIR
  cdp copy    [flags]   copy a whole store to another (embedded or Neo4j), or compare two with --verify-only
  cdp bench   [flags]   measure throughput, latency and quality against raw baselines
  cdp health  [flags]   ask a running server whether it is ready (container healthchecks)
  cdp version           print the version

Run "cdp COMMAND -h" for the flags of a command. Most flags can also be set
through an environment variable, named in their help.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a subcommand and returns the exit code: 0 success, 1 a
// runtime failure, 2 bad usage or configuration.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return report(stderr, "serve", runServe(ctx, args[1:], stdout, stderr))
	case "migrate":
		return report(stderr, "migrate", runMigrate(ctx, args[1:], stdout, stderr))
	case "import":
		return runImport(ctx, args[1:], stdout, stderr)
	case "keys":
		return report(stderr, "keys", runKeys(ctx, args[1:], stdout, stderr))
	case "audience":
		return report(stderr, "audience", runAudience(ctx, args[1:], stdout, stderr))
	case "backup":
		return report(stderr, "backup", runBackup(ctx, args[1:], stdout, stderr))
	case "restore":
		return report(stderr, "restore", runRestore(ctx, args[1:], stdout, stderr))
	case "copy":
		return report(stderr, "copy", runCopy(ctx, args[1:], stdout, stderr))
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "health":
		return report(stderr, "health", runHealth(ctx, args[1:], stdout, stderr))
	case "version", "--version", "-version":
		if len(args) == 2 && (args[1] == "-h" || args[1] == "--help" || args[1] == "-help") {
			// Every command helps; this one has no flags to list.
			fmt.Fprint(stdout, versionHelp)
			return 0
		}
		if len(args) > 1 {
			fmt.Fprintf(stderr, "cdp version takes no arguments, got %q\n", args[1])
			return 2
		}
		fmt.Fprintln(stdout, "cdp", version)
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "cdp: unknown command %q (commands: serve, migrate, import, keys, audience, backup, restore, copy, bench, health, version)\n", args[0])
		return 2
	}
}

const versionHelp = `Usage: cdp version

Prints the version stamped into the binary at build time (make build and
make release stamp git describe --tags --always --dirty, or VERSION), or
"dev" for a binary built without it. It takes no flags or arguments.
`

// usageError marks configuration mistakes, which exit with 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// report prints one line for an error and maps it to an exit code.
func report(stderr io.Writer, cmd string, err error) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "cdp %s: %s\n", cmd, oneLine(err.Error()))
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
