package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// flagSet wraps flag.FlagSet so that every flag has an environment
// equivalent and a bad value names both.
type flagSet struct {
	*flag.FlagSet
	envErr error
	help   func()
}

func newFlagSet(name string, stderr io.Writer, help string) *flagSet {
	fs := flag.NewFlagSet("cdp "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// The flag package prints usage on every parse error; we print it only
	// for -h, and a mistake gets one line instead.
	fs.Usage = func() {}
	printHelp := func() {
		fmt.Fprintf(stderr, "Usage: cdp %s [flags]\n%s\nFlags:\n", name, help)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return &flagSet{FlagSet: fs, help: printHelp}
}

func envHelp(env, help string) string {
	if env == "" {
		return help
	}
	return help + " (env " + env + ")"
}

func (f *flagSet) str(p *string, name, env, def, help string) {
	if v, ok := os.LookupEnv(env); ok && env != "" {
		def = v
	}
	f.StringVar(p, name, def, envHelp(env, help))
}

func (f *flagSet) integer(p *int, name, env string, def int, help string) {
	if v, ok := os.LookupEnv(env); ok && env != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil && f.envErr == nil {
			f.envErr = usagef("%s=%q is not a whole number", env, v)
		}
		def = n
	}
	f.IntVar(p, name, def, envHelp(env, help))
}

func (f *flagSet) duration(p *time.Duration, name, env string, def time.Duration, help string) {
	if v, ok := os.LookupEnv(env); ok && env != "" {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil && f.envErr == nil {
			f.envErr = usagef("%s=%q is not a duration such as 5ms or 30s", env, v)
		}
		def = d
	}
	f.DurationVar(p, name, def, envHelp(env, help))
}

func (f *flagSet) float(p *float64, name, env string, def float64, help string) {
	if v, ok := os.LookupEnv(env); ok && env != "" {
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil && f.envErr == nil {
			f.envErr = usagef("%s=%q is not a number", env, v)
		}
		def = x
	}
	f.Float64Var(p, name, def, envHelp(env, help))
}

func (f *flagSet) boolean(p *bool, name, env string, def bool, help string) {
	if v, ok := os.LookupEnv(env); ok && env != "" {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil && f.envErr == nil {
			f.envErr = usagef("%s=%q is not true or false", env, v)
		}
		def = b
	}
	f.BoolVar(p, name, def, envHelp(env, help))
}

// parse parses args; a mistake becomes a usage error naming the flag.
func (f *flagSet) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		if err == flag.ErrHelp {
			f.help()
			return err
		}
		return usagef("%v (run \"%s -h\" for the flags)", err, f.Name())
	}
	return f.envErr
}
