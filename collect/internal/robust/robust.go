// Package robust holds the robust summaries collect uses (median, MAD),
// taken from github.com/aclements/go-moremath/stats, the library under
// golang.org/x/perf/benchmath, so that they are not hand-rolled.
package robust

import (
	"math"
	"math/rand/v2"
	"sync"

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

// PooledScale returns a robust standard deviation from several small groups
// of values (the arms of each side of each run): 1.4826 × the median of the
// absolute deviations from each group's own median, pooled over the
// groups, corrected for the group size. A small group's median sits among
// its own values, so its deviations read low (with 5 values one of them is
// 0); the correction is measured once per group size on normal groups of
// that size (deterministic), so the result estimates σ for normal data and
// stays robust to an outlying arm. Groups of fewer than 2 values are
// skipped; NaN without any.
func PooledScale(groups [][]float64) float64 {
	var devs []float64
	n := 0
	for _, g := range groups {
		if len(g) < 2 {
			continue
		}
		m := Median(g)
		for _, x := range g {
			devs = append(devs, math.Abs(x-m))
		}
		n = max(n, len(g))
	}
	if len(devs) == 0 {
		return math.NaN()
	}
	return 1.4826 * Median(devs) * correction(n)
}

var (
	corrMu sync.Mutex
	corrBy = map[int]float64{}
)

// correction is 1 / (1.4826 × median pooled deviation) for normal groups
// of n values, from 4000 simulated groups with a fixed seed.
func correction(n int) float64 {
	corrMu.Lock()
	defer corrMu.Unlock()
	if c, ok := corrBy[n]; ok {
		return c
	}
	r := rand.New(rand.NewPCG(1, uint64(n)))
	var devs []float64
	g := make([]float64, n)
	for range 4000 {
		for i := range g {
			g[i] = r.NormFloat64()
		}
		m := Median(g)
		for _, x := range g {
			devs = append(devs, math.Abs(x-m))
		}
	}
	c := 1 / (1.4826 * Median(devs))
	corrBy[n] = c
	return c
}
