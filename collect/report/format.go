package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/mcchaos/mcchaos/collect/compare"
)

// Value formats v in unit for a person: durations in µs/ms/s, ratios in
// percent, rates and counts as integers.
func Value(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case unit == "s":
		a := math.Abs(v)
		switch {
		case a == 0:
			return "0"
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
		return fmt.Sprintf("%.0f", v)
	default:
		if v == math.Trunc(v) {
			return fmt.Sprintf("%.0f", v)
		}
		return fmt.Sprintf("%.2f", v)
	}
}

func ptrValue(v *float64, unit string) string {
	if v == nil {
		return "—"
	}
	return Value(*v, unit)
}

// Delta formats the change of a row: relative when the baseline is not
// zero, else absolute in the row's unit.
func Delta(r compare.Row) string {
	switch {
	case r.Old == nil || r.New == nil:
		return ""
	case r.Delta != nil:
		return fmt.Sprintf("%+.1f%%", *r.Delta*100)
	case *r.New == *r.Old:
		return "0"
	}
	s := Value(*r.New-*r.Old, r.Unit)
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s
}

// P formats a p-value.
func P(r compare.Row) string {
	if r.P == nil {
		return ""
	}
	if *r.P < 0.001 {
		return "<0.001"
	}
	return fmt.Sprintf("%.3f", *r.P)
}

// VerdictCell formats a row's verdict, bold when it is a regression.
func VerdictCell(v compare.Verdict) string {
	switch v {
	case compare.Regression:
		return "**regression**"
	case compare.NotTested:
		return ""
	}
	return string(v)
}

// Label is the display name of a metric key, e.g. "p99 latency (get)".
func Label(name string, labels map[string]string) string {
	base := map[string]string{
		"throughput":               "throughput (ops/s)",
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
	}[name]
	if base == "" {
		base = name
	}
	var qual []string
	for _, k := range []string{"server", "op", "class"} {
		if v, ok := labels[k]; ok && !(k == "op" && v == "all") {
			qual = append(qual, v)
		}
	}
	if len(qual) == 0 {
		return base
	}
	if _, ok := labels["server"]; ok {
		return qual[0] + " " + base
	}
	return base + " (" + strings.Join(qual, ", ") + ")"
}
