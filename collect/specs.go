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
	mDropped      = "loadgen_dropped_operations_total"
	mInfo         = "loadgen_info"
	okResults     = `result=~"ok|miss"`
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

// spec is one metric collected per phase. expr is a PromQL template where
// {{F}} is the rate function and {{R}} the range: rate over the whole window
// for the phase value, irate over a short lookback for the per-second series.
type spec struct {
	name   string
	unit   string
	dir    results.Direction
	expr   string
	by     string            // the label the expression groups by, "" for one series
	labels map[string]string // fixed labels of a single-series spec
	// count: expr is a counter selector; the value is its increase over the
	// window and the samples are per-second increases, both by countDelta.
	count bool
	// state: expr is an instant 0/1 expression; the value is the seconds it
	// was 1 in the window (avg_over_time of a 1 s subquery × window).
	state bool
	// fill are label values of by that get a zero metric when absent.
	fill []string
}

// specs returns the metrics collected for every phase, in report order.
func specs() []spec {
	ratio := func(num, den string) string {
		n := fmt.Sprintf("sum({{F}}(%s[{{R}}]))", num)
		d := fmt.Sprintf("sum({{F}}(%s[{{R}}]))", den)
		return fmt.Sprintf("((%s) / %s) or (%s * 0)", n, d, d)
	}
	s := []spec{
		{name: "throughput", unit: "ops/s", dir: results.HigherIsBetter,
			expr: fmt.Sprintf("sum({{F}}(%s{%s}[{{R}}]))", mOps, okResults)},
		{name: "error_ratio", unit: "ratio", dir: results.LowerIsBetter, expr: ratio(mErrors, mOps)},
		{name: "error_ratio", unit: "ratio", dir: results.LowerIsBetter, by: "class", fill: ErrorClasses,
			expr: fmt.Sprintf("sum by (class)({{F}}(%s[{{R}}])) / scalar(sum({{F}}(%s[{{R}}])))", mErrors, mOps)},
	}
	for _, q := range Quantiles {
		h := fmt.Sprintf("{{F}}(%s[{{R}}])", mOpDuration)
		s = append(s,
			spec{name: "latency_" + q.Suffix, unit: "s", dir: results.LowerIsBetter, labels: map[string]string{"op": "all"},
				expr: fmt.Sprintf("histogram_quantile(%g, sum by (le)(%s))", q.Q, h)},
			spec{name: "latency_" + q.Suffix, unit: "s", dir: results.LowerIsBetter, by: "op",
				expr: fmt.Sprintf("histogram_quantile(%g, sum by (le, op)(%s))", q.Q, h)})
	}
	s = append(s,
		spec{name: "server_error_ratio", unit: "ratio", dir: results.LowerIsBetter, by: "server",
			expr: fmt.Sprintf("(sum by (server)({{F}}(%[1]s[{{R}}])) / sum by (server)({{F}}(%[2]s[{{R}}]))) or (sum by (server)({{F}}(%[2]s[{{R}}])) * 0)", mErrors, mOps)},
		spec{name: "server_latency_p99", unit: "s", dir: results.LowerIsBetter, by: "server",
			expr: fmt.Sprintf("histogram_quantile(0.99, sum by (le, server)({{F}}(%s[{{R}}])))", mSrvDuration)},
		spec{name: "breaker_transitions", unit: "count", dir: results.Informational, count: true, expr: mTransitions},
		spec{name: "breaker_open", unit: "s", dir: results.Informational, by: "server", state: true,
			expr: fmt.Sprintf("max by (server)(%s) == bool 2", mBreakerState)},
		spec{name: "connections_created", unit: "count", dir: results.LowerIsBetter, count: true, expr: mConnCreated},
		spec{name: "integrity_violations", unit: "count", dir: results.LowerIsBetter, count: true, expr: mIntegrity},
		spec{name: "dropped_operations", unit: "count", dir: results.LowerIsBetter, count: true, expr: mDropped},
	)
	return s
}

// chartSpecs are the per-second series kept in results.json for charts.
func chartSpecs() []spec {
	return []spec{
		{name: "throughput", unit: "ops/s", expr: fmt.Sprintf("sum({{F}}(%s{%s}[{{R}}]))", mOps, okResults)},
		{name: "errors", unit: "errors/s", expr: fmt.Sprintf("sum({{F}}(%s[{{R}}])) or vector(0)", mErrors)},
		{name: "error_ratio", unit: "ratio", expr: fmt.Sprintf("(sum({{F}}(%[1]s[{{R}}])) / sum({{F}}(%[2]s[{{R}}]))) or (sum({{F}}(%[2]s[{{R}}])) * 0)", mErrors, mOps)},
		{name: "latency_p99", unit: "s", expr: fmt.Sprintf("histogram_quantile(0.99, sum by (le)({{F}}(%s[{{R}}])))", mOpDuration)},
	}
}

// windowQuery is the instant query for the value of s over a window of
// length w, evaluated at the window's end.
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
// evaluation time, summed (by the labels in by, if any): the difference of
// each series with its value d earlier, or its whole value for a series
// born within d. Unlike increase(), it counts the first event of a series
// that appears with that event (lazily created counters: breaker
// transitions, and any client that does not pre-create its series), and it
// does not extrapolate. A counter reset within d counts as 0.
func countDelta(sel, by string, d time.Duration) string {
	agg := "sum"
	if by != "" {
		agg = "sum by (" + by + ")"
	}
	q := fmt.Sprintf("%s(clamp_min(%[2]s - (%[2]s offset %[3]s), 0) or %[2]s)", agg, sel, promDuration(d))
	if by == "" {
		q += " or vector(0)"
	}
	return q
}

// seriesQuery is the range query for the per-second series of s, with
// lookback the irate range.
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
