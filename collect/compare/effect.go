package compare

import (
	"math"
	"slices"

	"github.com/aclements/go-moremath/stats"

	"github.com/mcchaos/mcchaos/collect/internal/robust"
)

// HodgesLehmann returns the Hodges–Lehmann estimate of the shift head −
// base (the median of the differences of all pairs) and its distribution-
// free confidence interval at level conf: the order statistics of the
// pairwise differences given by the exact Mann–Whitney U distribution
// (moremath's UDist), as in Hollander & Wolfe. With too few values for the
// level, the interval is the range of the differences. "Not reached"
// (+Inf) values take part: a difference with one is ±Inf, of two is 0.
func HodgesLehmann(base, head []float64, conf float64) (est, lo, hi float64) {
	if len(base) == 0 || len(head) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	d := make([]float64, 0, len(base)*len(head))
	for _, h := range head {
		for _, b := range base {
			d = append(d, sub(h, b))
		}
	}
	slices.Sort(d)
	est = robust.Median(d)
	// The largest c with P(U ≤ c) ≤ (1−conf)/2: the interval is
	// [d(c+1), d(mn−c)] (1-based).
	u := stats.UDist{N1: len(base), N2: len(head)}
	c := -1
	for i := 0; i < len(d)/2; i++ {
		if u.CDF(float64(i)) > (1-conf)/2 {
			break
		}
		c = i
	}
	if c < 0 {
		return est, d[0], d[len(d)-1]
	}
	return est, d[c], d[len(d)-1-c]
}
