package robust

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMedianWithNotReached(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{1, inf, inf}, inf},      // most not reached
		{[]float64{1, 2, inf}, 2},          // one not reached ranks last
		{[]float64{1, 2, inf, inf}, inf},   // a middle value not reached
		{[]float64{inf, inf}, inf},         // none reached
		{[]float64{math.Inf(-1), 1, 2}, 1}, // −∞ ranks first
	} {
		if got := Median(tc.xs); got != tc.want {
			t.Errorf("Median(%v) = %g, want %g", tc.xs, got, tc.want)
		}
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
}

// TestPooledScale: on normal groups of 5 the corrected pooled scale
// estimates σ, and one wild arm per group barely moves it.
func TestPooledScale(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	var clean, wild [][]float64
	for range 200 {
		g := make([]float64, 5)
		for i := range g {
			g[i] = 10 + 2*r.NormFloat64()
		}
		clean = append(clean, g)
		w := append([]float64(nil), g...)
		w[0] = 1000
		wild = append(wild, w)
	}
	if s := PooledScale(clean); math.Abs(s-2) > 0.2 {
		t.Errorf("PooledScale of N(10, 2) groups = %g, want ≈ 2", s)
	}
	if s := PooledScale(wild); s > 3 {
		t.Errorf("PooledScale with one outlier per group = %g, want it robust (≈ 2–3)", s)
	}
	if !math.IsNaN(PooledScale([][]float64{{1}})) {
		t.Error("groups of one value: want NaN")
	}
}
