package deploy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mcchaos/mcchaos/internal/stack/stacktest"
)

// contractExporters serves DESIGN.md's metrics, one registry per exporter as
// loadgen and scenariod have, each family with at least one series.
func contractExporters(t *testing.T) (loadgen, scenariod *httptest.Server) {
	t.Helper()
	servers := []string{"mc1", "mc2", "mc3"}
	ops := []string{"get", "set", "delete", "increment"}
	buckets := prometheus.ExponentialBuckets(50e-6, 2, 18)

	lg := prometheus.NewRegistry()
	opsTotal := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memcache_client_operations_total"}, []string{"op", "server", "result"})
	errsTotal := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memcache_client_errors_total"}, []string{"op", "server", "class"})
	opDur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "memcache_client_operation_duration_seconds", Buckets: buckets}, []string{"op"})
	srvDur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "memcache_client_server_duration_seconds", Buckets: buckets}, []string{"server"})
	integrity := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memcache_client_integrity_violations_total"}, []string{"op", "server"})
	state := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "memcache_client_circuit_breaker_state"}, []string{"server"})
	trans := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memcache_client_circuit_breaker_transitions_total"}, []string{"server", "from", "to"})
	lastTrans := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "memcache_client_circuit_breaker_last_transition_timestamp_seconds"}, []string{"server", "to"})
	pool := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "memcache_client_pool_connections"}, []string{"server", "state"})
	created := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memcache_client_pool_connections_created_total"}, []string{"server"})
	destroyed := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memcache_client_pool_connections_destroyed_total"}, []string{"server"})
	acquire := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "memcache_client_pool_acquire_duration_seconds", Buckets: buckets}, []string{"server"})
	offered := prometheus.NewCounter(prometheus.CounterOpts{Name: "loadgen_offered_operations_total"})
	dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: "loadgen_dropped_operations_total"})
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "loadgen_info"}, []string{"client", "client_version", "workload", "mode"})
	wire := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memcache_client_wire_requests_total"}, []string{"op", "server"})
	// As loadgen, with the Go collector (go_goroutines).
	lg.MustRegister(opsTotal, errsTotal, opDur, srvDur, integrity, state, trans, lastTrans, pool, created, destroyed, acquire, offered, dropped, info, wire,
		collectors.NewGoCollector())
	info.WithLabelValues("mcchaos/memcache", "dev", "mixed", "closed").Set(1)
	offered.Add(100)
	for _, s := range servers {
		for _, op := range ops {
			opsTotal.WithLabelValues(op, s, "ok").Add(10)
			errsTotal.WithLabelValues(op, s, "timeout").Add(1)
			integrity.WithLabelValues(op, s)
			wire.WithLabelValues(op, s).Add(11)
		}
		srvDur.WithLabelValues(s).Observe(0.001)
		state.WithLabelValues(s).Set(0)
		trans.WithLabelValues(s, "closed", "open").Inc()
		lastTrans.WithLabelValues(s, "open").SetToCurrentTime()
		for _, st := range []string{"total", "active", "idle"} {
			pool.WithLabelValues(s, st).Set(1)
		}
		created.WithLabelValues(s).Inc()
		destroyed.WithLabelValues(s)
		acquire.WithLabelValues(s).Observe(0.0001)
	}
	for _, op := range ops {
		opDur.WithLabelValues(op).Observe(0.002)
	}

	sc := prometheus.NewRegistry()
	phase := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "scenario_phase"}, []string{"scenario"})
	active := prometheus.NewGauge(prometheus.GaugeOpts{Name: "scenario_active"})
	phaseDur := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "scenario_phase_duration_seconds"}, []string{"scenario", "phase"})
	runs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scenario_runs_total"}, []string{"scenario", "status"})
	faultActive := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "fault_active"}, []string{"server", "kind", "injector"})
	faultValue := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "fault_value"}, []string{"server", "kind", "param"})
	sc.MustRegister(phase, active, phaseDur, runs, faultActive, faultValue)
	phase.WithLabelValues("latency-200ms-1s").Set(2)
	active.Set(1)
	phaseDur.WithLabelValues("latency-200ms-1s", "testing").Set(1)
	runs.WithLabelValues("latency-200ms-1s", "passed")
	faultActive.WithLabelValues("mc1", "latency", "toxiproxy").Set(1)
	faultValue.WithLabelValues("mc1", "latency", "latency_ms").Set(200)

	serve := func(reg *prometheus.Registry) *httptest.Server {
		s := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		t.Cleanup(s.Close)
		return s
	}
	return serve(lg), serve(sc)
}

// TestCheckDashboard runs CheckDashboard on a real Prometheus that scrapes
// exporters of every contract metric: the committed dashboard passes, and a
// broken query or an unknown metric is reported with its panel.
func TestCheckDashboard(t *testing.T) {
	lg, sc := contractExporters(t)
	st := stacktest.Start(t, stacktest.Options{Prometheus: true, ScrapeTargets: map[string]string{
		"loadgen":   strings.TrimPrefix(lg.URL, "http://"),
		"scenariod": strings.TrimPrefix(sc.URL, "http://"),
	}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.WaitScraped(ctx, "loadgen", "scenariod"); err != nil {
		t.Fatal(err)
	}

	t.Run("committed dashboard", func(t *testing.T) {
		exported, err := ExportedMetrics(ctx, st.PrometheusURL)
		if err != nil {
			t.Fatal(err)
		}
		// A pending metric that the exporters have is no longer pending.
		for n := range PendingMetrics {
			if slices.Contains(exported, n) {
				t.Errorf("%s is exported now: delete it from PendingMetrics", n)
			}
		}
		if err := CheckDashboard(ctx, st.PrometheusURL, dashboardPath, exported); err != nil {
			t.Fatal(err)
		}
	})

	tests := []struct {
		name     string
		expr     string
		exported []string
		want     string // in the error; "" for no error
	}{
		// a query that Prometheus rejects
		{"syntax error", `sum(rate(memcache_client_operations_total[$__rate_interval])`, nil, `panel "P" A: query fails`},
		// a query that parses but cannot be evaluated
		{"bad function use", `histogram_quantile("x", up)`, nil, `panel "P" A: query fails`},
		// a metric that no exporter exports
		{"unknown metric in a subquery", `max_over_time(memcache_client_typo[1m:1s])`, nil, "metric memcache_client_typo is exported by nothing"},
		// absent metrics accepted: Prometheus' own rule series
		{"ALERTS", `count(ALERTS{alertstate="firing"})`, nil, ""},
		{"wire requests", `rate(memcache_client_wire_requests_total[$__rate_interval])`, nil, ""},
		{"unknown metric", `rate(memcache_client_typo_total[$__rate_interval])`, nil, "metric memcache_client_typo_total is exported by nothing"},
		// a passed list is used instead of Prometheus' names
		{"passed list", `up`, []string{"other"}, "metric up is exported by nothing"},
		{"passed list ok", `up`, []string{"up"}, ""},
		// nothing exported at all: the run did not scrape
		{"nothing exported", `up`, []string{}, "holds no metrics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := promDashboard(t, tt.expr)
			err := CheckDashboard(ctx, st.PrometheusURL, path, tt.exported)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}

	t.Run("prometheus down", func(t *testing.T) {
		down := httptest.NewServer(http.NotFoundHandler())
		down.Close()
		if err := CheckDashboard(ctx, down.URL, dashboardPath, nil); err == nil {
			t.Fatal("no error with Prometheus unreachable")
		}
	})
}
