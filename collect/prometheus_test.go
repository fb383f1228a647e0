package collect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"

	"github.com/mcchaos/mcchaos/collect/grafana"
	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/internal/stack/stacktest"
)

// plan is the timeline the fake exporter follows: one fault on mc1 during
// [faultStart, faultEnd), normal load otherwise.
type plan struct {
	t0                   time.Time
	faultStart, faultEnd time.Time
	breakerOpenAt        time.Time // the breaker of mc1 opens here...
	breakerCloseAt       time.Time // ...and closes here
	violationAt          time.Time // a lazily created integrity counter is born at 1 here
}

// Known rates, per server, outside the fault: get ok 60/s, get miss 20/s,
// set ok 40/s → 360 ok+miss ops/s over 3 servers. During the fault, mc1's
// operations all fail with timeouts: get 20/s, set 10/s; each get is
// written twice (a retry). From the fault on, the client holds
// leakedGoroutines more goroutines and mc1 one more connection.
const (
	rateGetOK, rateGetMiss, rateSetOK = 60.0, 20.0, 40.0
	rateFaultGet, rateFaultSet        = 20.0, 10.0
	baseGoroutines, leakedGoroutines  = 50.0, 10.0
)

// exporter serves DESIGN.md's loadgen metric names with counters that are
// exact integrals of the plan's piecewise-constant rates at scrape time.
type exporter struct {
	mu sync.Mutex
	p  plan
}

func (e *exporter) set(p plan) {
	e.mu.Lock()
	e.p = p
	e.mu.Unlock()
}

// Describe lists every descriptor, also of the series created lazily (a
// pedantic registry refuses undescribed ones).
func (e *exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dOps, dErrs, dDur, dSrvDur, dInteg, dState, dTrans, dLast, dCreated, dInfo, dWire, dConns, dGoroutines} {
		ch <- d
	}
}

// integral returns ∫ rate over [t0, now]: normal outside [a, b), during
// inside. Each piece is computed from fixed instants so that a flat counter
// stays bit-for-bit flat (a decrease of 1e-12 would read as a reset).
func integral(t0, now, a, b time.Time, normal, during float64) float64 {
	if now.Before(t0) {
		return 0
	}
	a, b = maxT(a, t0), maxT(b, t0)
	switch {
	case now.Before(a):
		return normal * now.Sub(t0).Seconds()
	case now.Before(b):
		return normal*a.Sub(t0).Seconds() + during*now.Sub(a).Seconds()
	}
	return normal*a.Sub(t0).Seconds() + during*b.Sub(a).Seconds() + normal*now.Sub(b).Seconds()
}

