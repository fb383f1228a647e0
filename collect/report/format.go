package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/mcchaos/mcchaos/collect/compare"
	"github.com/mcchaos/mcchaos/collect/internal/units"
)

// Value formats v in unit for a person: durations in µs/ms/s, ratios in
// percent, rates and counts as integers; "no data" for NaN, "not reached"
// for +Inf.
func Value(v float64, unit string) string { return units.Value(v, unit) }

// SideCell formats one side of a row: the median with the arm range,
// "0.74 s [0.70 s – 0.80 s]".
func SideCell(s compare.Side, unit string) string {
	if s.N == 0 {
		return "no data"
	}
	m := Value(float64(s.Median), unit)
	if s.N == 1 || s.Min == s.Max {
		return m
	}
	return fmt.Sprintf("%s [%s – %s]", m, Value(float64(s.Min), unit), Value(float64(s.Max), unit))
}

// Effect formats a row's effect with its interval: "+4.55 s [+3.9 s, +5.1 s]".
func Effect(r compare.Row) string {
	if math.IsNaN(float64(r.Effect)) {
		return ""
	}
	s := units.Signed(float64(r.Effect), r.Unit)
	if !math.IsNaN(float64(r.EffectLo)) {
		s += fmt.Sprintf(" [%s, %s]", units.Signed(float64(r.EffectLo), r.Unit), units.Signed(float64(r.EffectHi), r.Unit))
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
		return "not tested"
	}
	return Word(v)
}

// Label is the display name of a row, e.g. "p99 latency (get)".
func Label(k compare.Key) string {
	base := units.Name(k.Name)
	labels := map[string]string{}
	for _, kv := range strings.Split(k.Labels, ",") {
		if a, b, ok := strings.Cut(kv, "="); ok {
			labels[a] = b
		}
	}
	var qual []string
	for _, l := range []string{"server", "op", "class"} {
		if v, ok := labels[l]; ok && !(l == "op" && v == "all") {
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
