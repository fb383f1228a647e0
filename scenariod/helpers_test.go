package scenariod

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/internal/plan"
	"github.com/mcchaos/mcchaos/internal/profile"
	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/internal/stack/stacktest"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

// tinyProfile has short phases so a scenario runs in well under a second.
var tinyProfile = profile.Profile{Name: "test", Stabilization: 100 * time.Millisecond, Recovery: 100 * time.Millisecond}

var tableSeq atomic.Int32

// testTable returns an nftables table name unique to this process and call.
func testTable() string {
	return fmt.Sprintf("mcchaos_test_%d_%d", os.Getpid(), tableSeq.Add(1))
}

// startStack starts the real local stack (memcached ×3, toxiproxy).
func startStack(t *testing.T) *stack.Stack {
	t.Helper()
	return stacktest.Start(t, stacktest.Options{})
}

// needNetfilter skips (or fails, see stacktest.NeedNetfilter) the test
// when nftables cannot be used here.
func needNetfilter(t *testing.T, table string) {
	t.Helper()
	stacktest.NeedNetfilter(t, (&inject.Netfilter{Table: table}).Available(context.Background()))
}

func server(s *stack.Stack, name string) stack.Server {
	i := slices.IndexFunc(s.Servers, func(x stack.Server) bool { return x.Name == name })
	return s.Servers[i]
}

// testRunner returns a Runner on s for the scenarios, with a temporary manifest.
func testRunner(t *testing.T, s *stack.Stack, table string, onEvent func(Event), scenarios ...Scenario) *Runner {
	t.Helper()
	r, err := NewRunner(Config{
		Plan:         plan.Plan{Version: plan.Version, Profile: tinyProfile, Scenarios: scenarios},
		Toxiproxy:    inject.Toxiproxy{URL: s.ToxiproxyURL},
		NFTable:      table,
		StackDir:     s.Dir,
		ManifestPath: t.TempDir() + "/manifest.json",
		OnEvent:      onEvent,
		Log:          testLog{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// assertClean fails t unless toxiproxy has every proxy enabled with no
// toxics and the nftables table is gone.
func assertClean(t *testing.T, s *stack.Stack, table string) {
	t.Helper()
	tp := inject.Toxiproxy{URL: s.ToxiproxyURL}
	ps, err := tp.Proxies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, srv := range s.Servers {
		p, ok := ps[srv.Name]
		if !ok || !p.Enabled || len(p.Toxics) > 0 {
			t.Errorf("proxy %s not clean: %+v", srv.Name, p)
		}
	}
	nf := &inject.Netfilter{Table: table}
	if ok, err := nf.Exists(context.Background()); err != nil || ok {
		t.Errorf("nftables table %s still there (err %v)", table, err)
	}
}

// dial connects to addr.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	// 10 s: under per-packet loss a SYN or SYN-ACK is resent after 1 s,
	// then 2 s, then 4 s more; 3 s failed the loss tests on two losses in
	// a row (about 1 in 50 dials at 10 %).
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ask sends a memcached command on c and returns the time to the first
// line of the answer, or the error (deadline after timeout).
func ask(c net.Conn, cmd string, timeout time.Duration) (time.Duration, string, error) {
	start := time.Now()
	c.SetDeadline(start.Add(timeout))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return 0, "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return time.Since(start), strings.TrimSpace(line), err
}

// version returns the duration of one "version" on a new connection to addr.
func version(t *testing.T, addr string, timeout time.Duration) (time.Duration, error) {
	t.Helper()
	c := dial(t, addr)
	d, line, err := ask(c, "version", timeout)
	if err == nil && !strings.HasPrefix(line, "VERSION") {
		err = fmt.Errorf("answer %q", line)
	}
	return d, err
}

// median of version round trips on one connection.
func medianRTT(t *testing.T, addr string, n int) time.Duration {
	t.Helper()
	c := dial(t, addr)
	var ds []time.Duration
	for range n {
		d, _, err := ask(c, "version", 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// runWith runs one scenario on s, calling during (fault on, after every
// fault is applied) and after (at the start of recovery, faults removed).
func runWith(t *testing.T, s *stack.Stack, table string, sc Scenario, during, after func()) *manifest.Manifest {
	t.Helper()
	var sawDuring, sawAfter bool
	r := testRunner(t, s, table, func(e Event) {
		switch {
		case e.Kind == EventFaultApplied:
			sawDuring = true
			during()
		case e.Kind == EventPhaseStart && e.Phase == manifest.PhaseRecovery:
			sawAfter = true
			after()
		}
	}, sc)
	m, err := r.Run(context.Background())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !sawDuring || !sawAfter {
		t.Fatalf("hooks not called: during %v after %v", sawDuring, sawAfter)
	}
	if m.Scenarios[0].Status != manifest.StatusPassed {
		t.Fatalf("status %s: %s", m.Scenarios[0].Status, m.Scenarios[0].Error)
	}
	assertClean(t, s, table)
	return m
}

// scenario builds a one-fault scenario with a short fixed fault time.
// params are the fault's parameters by key, as a scenario file gives them.
func scenario(kind fault.Kind, params map[string]float64, targets ...string) Scenario {
	p, err := fault.FromMap(kind, params)
	if err != nil {
		panic(err)
	}
	return Scenario{
		Name: "test-" + string(kind), Description: "test",
		Faults:    []fault.Fault{fault.On(p, targets...)},
		FaultTime: profile.Duration(100 * time.Millisecond), Fixed: true,
	}
}