func maxT(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

var (
	dOps     = prometheus.NewDesc(mOps, "ops", []string{"op", "server", "result"}, nil)
	dErrs    = prometheus.NewDesc(mErrors, "errors", []string{"op", "server", "class"}, nil)
	dDur     = prometheus.NewDesc("memcache_client_operation_duration_seconds", "duration", []string{"op"}, nil)
	dSrvDur  = prometheus.NewDesc("memcache_client_server_duration_seconds", "duration", []string{"server"}, nil)
	dInteg   = prometheus.NewDesc(mIntegrity, "integrity", []string{"op", "server"}, nil)
	dState   = prometheus.NewDesc(mBreakerState, "state", []string{"server"}, nil)
	dTrans   = prometheus.NewDesc(mTransitions, "transitions", []string{"server", "from", "to"}, nil)
	dLast    = prometheus.NewDesc(mLastTransit, "last", []string{"server", "to"}, nil)
	dCreated = prometheus.NewDesc(mConnCreated, "created", []string{"server"}, nil)
	dInfo    = prometheus.NewDesc(mInfo, "info", []string{"client", "client_version", "workload", "mode"}, nil)
	dWire    = prometheus.NewDesc(mWire, "wire", []string{"op", "server"}, nil)
	dConns   = prometheus.NewDesc("memcache_client_pool_connections", "conns", []string{"server", "state"}, nil)
	// dGoroutines is the Go collector's gauge.
	dGoroutines = prometheus.NewDesc("go_goroutines", "goroutines", nil, nil)
)

// Collect computes every value at one instant and stamps the samples with
// it, so that a scrape delayed by a busy machine still gives exact rates.
func (e *exporter) Collect(out chan<- prometheus.Metric) {
	now := time.Now()
	e.mu.Lock()
	p := e.p
	e.mu.Unlock()
	ch := make(chan prometheus.Metric, 256)
	defer func() {
		close(ch)
		for m := range ch {
			out <- prometheus.NewMetricWithTimestamp(now, m)
		}
	}()
	counter := func(d *prometheus.Desc, normal, during float64, faulted bool, lv ...string) float64 {
		v := integral(p.t0, now, p.faultStart, p.faultEnd, normal, normal)
		if faulted {
			v = integral(p.t0, now, p.faultStart, p.faultEnd, normal, during)
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, lv...)
		return v
	}
	var fastOps, slowOps float64
	srvHist := map[string][2]float64{}
	for _, srv := range []string{"mc1", "mc2", "mc3"} {
		f := srv == "mc1"
		a := counter(dOps, rateGetOK, 0, f, "get", srv, "ok")
		b := counter(dOps, rateGetMiss, 0, f, "get", srv, "miss")
		c := counter(dOps, rateSetOK, 0, f, "set", srv, "ok")
		g := counter(dOps, 0, rateFaultGet, f, "get", srv, "timeout")
		s := counter(dOps, 0, rateFaultSet, f, "set", srv, "timeout")
		counter(dErrs, 0, rateFaultGet, f, "get", srv, "timeout")
		counter(dErrs, 0, rateFaultSet, f, "set", srv, "timeout")
		counter(dCreated, 1, 5, f, srv)
		counter(dWire, rateGetOK+rateGetMiss, 2*rateFaultGet, f, "get", srv)
		counter(dWire, rateSetOK, rateFaultSet, f, "set", srv)
		conns := 2.0
		if f && !now.Before(p.faultStart) {
			conns++
		}
		ch <- prometheus.MustNewConstMetric(dConns, prometheus.GaugeValue, conns, srv, "total")
		ch <- prometheus.MustNewConstMetric(dInteg, prometheus.CounterValue, 0, "get", srv)
		fastOps += a + b + c
		slowOps += g + s
		srvHist[srv] = [2]float64{a + b + c, g + s}
		state, opens := 0.0, 0.0
		if f && !now.Before(p.breakerOpenAt) {
			opens = 1
			ch <- prometheus.MustNewConstMetric(dLast, prometheus.GaugeValue, float64(p.breakerOpenAt.UnixNano())/1e9, srv, "open")
			if now.Before(p.breakerCloseAt) {
				state = 2
			}
		}
		ch <- prometheus.MustNewConstMetric(dState, prometheus.GaugeValue, state, srv)
		if opens > 0 { // created lazily, at its first increment, as loadgen does
			ch <- prometheus.MustNewConstMetric(dTrans, prometheus.CounterValue, opens, srv, "closed", "open")
		}
	}
	// Fast operations take ≤ 1 ms, timeouts 0.1–0.5 s.
	hist := func(d *prometheus.Desc, fast, slow float64, lv ...string) {
		ch <- prometheus.MustNewConstHistogram(d, uint64(math.Round(fast+slow)), fast*0.0005+slow*0.3,
			map[float64]uint64{0.001: uint64(fast), 0.005: uint64(fast), 0.1: uint64(fast), 0.5: uint64(fast + slow)}, lv...)
	}
	if !p.violationAt.IsZero() && !now.Before(p.violationAt) {
		ch <- prometheus.MustNewConstMetric(dInteg, prometheus.CounterValue, 1, "set", "mc3")
	}
	g := baseGoroutines
	if !now.Before(p.faultStart) {
		g += leakedGoroutines
	}
	ch <- prometheus.MustNewConstMetric(dGoroutines, prometheus.GaugeValue, g)
	hist(dDur, fastOps, slowOps, "all")
	for srv, h := range srvHist {
		hist(dSrvDur, h[0], h[1], srv)
	}
	ch <- prometheus.MustNewConstMetric(dInfo, prometheus.GaugeValue, 1, "mcchaos", "v0-test", "mixed", "closed")
}

// TestCollectRealPrometheus scrapes a fake exporter with known rates through
// a real Prometheus every second and checks the collected figures, for a
// normal scenario and for one whose testing phase lasts 100 ms.
func TestCollectRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 30 s against a real Prometheus")
	}
	start := time.Now().Add(time.Hour) // set below, once Prometheus scrapes
	exp := &exporter{p: plan{t0: start, faultStart: start, faultEnd: start, breakerOpenAt: start}}
	reg := prometheus.NewPedanticRegistry()
	// Four arms, two per side, each labelled as Prometheus target labels
	// would label it; every arm follows the same plan.
	for _, a := range []prometheus.Labels{{"side": "head", "arm": "1"}, {"side": "head", "arm": "2"}, {"side": "base", "arm": "1"}, {"side": "base", "arm": "2"}} {
		prometheus.WrapRegistererWith(a, reg).MustRegister(exp)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	st := stacktest.Start(t, stacktest.Options{Prometheus: true, ScrapeTargets: map[string]string{"loadgen": strings.TrimPrefix(srv.URL, "http://")}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := st.WaitScraped(ctx, "loadgen"); err != nil {
		t.Fatal(err)
	}

	// Scenario A: 6 s phases, fault on mc1 for 6 s, breaker open 0.5 s after
	// the fault and closed 1 s after it ends. Scenario B: 5 s stabilization,
	// a 100 ms fault, 6 s recovery (no breaker).
	t0 := time.Now().Truncate(time.Second).Add(2 * time.Second)
	a := [4]time.Time{t0, t0.Add(6 * time.Second), t0.Add(12 * time.Second), t0.Add(18 * time.Second)}
	bs := a[3].Add(time.Second)
	b := [4]time.Time{bs, bs.Add(5 * time.Second), bs.Add(5*time.Second + 100*time.Millisecond), bs.Add(11*time.Second + 100*time.Millisecond)}
	// The exporter's counters start at t0; its one fault window is A's. B's
	// short fault is not visible in the counters, which is fine: the test
	// checks that its 100 ms phase still gives figures over 5 s.
	exp.set(plan{t0: t0.Add(-10 * time.Second), faultStart: a[1], faultEnd: a[2],
		breakerOpenAt: a[1].Add(500 * time.Millisecond), breakerCloseAt: a[2].Add(time.Second), violationAt: b[1].Add(time.Second)})

	m := &manifest.Manifest{SchemaVersion: manifest.SchemaVersion, RunID: "real-prom", Profile: "smoke", Stack: "local", Start: t0, End: b[3], Status: manifest.StatusPassed,
		Sides:     []manifest.Side{{Name: "head", Arms: 2}, {Name: "base", Arms: 2}},
		Scenarios: []manifest.Scenario{scenario("packet-loss-100-pct", a), scenario("latency-200ms-100ms", b)}}
	c, err := api.NewClient(api.Config{Address: st.PrometheusURL})
	if err != nil {
		t.Fatal(err)
	}
	waitScrapedPast(t, ctx, v1.NewAPI(c), b[3].Add(2*time.Second))
	run, err := Collect(ctx, v1.NewAPI(c), m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if run.Client != "mcchaos" || run.ClientVersion != "v0-test" {
		t.Errorf("client = %q %q, want mcchaos v0-test from loadgen_info", run.Client, run.ClientVersion)
	}
	sa := &run.Scenarios[0]
	normal := 3 * (rateGetOK + rateGetMiss + rateSetOK)
	faultOK := 2 * (rateGetOK + rateGetMiss + rateSetOK)
	faultErr := rateFaultGet + rateFaultSet
	checks := []struct {
		phase, key string
		want, tol  float64 // absolute tolerance
	}{
		{"stabilization", "throughput", normal, normal * 0.03},
		{"testing", "throughput", faultOK, normal * 0.1}, // window edges blur by up to a scrape
		{"recovery", "throughput", normal, normal * 0.1},
		{"stabilization", "error_ratio", 0, 1e-9},
		{"testing", "error_ratio", faultErr / (faultOK + faultErr), 0.02},
		{"testing", "error_ratio{class=timeout}", faultErr / (faultOK + faultErr), 0.02},
		{"testing", "error_ratio{class=circuit_open}", 0, 0},
		{"testing", "server_error_ratio{server=mc1}", 1, 0.05},
		{"testing", "server_error_ratio{server=mc2}", 0, 1e-9},
		{"stabilization", "integrity_violations", 0, 0},
		{"testing", "breaker_open{server=mc1}", 5.5, 1.5}, // 1 s resolution: 5 or 6 of the 7 subquery points
		{"stabilization", "connections_created", 18, 2},
		{"testing", "breaker_transitions", 1, 0}, // a series born at its first transition still counts
		{"recovery", "breaker_transitions", 0, 0},
		{"stabilization", "wire_requests_per_op", 1, 1e-9},
		{"testing", "wire_requests_per_op", (faultOK + 2*rateFaultGet + rateFaultSet) / (faultOK + faultErr), 0.02},
		{"testing", "server_wire_requests_per_op{server=mc1}", (2*rateFaultGet + rateFaultSet) / faultErr, 0.05},
		{"testing", "server_wire_requests_per_op{server=mc2}", 1, 1e-9},
	}
	for _, c := range checks {
		got := metric(t, sa, c.phase, c.key)
		for side, v := range armValues(got) {
			if !near(v, c.want, c.tol) {
				t.Errorf("%s %s %s = %g, want %g ± %g", c.phase, c.key, side, v, c.want, c.tol)
			}
		}
	}
	for side, p := range armValues(metric(t, sa, "stabilization", "latency_p99{op=all}")) {
		if !(p <= 0.001) { // NaN (a missing arm) fails too
			t.Errorf("stabilization p99 %s = %g, want ≤ 1 ms", side, p)
		}
	}
	for side, p := range armValues(metric(t, sa, "testing", "latency_p99{op=all}")) {
		if !(p >= 0.1 && p <= 0.5) {
			t.Errorf("testing p99 %s = %g, want in the timeout bucket (0.1, 0.5]", side, p)
		}
	}
	fig := func(sc *results.Scenario, name string) map[string]float64 {
		f, ok := sc.Figure(name)
		if !ok {
			t.Fatalf("%s: no figure %s", sc.Name, name)
		}
		return armValues(*f)
	}
	for side, d := range fig(sa, FigTimeToDetect) {
		if !near(d, 0.5, 0.01) {
			t.Errorf("time to detect %s = %g, want 0.5 s from the exact transition timestamp", side, d)
		}
	}
	for side, r := range fig(sa, FigTimeToRecover) {
		if !(r <= 2) {
			t.Errorf("time to recover %s = %g, want ≤ 2 s", side, r)
		}
	}
	for side, e := range fig(sa, FigErrorsDuringFault) {
		if !near(e, 6*faultErr, faultErr*1.5) {
			t.Errorf("errors during fault %s = %g, want ≈ %g", side, e, 6*faultErr)
		}
	}
	for side, br := range fig(sa, FigBlastErrorRatio) {
		if !(br == 0) {
			t.Errorf("blast radius error ratio %s = %g, want 0 (mc2, mc3 untouched)", side, br)
		}
	}

	// What the client did to the network: mc1 dials 5/s and the others
	// 1/s while the fault is on (the count may take in a scrape interval
	// before it); the leaked goroutines and connection stay; the healthy
	// servers get their own operations only; mc1's gets are written twice.
	for _, c := range []struct {
		name      string
		want, tol float64
	}{
		{FigDialRate, 7, 1.2}, // + 3 connections per scrape interval taken in before the 6 s fault: 0.5/s each, two on a busy machine
		{FigGoroutineGrowth, leakedGoroutines, 0},
		{FigConnGrowth, 1, 0},
		{FigSpillShare, faultOK / (faultOK + faultErr), 0.02},
		{FigAmplification, (2*rateFaultGet + rateFaultSet) / faultErr, 0.05}, // no circuit_open results
	} {
		for side, v := range fig(sa, c.name) {
			if !near(v, c.want, c.tol) {
				t.Errorf("%s %s = %g, want %g ± %g", c.name, side, v, c.want, c.tol)
			}
		}
	}

	sb := &run.Scenarios[1]
	if tp, _ := sb.Phase("testing"); len(tp.Metrics) != 0 {
		t.Errorf("100 ms testing phase has %d figures, want none (its event is measured instead)", len(tp.Metrics))
	}
	if sb.Event == nil || len(sb.Event.Metrics) != 2 {
		t.Fatalf("100 ms fault: event %+v", sb.Event)
	}
	// The integrity counter born at 1 during B's recovery counts:
	// increase() would have said 0.
	for side, v := range armValues(metric(t, sb, "recovery", "integrity_violations")) {
		if v != 1 {
			t.Errorf("B recovery integrity violations %s = %g, want 1 from a counter born at 1", side, v)
		}
	}
	for side, v := range armValues(metric(t, sa, "recovery", "integrity_violations")) {
		if v != 0 {
			t.Errorf("A recovery integrity violations %s = %g, want 0", side, v)
		}
	}
	for side, vs := range run.IntegrityViolations {
		for _, v := range vs {
			if v != 1 {
				t.Errorf("run integrity violations %s = %v, want 1 per arm", side, vs)
			}
		}
	}
	for side, v := range fig(sb, FigIntegrity) {
		if v != 1 {
			t.Errorf("B integrity figure %s = %g, want 1", side, v)
		}
	}

	// The Grafana snapshot's queries (the real dashboard's PromQL, variables
	// expanded) run on the real Prometheus and embed data.
	dash, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "dashboards", "memcache-client-perf.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dm map[string]any
	if err := json.Unmarshal(dash, &dm); err != nil {
		t.Fatal(err)
	}
	snap, err := grafana.Build(ctx, v1.NewAPI(c), dm, "test", a[0], a[3])
	if err != nil {
		t.Fatalf("snapshot queries on a real Prometheus: %v", err)
	}
	withData := 0
	for _, p := range snap.Dashboard.(map[string]any)["panels"].([]any) {
		if sd, ok := p.(map[string]any)["snapshotData"].([]any); ok && len(sd) > 0 {
			withData++
		}
	}
	if withData < 8 {
		t.Errorf("%d dashboard panels got data from the real Prometheus, want most of them", withData)
	}

	// A phase outside the data has no samples: a clear error.
	empty := *m
	empty.Scenarios = []manifest.Scenario{scenario("packet-loss-2-pct", [4]time.Time{t0.Add(-time.Hour), t0.Add(-time.Hour + 6*time.Second), t0.Add(-time.Hour + 12*time.Second), t0.Add(-time.Hour + 18*time.Second)})}
	if _, err := Collect(ctx, v1.NewAPI(c), &empty, Config{}); !errors.Is(err, ErrNoSamples) {
		t.Errorf("phase without data: err = %v, want ErrNoSamples", err)
	}
}

func scenario(name string, ts [4]time.Time) manifest.Scenario {
	return manifest.Scenario{Name: name, Status: manifest.StatusPassed,
		Faults: []manifest.Fault{{Fault: fault.On(&fault.PacketLoss{LossPct: 100}, "mc1"),
			Made: manifest.Made{Injector: manifest.InjectorToxiproxy, Fidelity: manifest.FidelityPerConnection, Applied: ts[1], Removed: ts[2]}}},
		Phases: []manifest.Phase{{Name: "stabilization", Start: ts[0], End: ts[1]}, {Name: "testing", Start: ts[1], End: ts[2]}, {Name: "recovery", Start: ts[2], End: ts[3]}}}
}

func metric(t *testing.T, s *results.Scenario, phase, key string) results.Metric {
	t.Helper()
	p, ok := s.Phase(phase)
	if !ok {
		t.Fatalf("%s: no phase %s", s.Name, phase)
	}
	m, ok := p.Metric(key)
	if !ok {
		t.Fatalf("%s %s: no metric %s", s.Name, phase, key)
	}
	return *m
}

// armValues returns every arm's value of m by "side arm", failing on a
// missing arm.
// near reports whether v is within tol of want; NaN (a missing arm) never
// is, where math.Abs(NaN−want) > tol would quietly pass.
func near(v, want, tol float64) bool { return math.Abs(v-want) <= tol }

func armValues(m results.Metric) map[string]float64 {
	out := map[string]float64{}
	for side, vs := range m.Arms {
		for i, v := range vs {
			out[fmt.Sprintf("%s arm %d", side, i+1)] = v
		}
	}
	if len(out) != 4 {
		out["missing arms"] = math.NaN()
	}
	return out
}

// waitScrapedPast polls Prometheus until it holds a loadgen scrape taken
// after at: the scenarios play out in real time.
func waitScrapedPast(t *testing.T, ctx context.Context, q v1.API, at time.Time) {
	t.Helper()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		v, _, _, err := q.Query(ctx, `max(timestamp(up{job="loadgen"}))`, time.Now())
		if vec, ok := v.(model.Vector); err == nil && ok && len(vec) == 1 && float64(vec[0].Value) > float64(at.UnixNano())/1e9 {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("Prometheus never scraped past %s: %v", at, err)
		}
	}
}
