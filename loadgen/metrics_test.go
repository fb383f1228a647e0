package loadgen

import (
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mcchaos/mcchaos/loadgen/driver"
)

// filledMetrics returns metrics with every family holding a value.
func filledMetrics(t *testing.T) (*prometheus.Registry, *Metrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	rc := newRecorder(m, memServers)
	rc.record(OpGet, "mc1", ResultOK, time.Millisecond)
	rc.record(OpSet, "mc2", ResultTimeout, 500*time.Millisecond)
	rc.violation(OpGet, "mc3")
	m.Offered.Add(3)
	m.Dropped.Inc()
	m.ScheduleLag.Observe(1e-4)
	m.Info.WithLabelValues("ours", "v0", "mixed", "open").Set(1)
	m.InitBreakers(memServers)
	m.BreakerChanged("mc2", driver.BreakerClosed, driver.BreakerOpen, time.Unix(1700000000, 123456789))
	m.Acquired("mc1", 3*time.Microsecond)
	m.Requested("mc1", "get")
	m.SetPoolSource(func() []driver.PoolStats {
		return []driver.PoolStats{{Server: "mc1", Total: 3, Active: 1, Idle: 2, Created: 4, Destroyed: 1}}
	})
	return reg, m
}

func TestMetricsLint(t *testing.T) {
	reg, m := filledMetrics(t)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	for _, c := range []prometheus.Collector{m.Operations, m.Errors, m.Duration, m.ServerDuration,
		m.Violations, m.BreakerState, m.BreakerTransitions, m.BreakerLastTransition,
		m.Offered, m.Dropped, m.ScheduleLag, m.Info, m.PoolAcquire, m.WireRequests, m.pool} {
		if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
			t.Errorf("CollectAndLint: %v %v", problems, err)
		}
	}
}

// TestMetricNames pins the names and labels of DESIGN.md's contract.
func TestMetricNames(t *testing.T) {
	reg, _ := filledMetrics(t)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	labels := make(map[string]string)
	for _, f := range families {
		var names []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			names = append(names, l.GetName())
		}
		labels[f.GetName()] = strings.Join(names, ",")
	}
	want := map[string]string{
		"memcache_client_operations_total":                                  "op,result,server",
		"memcache_client_errors_total":                                      "class,op,server",
		"memcache_client_operation_duration_seconds":                        "op",
		"memcache_client_server_duration_seconds":                           "server",
		"memcache_client_integrity_violations_total":                        "op,server",
		"memcache_client_circuit_breaker_state":                             "server",
		"memcache_client_circuit_breaker_transitions_total":                 "from,server,to",
		"memcache_client_circuit_breaker_last_transition_timestamp_seconds": "server,to",
		"memcache_client_pool_connections":                                  "server,state",
		"memcache_client_pool_connections_created_total":                    "server",
		"memcache_client_pool_connections_destroyed_total":                  "server",
		"memcache_client_pool_acquire_duration_seconds":                     "server",
		"memcache_client_wire_requests_total":                               "op,server",
		"loadgen_offered_operations_total":                                  "",
		"loadgen_dropped_operations_total":                                  "",
		"loadgen_info":                                                      "client,client_version,mode,workload",
		"go_goroutines":                                                     "",
		"process_cpu_seconds_total":                                         "",
	}
	for name, l := range want {
		got, ok := labels[name]
		if !ok {
			t.Errorf("missing %s", name)
		} else if got != l {
			t.Errorf("%s labels %q, want %q", name, got, l)
		}
	}
}

func TestBreakerTransitionExactTime(t *testing.T) {
	_, m := filledMetrics(t)
	at := time.Unix(1700000001, 250_000_000)
	m.BreakerChanged("mc2", driver.BreakerOpen, driver.BreakerHalfOpen, at)
	if got := testutil.ToFloat64(m.BreakerLastTransition.WithLabelValues("mc2", "half-open")); math.Abs(got-1700000001.25) > 1e-6 {
		t.Errorf("last transition %f, want 1700000001.25 (to the µs)", got)
	}
	if got := testutil.ToFloat64(m.BreakerState.WithLabelValues("mc2")); got != 1 {
		t.Errorf("state %g, want 1 (half-open)", got)
	}
	if got := testutil.ToFloat64(m.BreakerTransitions.WithLabelValues("mc2", "closed", "open")); got != 1 {
		t.Errorf("closed→open transitions %g, want 1", got)
	}
}

// TestRequested: every request counts under its own {op, server}, from
// many goroutines at once, and a pair seen before costs no allocation.
func TestRequested(t *testing.T) {
	_, m := filledMetrics(t) // mc1 get: 1
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				m.Requested("mc1", "get")
				m.Requested("mc2", "set")
			}
		})
	}
	wg.Wait()
	for _, c := range []struct {
		op, server string
		want       float64
	}{{"get", "mc1", 801}, {"set", "mc2", 800}, {"get", "mc2", 0}} {
		if got := testutil.ToFloat64(m.WireRequests.WithLabelValues(c.op, c.server)); got != c.want {
			t.Errorf("wire requests {op=%s,server=%s} = %g, want %g", c.op, c.server, got, c.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { m.Requested("mc1", "get") }); n != 0 {
		t.Errorf("Requested allocates %g times per call, want 0", n)
	}
}

// TestDurationBuckets checks the histogram resolution the p99.9 needs.
func TestDurationBuckets(t *testing.T) {
	b := DurationBuckets
	if b[0] > 50e-6 || b[len(b)-1] < 10 {
		t.Errorf("buckets span %g..%g, want 50µs..10s inside", b[0], b[len(b)-1])
	}
	for i := 1; i < len(b); i++ {
		if r := b[i] / b[i-1]; r > 1.21 {
			t.Errorf("bucket %g is %.2fx the previous one, want <= 1.2x", b[i], r)
		}
	}
}
