// Package stacktest starts the real local stack for tests, on free loopback
// ports, and stops it when the test ends.
package stacktest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/mcchaos/mcchaos/internal/stack"
)

// Options says what a test needs.
type Options struct {
	// Servers is the number of memcached servers. If zero, 3.
	Servers int
	// Prometheus also starts Prometheus, scraping ScrapeTargets every second.
	Prometheus    bool
	ScrapeTargets map[string]string
}

// RequireEnv names the variable that turns a missing binary from a skip
// into a failure; `make test` sets it, so CI never skips silently.
const RequireEnv = "MCCHAOS_REQUIRE_STACK"

// Start starts a stack for t. A missing binary skips the test, naming it,
// unless RequireEnv is 1, when it fails the test.
func Start(t testing.TB, opt Options) *stack.Stack {
	t.Helper()
	n := opt.Servers
	if n == 0 {
		n = stack.DefaultServers
	}
	ports, err := stack.FreePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	s, err := stack.Start(context.Background(), stack.Config{
		Dir:           t.TempDir(),
		Servers:       n,
		Ports:         ports,
		ScrapeTargets: opt.ScrapeTargets,
		Services:      services(opt.Prometheus),
	})
	var missing *stack.MissingBinaryError
	if errors.As(err, &missing) && os.Getenv(RequireEnv) != "1" {
		t.Skipf("needs the real stack: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// RequireNetfilterEnv names the variable that turns an unusable nftables
// into a test failure. It is not implied by RequireEnv: a container without
// CAP_NET_ADMIN cannot make per-packet loss whatever is installed, and
// scenariod then falls back to toxiproxy's emulation.
const RequireNetfilterEnv = "MCCHAOS_REQUIRE_NETFILTER"

// NeedNetfilter skips t, naming the reason, when unusable (the error of a
// netfilter availability probe) is not nil; under RequireNetfilterEnv=1 it
// fails t instead.
func NeedNetfilter(t testing.TB, unusable error) {
	t.Helper()
	if unusable == nil {
		return
	}
	if os.Getenv(RequireNetfilterEnv) == "1" {
		t.Fatalf("per-packet loss needs nftables with CAP_NET_ADMIN: %v", unusable)
	}
	t.Skipf("per-packet loss needs nftables with CAP_NET_ADMIN: %v", unusable)
}

// NeedBinary returns the path of a binary of the real stack (memcached,
// prometheus, promtool). A missing one skips t, naming it, unless
// RequireEnv is 1 (make test, CI), when it fails t.
func NeedBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s not installed: run make deps (%v)", name, err)
	}
	t.Skipf("needs %s: run make deps (%v)", name, err)
	return ""
}

// services returns the stack's services with or without Prometheus.
func services(prometheus bool) stack.Service {
	if prometheus {
		return stack.All
	}
	return stack.Memcached | stack.Toxiproxy
}
