package loadgen

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/internal/stack/stacktest"
	"github.com/mcchaos/mcchaos/loadgen/driver"
)

// RateTestDurationEnv sizes the open-loop rate test; `make test` runs it
// short, the 30 s figure of the README comes from LOADGEN_RATE_TEST_DURATION=30s.
const RateTestDurationEnv = "LOADGEN_RATE_TEST_DURATION"

// realStack is a running stack with a driver factory for it.
type realStack struct {
	*stack.Stack
	tp *toxiproxy.Client
}

func startStack(t *testing.T) realStack {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the real stack; skipped with -short")
	}
	s := stacktest.Start(t, stacktest.Options{})
	return realStack{s, toxiproxy.NewClient(strings.TrimPrefix(s.ToxiproxyURL, "http://"))}
}

// open opens the named client on the proxies, its hooks feeding m.
func (s realStack) open(t *testing.T, client string, m *Metrics, st driver.Settings) driver.Driver {
	t.Helper()
	for _, sv := range s.Servers {
		st.Servers = append(st.Servers, driver.Server{Name: sv.Name, Addr: sv.ProxyAddr})
	}
	st.OnBreakerChange, st.OnAcquire, st.OnRequest = m.BreakerChanged, m.Acquired, m.Requested
	d, _, err := driver.Open(client, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if sr, ok := d.(driver.StatsReporter); ok {
		m.SetPoolSource(sr.PoolStats)
	}
	return d
}

func (s realStack) names() []string {
	var n []string
	for _, sv := range s.Servers {
		n = append(n, sv.Name)
	}
	return n
}

// reset removes every toxic and re-enables every proxy.
func (s realStack) reset(t *testing.T) {
	t.Helper()
	if err := s.tp.ResetState(); err != nil {
		t.Fatal(err)
	}
}

// opsOn sums memcache_client_operations_total for server.
func opsOn(m *Metrics, server string) float64 {
	var sum float64
	for op := range numOps {
		for res := range numResults {
			sum += testutil.ToFloat64(m.Operations.WithLabelValues(op.String(), server, res.String()))
		}
	}
	return sum
}

// wireOn sums memcache_client_wire_requests_total for server over the
// requests of the default workload.
func wireOn(m *Metrics, server string) float64 {
	var sum float64
	for _, op := range []string{"get", "set", "delete", "incr"} {
		sum += testutil.ToFloat64(m.WireRequests.WithLabelValues(op, server))
	}
	return sum
}

// errorsOn sums memcache_client_errors_total for server.
func errorsOn(t *testing.T, m *Metrics, server string) float64 {
	t.Helper()
	var sum float64
	for op := range numOps {
		for res := ResultTimeout; res < numResults; res++ {
			sum += testutil.ToFloat64(m.Errors.WithLabelValues(op.String(), server, res.String()))
		}
	}
	return sum
}

// TestRealStack runs the real client (and gomemcache) against memcached
// through toxiproxy: integrity under every fault kind, the open-loop rate,
// and load kept up while a server blackholes.
func TestRealStack(t *testing.T) {
	s := startStack(t)

	// Every fault kind on mc1 while the mixed workload runs: no read may
	// return a value not written for its key. wantErrors says whether the
	// fault must show as errors on mc1 (proof that it was in the path).
	faults := []struct {
		name       string
		apply      func(p *toxiproxy.Proxy) error
		wantErrors bool
	}{
		{"latency", func(p *toxiproxy.Proxy) error {
			_, err := p.AddToxic("", "latency", "downstream", 1, toxiproxy.Attributes{"latency": 200, "jitter": 100})
			return err
		}, false},
		{"slicer", func(p *toxiproxy.Proxy) error {
			_, err := p.AddToxic("", "slicer", "downstream", 1, toxiproxy.Attributes{"average_size": 7, "size_variation": 5, "delay": 50})
			return err
		}, false},
		{"reset_peer", func(p *toxiproxy.Proxy) error {
			_, err := p.AddToxic("", "reset_peer", "downstream", 1, toxiproxy.Attributes{"timeout": 100})
			return err
		}, true},
		{"limit_data", func(p *toxiproxy.Proxy) error {
			// Cuts each connection after 3000 bytes: mid-value truncation.
			_, err := p.AddToxic("", "limit_data", "downstream", 1, toxiproxy.Attributes{"bytes": 3000})
			return err
		}, true},
		{"timeout", func(p *toxiproxy.Proxy) error {
			_, err := p.AddToxic("", "timeout", "downstream", 1, toxiproxy.Attributes{"timeout": 0})
			return err
		}, true},
		{"down", func(p *toxiproxy.Proxy) error { return p.Disable() }, true},
	}
	const keys = 500
	for _, client := range []string{"ours", "gomemcache"} {
		for _, f := range faults {
			t.Run(client+"/"+f.name, func(t *testing.T) {
				defer s.reset(t)
				m := NewMetrics(prometheus.NewRegistry())
				d := s.open(t, client, m, driver.Settings{Timeout: 300 * time.Millisecond})
				p, err := s.tp.Proxy("mc1")
				if err != nil {
					t.Fatal(err)
				}
				if err := f.apply(p); err != nil {
					t.Fatal(err)
				}
				var log syncBuffer
				sum, err := Run(context.Background(), Config{
					Driver: d, Servers: s.names(), Metrics: m, Log: &log,
					Keys:        Keyspace{Size: keys},
					Sizes:       UniformSize{100, 2000},
					Concurrency: 20, Duration: 1500 * time.Millisecond,
				})
				if err != nil {
					t.Fatal(err)
				}
				if sum.Violations != 0 || sumVec(t, m.Violations) != 0 {
					t.Errorf("%d integrity violations under %s; log:\n%s", sum.Violations, f.name, log.String())
				}
				if e := errorsOn(t, m, "mc1"); f.wantErrors && e == 0 {
					t.Errorf("no error on mc1 under %s: was the fault in the path?", f.name)
				}
				if ok := testutil.ToFloat64(m.Operations.WithLabelValues("get", "mc2", "ok")); ok == 0 {
					t.Errorf("no successful get on healthy mc2 under %s", f.name)
				}
				// Every operation on healthy mc2 that did not fail was
				// written once, besides the preload's sets (not
				// operations), at most one per data key and counter (ours
				// counts; gomemcache cannot).
				w, o, e := wireOn(m, "mc2"), opsOn(m, "mc2"), errorsOn(t, m, "mc2")
				switch {
				case client == "gomemcache" && w != 0:
					t.Errorf("gomemcache: %g wire requests counted, want none (it has no hook)", w)
				case client == "ours" && (w < o-e || w > o+2*keys):
					t.Errorf("ours on mc2: %g wire requests for %g operations with %g errors, want between %g and %g", w, o, e, o-e, o+2*keys)
				}
				t.Logf("%s: %+v, mc1 errors %g, mc1 wire requests %g for %g operations", f.name, sum, errorsOn(t, m, "mc1"), wireOn(m, "mc1"), opsOn(m, "mc1"))
			})
		}
	}

	t.Run("open-loop rate", func(t *testing.T) {
		dur := 5 * time.Second
		if v := os.Getenv(RateTestDurationEnv); v != "" {
			var err error
			if dur, err = time.ParseDuration(v); err != nil {
				t.Fatalf("%s: %v", RateTestDurationEnv, err)
			}
		}
		// The in-flight cap covers rate × the client's timeout, as the
		// profiles should: a stall of this process or of the servers
		// (on a shared 2-core machine) must not turn into drops. A stall
		// longer than the timeout (make test runs cmd/bench's real stacks
		// beside this package) does, once in a while: as the standard
		// library's timing tests do, a failed attempt is tried once more,
		// and only two failures in a row fail the test.
		const rate, capacity = 2000, 1000
		var problems []string
		for attempt := 1; attempt <= 2; attempt++ {
			if problems = openLoopAttempt(t, s, rate, capacity, dur); len(problems) == 0 {
				return
			}
			t.Logf("attempt %d: %s", attempt, strings.Join(problems, "; "))
		}
		t.Error(strings.Join(problems, "; "))
	})

	// A blackholed server (toxiproxy timeout toxic: data swallowed, nothing
	// closed) ties up workers until the client's timeout; the generator
	// must keep offering at its rate, drop (and count) what is over the
	// cap, and keep serving the healthy servers.
	for _, breaker := range []bool{true, false} {
		name := map[bool]string{true: "blackhole/breaker", false: "blackhole/no-breaker"}[breaker]
		t.Run(name, func(t *testing.T) {
			defer s.reset(t)
			const rate, capacity = 1000, 50
			m := NewMetrics(prometheus.NewRegistry())
			d := s.open(t, "ours", m, driver.Settings{DisableBreaker: !breaker})
			p, err := s.tp.Proxy("mc1")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.AddToxic("", "timeout", "downstream", 1, toxiproxy.Attributes{"timeout": 0}); err != nil {
				t.Fatal(err)
			}
			sum, err := Run(context.Background(), Config{
				Driver: d, Servers: s.names(), Metrics: m, NoPreload: true,
				Rate: rate, Concurrency: capacity, Duration: 3 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			want := rate * sum.Elapsed.Seconds()
			offered, dropped := testutil.ToFloat64(m.Offered), testutil.ToFloat64(m.Dropped)
			t.Logf("offered %g of %g, dropped %g, %+v", offered, want, dropped, sum)
			if offered < 0.99*want || offered > 1.01*want {
				t.Errorf("offered %g, want %g within 1%%", offered, want)
			}
			if !breaker && dropped == 0 {
				t.Errorf("no drop while 1/3 of %d ops/s wait 500ms with %d in flight", rate, capacity)
			}
			// Without a breaker, mc1's stuck operations fill the cap and
			// crowd out the healthy servers (head-of-line): only some pass.
			minServed := map[bool]float64{true: 0.1 * want, false: 1}[breaker]
			if ok := testutil.ToFloat64(m.Operations.WithLabelValues("get", "mc2", "ok")) +
				testutil.ToFloat64(m.Operations.WithLabelValues("get", "mc2", "miss")); ok < minServed {
				t.Errorf("healthy mc2 served %g gets, want at least %g", ok, minServed)
			}
			if breaker {
				if st := testutil.ToFloat64(m.BreakerState.WithLabelValues("mc1")); st != float64(driver.BreakerOpen) {
					t.Errorf("mc1 breaker state %g, want open (2)", st)
				}
				if ts := testutil.ToFloat64(m.BreakerLastTransition.WithLabelValues("mc1", "open")); ts == 0 {
					t.Error("no timestamp for mc1's transition to open")
				}
				if n := testutil.ToFloat64(m.Errors.WithLabelValues("get", "mc1", "circuit_open")); n == 0 {
					t.Error("no circuit_open error on mc1")
				}
			}
		})
	}
}

// openLoopAttempt runs the open-loop generator at rate against s's healthy
// servers for dur and returns what fell short: offered within 1 % of
// rate × elapsed, at least 99 % of it started and completed, at most 0.1 %
// errors and no violation.
func openLoopAttempt(t *testing.T, s realStack, rate, capacity int, dur time.Duration) []string {
	t.Helper()
	m := NewMetrics(prometheus.NewRegistry())
	d := s.open(t, "ours", m, driver.Settings{})
	sum, err := Run(context.Background(), Config{
		Driver: d, Servers: s.names(), Metrics: m, Rate: float64(rate), Concurrency: capacity, Duration: dur,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := float64(rate) * sum.Elapsed.Seconds()
	offered, dropped := testutil.ToFloat64(m.Offered), testutil.ToFloat64(m.Dropped)
	done := sumVec(t, m.Operations)
	t.Logf("%s at %d/s: offered %g (%.3f%% of %g), dropped %g, completed %g (%.1f ops/s), errors %d",
		sum.Elapsed.Round(time.Millisecond), rate, offered, 100*offered/want, want, dropped, done, done/sum.Elapsed.Seconds(), sum.Errors)
	var problems []string
	if offered < 0.99*want || offered > 1.01*want {
		problems = append(problems, fmt.Sprintf("offered %g, want %g within 1%%", offered, want))
	}
	if started := offered - dropped; started < 0.99*want {
		problems = append(problems, fmt.Sprintf("started %g (dropped %g), want at least 99%% of %g", started, dropped, want))
	}
	if done < 0.99*want {
		problems = append(problems, fmt.Sprintf("completed %g, want at least 99%% of %g", done, want))
	}
	if float64(sum.Errors) > 0.001*done || sum.Violations != 0 {
		problems = append(problems, fmt.Sprintf("healthy servers: %d errors (want <= 0.1%%), %d violations", sum.Errors, sum.Violations))
	}
	return problems
}
