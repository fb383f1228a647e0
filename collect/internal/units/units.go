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
	case v > 0:
		return "+" + Value(v, unit)
	}
	return "−" + Value(-v, unit)
}
