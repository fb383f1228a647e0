// Package units formats figures for people, the same way in the report and
// in the one-line reasons of the comparison.
package units

import (
	"fmt"
	"math"
)

// Value formats v in unit: durations in µs/ms/s, ratios in percent, rates
// and counts as integers; NaN is "no data", +Inf "not reached".
func Value(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "no data"
	case math.IsInf(v, 1):
		return "not reached"
	case math.IsInf(v, -1):
		return "-∞"
	case unit == "s":
		a := math.Abs(v)
		switch {
		case a == 0:
			return "0 s"
		case a < 1e-3:
			return fmt.Sprintf("%.0f µs", v*1e6)
		case a < 1:
			return fmt.Sprintf("%.1f ms", v*1e3)
		default:
			return fmt.Sprintf("%.2f s", v)
		}
	case unit == "ratio":
		if v == 0 {
			return "0 %"
		}
		return fmt.Sprintf("%.2f %%", v*100)
	case unit == "x":
		return fmt.Sprintf("%.2f×", v)
	case unit == "ops/s":
		return fmt.Sprintf("%.0f ops/s", v)
	default:
		if v == math.Trunc(v) {
			return fmt.Sprintf("%.0f", v)
		}
		return fmt.Sprintf("%.2f", v)
	}
}

// Signed formats a change: "+4.55 s", "−12 ops/s"; ±Inf as "+∞"/"−∞".
func Signed(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "no data"
	case math.IsInf(v, 1):
		return "+∞"
	case math.IsInf(v, -1):
		return "−∞"
	case v == 0:
		return "0"
	case unit == "ratio" && v > 0:
		// A change of a ratio is in percentage points.
		return "+" + Change(v, unit)
	case unit == "ratio":
		return "−" + Change(-v, unit)
	case v > 0:
		return "+" + Value(v, unit)
	}
	return "−" + Value(-v, unit)
}

// names are the display names of figures.
var names = map[string]string{
	"throughput":               "throughput",
	"error_ratio":              "error ratio",
	"latency_p50":              "p50 latency",
	"latency_p90":              "p90 latency",
	"latency_p99":              "p99 latency",
	"latency_p999":             "p99.9 latency",
	"server_error_ratio":       "error ratio",
	"server_latency_p99":       "p99 latency",
	"breaker_transitions":      "breaker transitions",
	"breaker_open":             "breaker open (s)",
	"connections_created":      "connections created",
	"integrity_violations":     "integrity violations",
	"dropped_operations":       "dropped operations",
	"time_to_detect":           "time to detect",
	"time_to_recover":          "time to recover",
	"blast_radius_error_ratio": "blast radius: error ratio change",
	"blast_radius_p99":         "blast radius: p99 change",
	"errors_during_fault":      "errors during the fault",
	"breaker_flaps":            "breaker flaps",
	"failed_operations":        "failed operations",
	"peak_latency_p99":         "peak p99 latency",
	"false_ejection":           "false ejection (s)",
	"goodput":                  "goodput (of offered)",
	"offered":                  "offered load",
}

// Of returns the unit of a gating figure by name ("s", "ratio", "ops/s",
// "count"), for tables that name figures without rows.
func Of(name string) string {
	switch {
	case name == "throughput" || name == "offered":
		return "ops/s"
	case name == "error_ratio" || name == "goodput":
		return "ratio"
	case name == "failed_operations":
		return "count"
	}
	return "s"
}

// Name is the display name of a figure ("p99 latency"), the name itself
// when unknown.
func Name(name string) string {
	if n, ok := names[name]; ok {
		return n
	}
	return name
}

// Change formats the size of a change (a floor): a ratio in percentage
// points, anything else as Value.
func Change(v float64, unit string) string {
	if unit == "ratio" && !math.IsNaN(v) && !math.IsInf(v, 0) {
		return fmt.Sprintf("%.2f pp", v*100)
	}
	return Value(v, unit)
}
