package loadgen

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mcchaos/mcchaos/loadgen/driver"
)

// DurationBuckets are the buckets of the latency histograms: exponential
// from 20 µs to 10 s, each 20 % wider than the last, so that a p99.9 read
// with histogram_quantile is within about 10 % anywhere from 50 µs to 10 s.
var DurationBuckets = prometheus.ExponentialBucketsRange(20e-6, 10, 73)

// AcquireBuckets are the buckets of the pool acquire histogram: from 1 µs
// (an idle connection was ready) to 10 s, each 50 % wider than the last.
var AcquireBuckets = prometheus.ExponentialBucketsRange(1e-6, 10, 41)

// Metrics are loadgen's Prometheus collectors, the contract of DESIGN.md.
// Build them with NewMetrics; all methods are safe for concurrent use.
type Metrics struct {
	Operations            *prometheus.CounterVec   // {op,server,result}
	Errors                *prometheus.CounterVec   // {op,server,class}
	Duration              *prometheus.HistogramVec // {op}
	ServerDuration        *prometheus.HistogramVec // {server}
	Violations            *prometheus.CounterVec   // {op,server}
	BreakerState          *prometheus.GaugeVec     // {server}
	BreakerTransitions    *prometheus.CounterVec   // {server,from,to}
	BreakerLastTransition *prometheus.GaugeVec     // {server,to}
	Offered               prometheus.Counter
	Dropped               prometheus.Counter
	Info                  *prometheus.GaugeVec     // {client,client_version,workload,mode}
	PoolAcquire           *prometheus.HistogramVec // {server}
	ScheduleLag           prometheus.Histogram
	WireRequests          *prometheus.CounterVec // {op,server}

	pool *poolCollector
	// wire caches WireRequests' children by {op, server}: copy on write,
	// so that Requested does no allocation once a pair has been seen.
	wire   atomic.Pointer[map[[2]string]prometheus.Counter]
	wireMu sync.Mutex // serializes the copies

	// notClosed holds each server whose breaker is open or half-open, with
	// its state: /ready waits for it to empty (see NotClosed).
	notClosed   map[string]driver.BreakerState
	notClosedMu sync.Mutex
}

