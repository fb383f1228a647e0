package collect

import (
	"fmt"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/collect/results"
)

// Metric names collect reads, as DESIGN.md fixes them. collect knows loadgen
// only through these.
const (
	mOps          = "memcache_client_operations_total"
	mErrors       = "memcache_client_errors_total"
	mOpDuration   = "memcache_client_operation_duration_seconds_bucket"
	mSrvDuration  = "memcache_client_server_duration_seconds_bucket"
	mIntegrity    = "memcache_client_integrity_violations_total"
	mBreakerState = "memcache_client_circuit_breaker_state"
	mTransitions  = "memcache_client_circuit_breaker_transitions_total"
	mLastTransit  = "memcache_client_circuit_breaker_last_transition_timestamp_seconds"
	mConnCreated  = "memcache_client_pool_connections_created_total"
	mConns        = `memcache_client_pool_connections{state="total"}`
	mWire         = "memcache_client_wire_requests_total"
	mGoroutines   = `go_goroutines{job="loadgen"}`
	mDropped      = "loadgen_dropped_operations_total"
	mOffered      = "loadgen_offered_operations_total"
	mInfo         = "loadgen_info"
	okResults     = `result=~"ok|miss"`
)

// Labels every loadgen series carries as Prometheus target labels: every
// query groups by them, so one query returns the figure of every arm.
const (
	lSide = "side"
	lArm  = "arm"
)

// ErrorClasses are the error classes DESIGN.md guarantees. Each gets an
// error-ratio metric in every phase, zero when the class did not occur, so
// that a class appearing or vanishing is a compared change, not a missing row.
var ErrorClasses = []string{"timeout", "circuit_open", "conn_refused", "conn_reset", "pool_timeout", "protocol", "other"}

