// Package robust holds the robust summaries collect uses (median, MAD),
// taken from github.com/aclements/go-moremath/stats, the library under
// golang.org/x/perf/benchmath, so that they are not hand-rolled.
package robust

import (
	"math"

	"github.com/aclements/go-moremath/stats"
)

// Median returns the median of xs (the mean of the middle two for an even
// count), NaN for none. Infinite values take part as ranks: "not reached"
// (+Inf) ranks last, and when a middle value is infinite the median is
// that infinity (the mean of a value and +Inf is +Inf; of −Inf and +Inf,
// the upper one).
func Median(xs []float64) float64 {
	s := stats.Sample{Xs: xs}
	for _, x := range xs {
		if math.IsInf(x, 0) {
			c := s.Copy().Sort()
			n := len(c.Xs)
			lo, hi := c.Xs[(n-1)/2], c.Xs[n/2]
			if math.IsInf(hi, 0) {
				return hi
			}
			if math.IsInf(lo, 0) {
				return lo
			}
			return (lo + hi) / 2
		}
	}
	return s.Quantile(0.5)
}

// MAD returns the median absolute deviation of xs from their median (not
// scaled), NaN for none.
func MAD(xs []float64) float64 {
	m := Median(xs)
	dev := make([]float64, len(xs))
	for i, x := range xs {
		dev[i] = math.Abs(x - m)
	}
	return Median(dev)
}

// Bounds returns the smallest and largest of xs, NaN for none.
func Bounds(xs []float64) (lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	return stats.Bounds(xs)
}