// NewMetrics creates loadgen's collectors and registers them on reg, with
// the Go and process collectors. reg must not be the default registry if
// that already has the Go collector.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns = "memcache_client"
	m := &Metrics{
		Operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "operations_total",
			Help: "Operations completed, by op, server and result (ok, miss or an error class).",
		}, []string{"op", "server", "result"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "errors_total",
			Help: "Failed operations, by op, server and error class.",
		}, []string{"op", "server", "class"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "operation_duration_seconds",
			Help:    "Operation latency from its intended start (open loop) or its start (closed loop), by op.",
			Buckets: DurationBuckets,
		}, []string{"op"}),
		ServerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "server_duration_seconds",
			Help:    "Operation latency, as operation_duration_seconds, by server.",
			Buckets: DurationBuckets,
		}, []string{"server"}),
		Violations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "integrity_violations_total",
			Help: "Reads that returned a value not written for that key (wrong key, torn, truncated, unknown version). Must stay 0.",
		}, []string{"op", "server"}),
		BreakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "circuit_breaker_state",
			Help: "Circuit breaker state per server: 0 closed, 1 half-open, 2 open.",
		}, []string{"server"}),
		BreakerTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "circuit_breaker_transitions_total",
			Help: "Circuit breaker state transitions per server.",
		}, []string{"server", "from", "to"}),
		BreakerLastTransition: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "circuit_breaker_last_transition_timestamp_seconds",
			Help: "Exact wall time (Unix seconds) of the last transition into state `to`, per server.",
		}, []string{"server", "to"}),
		Offered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loadgen_offered_operations_total",
			Help: "Operations due (open loop) or started (closed loop).",
		}),
		Dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loadgen_dropped_operations_total",
			Help: "Open loop: operations due but not started because the in-flight cap was reached.",
		}),
		ScheduleLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "loadgen_schedule_lag_seconds",
			Help:    "Open loop: how long after its due time each operation started (pacer and hand-off); included in operation_duration_seconds.",
			Buckets: AcquireBuckets,
		}),
		Info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loadgen_info",
			Help: "Always 1; labels describe the client under test and the load.",
		}, []string{"client", "client_version", "workload", "mode"}),
		PoolAcquire: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "pool_acquire_duration_seconds",
			Help:    "Time to acquire a pooled connection (including a dial when one was needed), per server.",
			Buckets: AcquireBuckets,
		}, []string{"server"}),
		WireRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "wire_requests_total",
			Help: "Requests the client wrote to the wire, by the client's request name and server: every attempt, retries included; none for an operation refused by the breaker or without a connection. Only clients that can count them export it.",
		}, []string{"op", "server"}),
		pool: newPoolCollector(),
	}
	reg.MustRegister(m.Operations, m.Errors, m.Duration, m.ServerDuration, m.Violations,
		m.BreakerState, m.BreakerTransitions, m.BreakerLastTransition,
		m.Offered, m.Dropped, m.ScheduleLag, m.Info, m.PoolAcquire, m.WireRequests, m.pool,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// BreakerChanged records a breaker transition of server at the exact time at.
// It is meant as driver.Settings.OnBreakerChange.
func (m *Metrics) BreakerChanged(server string, from, to driver.BreakerState, at time.Time) {
	m.BreakerState.WithLabelValues(server).Set(float64(to))
	m.notClosedMu.Lock()
	if to == driver.BreakerClosed {
		delete(m.notClosed, server)
	} else {
		if m.notClosed == nil {
			m.notClosed = map[string]driver.BreakerState{}
		}
		m.notClosed[server] = to
	}
	m.notClosedMu.Unlock()
	m.BreakerTransitions.WithLabelValues(server, from.String(), to.String()).Inc()
	m.BreakerLastTransition.WithLabelValues(server, to.String()).Set(float64(at.Unix()) + float64(at.Nanosecond())/1e9)
}

// NotClosed lists the servers whose breaker is not closed, as
// "name (state)", sorted: empty when every breaker is closed.
func (m *Metrics) NotClosed() []string {
	m.notClosedMu.Lock()
	defer m.notClosedMu.Unlock()
	out := make([]string, 0, len(m.notClosed))
	for server, st := range m.notClosed {
		out = append(out, server+" ("+st.String()+")")
	}
	slices.Sort(out)
	return out
}

// InitBreakers sets every server's breaker state to closed, so that the
// gauge exists before the first transition.
func (m *Metrics) InitBreakers(servers []string) {
	for _, s := range servers {
		m.BreakerState.WithLabelValues(s).Set(float64(driver.BreakerClosed))
	}
}

// Acquired records a pool acquire on server that waited wait. It is meant
// as driver.Settings.OnAcquire.
func (m *Metrics) Acquired(server string, wait time.Duration) {
	m.PoolAcquire.WithLabelValues(server).Observe(wait.Seconds())
}

// Requested counts one request of op written to server. It is meant as
// driver.Settings.OnRequest.
func (m *Metrics) Requested(server, op string) {
	k := [2]string{op, server}
	if p := m.wire.Load(); p != nil {
		if c, ok := (*p)[k]; ok {
			c.Inc()
			return
		}
	}
	m.wireMu.Lock()
	next := map[[2]string]prometheus.Counter{}
	if p := m.wire.Load(); p != nil {
		maps.Copy(next, *p)
	}
	c, ok := next[k]
	if !ok {
		c = m.WireRequests.WithLabelValues(op, server)
		next[k] = c
		m.wire.Store(&next)
	}
	m.wireMu.Unlock()
	c.Inc()
}

// SetPoolSource makes every scrape read pool statistics from f (nil: none).
func (m *Metrics) SetPoolSource(f func() []driver.PoolStats) {
	m.pool.source.Store(&f)
}

// poolCollector reads pool statistics from the client on each scrape.
type poolCollector struct {
	source                    atomic.Pointer[func() []driver.PoolStats]
	conns, created, destroyed *prometheus.Desc
}

func newPoolCollector() *poolCollector {
	const ns = "memcache_client_pool_"
	return &poolCollector{
		conns: prometheus.NewDesc(ns+"connections",
			"Pooled connections per server, by state (total, active, idle).", []string{"server", "state"}, nil),
		created: prometheus.NewDesc(ns+"connections_created_total",
			"Connections the pool created, per server.", []string{"server"}, nil),
		destroyed: prometheus.NewDesc(ns+"connections_destroyed_total",
			"Connections the pool destroyed, per server.", []string{"server"}, nil),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.conns
	ch <- c.created
	ch <- c.destroyed
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.source.Load()
	if f == nil || *f == nil {
		return
	}
	for _, s := range (*f)() {
		for _, st := range []struct {
			name string
			n    int
		}{{"total", s.Total}, {"active", s.Active}, {"idle", s.Idle}} {
			ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(st.n), s.Server, st.name)
		}
		ch <- prometheus.MustNewConstMetric(c.created, prometheus.CounterValue, float64(s.Created), s.Server)
		ch <- prometheus.MustNewConstMetric(c.destroyed, prometheus.CounterValue, float64(s.Destroyed), s.Server)
	}
}