// Quantiles are the latency quantiles collected, by name suffix.
var Quantiles = []struct {
	Suffix string
	Q      float64
}{{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p999", 0.999}}

// PromQL is built one way: every figure is an expression of the helpers
// below over per-arm aggregations, where {{F}} is the rate function (rate
// over the whole window for a phase value, irate for the per-second series)
// and {{R}} its range. by lists extra grouping labels after side and arm.

// arms returns the grouping clause "by (side, arm, extra...)".
func arms(extra ...string) string {
	return "by (" + strings.Join(append([]string{lSide, lArm}, extra...), ", ") + ")"
}

// sumRate is the per-arm rate of the counter sel.
func sumRate(sel string, extra ...string) string {
	return fmt.Sprintf("sum %s ({{F}}(%s[{{R}}]))", arms(extra...), sel)
}

// ratio is num/den per arm, 0 where den has operations and num has none.
func ratio(num, den string, extra ...string) string {
	n, d := sumRate(num, extra...), sumRate(den, extra...)
	return fmt.Sprintf("(%s / %s) or (%s * 0)", n, d, d)
}

// quantile is the per-arm q-quantile of the histogram buckets sel.
func quantile(q float64, sel string, extra ...string) string {
	return fmt.Sprintf("histogram_quantile(%g, %s)", q, sumRate(sel, append([]string{"le"}, extra...)...))
}

// spec is one metric collected per phase and arm.
type spec struct {
	name   string
	unit   string
	dir    results.Direction
	expr   string
	by     string            // the label the expression groups by besides side and arm, "" for none
	labels map[string]string // fixed labels of a spec without by
	// count: expr is a counter selector; the value is its increase over the
	// window, by countDelta.
	count bool
	// state: expr is an instant 0/1 expression; the value is the seconds it
	// was 1 in the window (avg_over_time of a 1 s subquery × window).
	state bool
	// fill are label values of by that get a zero value when absent on an
	// arm that ran.
	fill []string
}

// specs returns the metrics collected for every phase, in report order.
func specs() []spec {
	s := []spec{
		{name: "throughput", unit: "ops/s", dir: results.HigherIsBetter, expr: sumRate(mOps + "{" + okResults + "}")},
		{name: "error_ratio", unit: "ratio", dir: results.LowerIsBetter, expr: ratio(mErrors, mOps)},
		// The offered load, so that the healthy path's goodput is
		// throughput against what was asked of the client.
		{name: "offered", unit: "ops/s", dir: results.Informational, expr: sumRate(mOffered)},
		// Error-class shares have no better or worse: fewer fast failures
		// because operations now wait for a timeout is not an improvement.
		{name: "error_ratio", unit: "ratio", dir: results.Informational, by: "class", fill: ErrorClasses,
			expr: fmt.Sprintf("%s / on (%s, %s) group_left %s", sumRate(mErrors, "class"), lSide, lArm, sumRate(mOps))},
	}
	for _, q := range Quantiles {
		s = append(s,
			spec{name: "latency_" + q.Suffix, unit: "s", dir: results.LowerIsBetter, labels: map[string]string{"op": "all"},
				expr: quantile(q.Q, mOpDuration)},
			spec{name: "latency_" + q.Suffix, unit: "s", dir: results.LowerIsBetter, by: "op",
				expr: quantile(q.Q, mOpDuration, "op")})
	}
	s = append(s,
		spec{name: "server_error_ratio", unit: "ratio", dir: results.LowerIsBetter, by: "server", expr: ratio(mErrors, mOps, "server")},
		spec{name: "server_latency_p99", unit: "s", dir: results.LowerIsBetter, by: "server", expr: quantile(0.99, mSrvDuration, "server")},
		spec{name: "breaker_transitions", unit: "count", dir: results.Informational, count: true, expr: mTransitions},
		spec{name: "breaker_open", unit: "s", dir: results.Informational, by: "server", state: true,
			expr: fmt.Sprintf("max %s (%s) == bool 2", arms("server"), mBreakerState)},
		spec{name: "connections_created", unit: "count", dir: results.LowerIsBetter, count: true, expr: mConnCreated},
		spec{name: "integrity_violations", unit: "count", dir: results.LowerIsBetter, count: true, expr: mIntegrity},
		spec{name: "dropped_operations", unit: "count", dir: results.LowerIsBetter, count: true, expr: mDropped},
		// Retry amplification: requests the client wrote per operation, and
		// per server (requests written to it per operation placed on it:
		// above 1 with retries, or with failover onto it). No data for a
		// client that does not count them (gomemcache).
		spec{name: "wire_requests_per_op", unit: "req/op", dir: results.LowerIsBetter,
			expr: fmt.Sprintf("%s / %s", sumRate(mWire), sumRate(mOps))},
		spec{name: "server_wire_requests_per_op", unit: "req/op", dir: results.LowerIsBetter, by: "server",
			expr: fmt.Sprintf("%s / %s", sumRate(mWire, "server"), sumRate(mOps, "server"))},
	)
	return s
}

// Chart series names.
const (
	SeriesThroughput = "throughput"
	SeriesErrors     = "errors"
	SeriesErrorRatio = "error_ratio"
	SeriesP99        = "latency_p99"
)

// chartSpecs are the per-second series kept in results.json for charts and
// the time to recover.
func chartSpecs() []spec {
	return []spec{
		{name: SeriesThroughput, unit: "ops/s", expr: sumRate(mOps + "{" + okResults + "}")},
		{name: SeriesErrors, unit: "errors/s", expr: sumRate(mErrors) + " or " + sumRate(mOps) + " * 0"},
		{name: SeriesErrorRatio, unit: "ratio", expr: ratio(mErrors, mOps)},
		{name: SeriesP99, unit: "s", expr: quantile(0.99, mOpDuration)},
	}
}

// windowQuery is the instant query for the value of s over a window of
// length w, evaluated at the window's end. rate() over the window uses only
// the scrapes inside it, so no value carries the previous phase.
func (s spec) windowQuery(w time.Duration) string {
	r := promDuration(w)
	if s.state {
		return fmt.Sprintf("avg_over_time((%s)[%s:1s]) * %g", s.expr, r, w.Seconds())
	}
	if s.count {
		return countDelta(s.expr, "", w)
	}
	return expand(s.expr, "rate", r)
}

// countDelta is the increase of the counters sel over the d before the
// evaluation time, summed per arm (and by the label in by, if any): the
// difference of each series with its value d earlier, or its whole value
// for a series born within d. Unlike increase(), it counts the first event
// of a series that appears with that event (lazily created counters:
// breaker transitions, and any client that does not pre-create its series),
// and it does not extrapolate. A counter reset within d counts as 0. The
// reference value is the last scrape at or before the window's start, so
// the count may include up to one scrape interval before it.
func countDelta(sel, by string, d time.Duration) string {
	extra := []string{}
	if by != "" {
		extra = append(extra, by)
	}
	return fmt.Sprintf("sum %s (clamp_min(%[2]s - (%[2]s offset %[3]s), 0) or %[2]s)", arms(extra...), sel, promDuration(d))
}

// seriesQuery is the range query for the per-second series of s, with
// lookback the irate range: irate uses the last two scrapes, so each point
// covers one scrape interval.
func (s spec) seriesQuery(lookback time.Duration) string {
	switch {
	case s.state:
		return s.expr
	case s.count:
		return countDelta(s.expr, "", time.Second)
	}
	return expand(s.expr, "irate", promDuration(lookback))
}

func expand(expr, f, r string) string {
	return strings.NewReplacer("{{F}}", f, "{{R}}", r).Replace(expr)
}

// promDuration formats d as a PromQL duration in milliseconds (at least 1ms).
func promDuration(d time.Duration) string {
	ms := d.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	return fmt.Sprintf("%dms", ms)
}
