package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A tracing configuration cdp cannot use (OTEL_* variables) is bad usage
// (exit 2, naming the variable), told before the port is bound: a port in
// use does not hide it behind a runtime error (exit 1).
func TestServeRefusesBadTracingBeforeBinding(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "serve", "--addr", busy.Addr().String(), "--data-dir", t.TempDir())
	cmd.Env = cleanEnv("OTEL_TRACES_EXPORTER=zipkin")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatal("cdp serve did not exit")
	}
	var ee *exec.ExitError
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	last := lines[len(lines)-1]
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(last, "OTEL_TRACES_EXPORTER") {
		t.Fatalf("exit %v, last line %q; want exit 2 naming OTEL_TRACES_EXPORTER", err, last)
	}
}
