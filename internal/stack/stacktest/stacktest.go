// Package stacktest starts the real local stack for tests, on free loopback
// ports, and stops it when the test ends.
package stacktest

import (
	"context"
	"errors"
	"os"
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
		NoPrometheus:  !opt.Prometheus,
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
