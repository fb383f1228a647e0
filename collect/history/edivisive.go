package history

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat/combin"

	"github.com/mcchaos/mcchaos/collect/compare"
	"github.com/mcchaos/mcchaos/collect/internal/robust"
)

// Defaults of Config.
const (
	// DefaultAlpha is the level of each permutation test: compare's
	// DefaultAlpha, so that a step on main is held to the level of a
	// pull request's gate.
	DefaultAlpha = 0.01
	// DefaultPermutations is the number of permutations per test. The
	// smallest estimated p is 1/(R+1) = 0.001, well below DefaultAlpha.
	DefaultPermutations = 999
	// DefaultWindow is the length of the sliding windows of the split step
	// (Hunter's default window_len; Otava's is 50).
	DefaultWindow = 30
	// DefaultMinSize is the fewest runs on either side of a change point:
	// a step must hold for 3 runs to be told from one bad run, and a new
	// regression is seen 3 runs after the commit that made it.
	DefaultMinSize = 3
)

// Config says how to find change points. The zero value uses the defaults.
type Config struct {
	// Alpha is the level of each permutation test. If zero, DefaultAlpha.
	Alpha float64
	// Permutations per test. If zero, DefaultPermutations.
	Permutations int
	// Window is the length of the split step's windows. If zero,
	// DefaultWindow; a series no longer than it is one window.
	Window int
	// MinSize is the fewest points of a segment. If zero, DefaultMinSize.
	// 1 is Otava's (no minimum).
	MinSize int
	// Seed seeds the permutations, so that a history gives the same
	// answer every time.
	Seed uint64
	// Floor, if not nil, is the smallest step worth reporting for a level
	// before the step: the merge step drops a change point whose step
	// |after − before| (medians of its segments) is below it, as Otava
	// drops one below min_magnitude. Analyze sets it per figure from
	// Policy.
	Floor func(before float64) float64
	// Policy gives Analyze the floors of the gating figures. If nil,
	// compare.DefaultPolicy.
	Policy compare.Policy
}

func (c Config) withDefaults() Config {
	c.Alpha = cmp.Or(c.Alpha, DefaultAlpha)
	c.Permutations = cmp.Or(c.Permutations, DefaultPermutations)
	c.Window = cmp.Or(c.Window, DefaultWindow)
	c.MinSize = max(cmp.Or(c.MinSize, DefaultMinSize), 1)
	return c
}

// MinHistory is the shortest series in which cfg can find a step that holds
// for the last MinSize points: the permutation test's smallest attainable p
// must reach Alpha. Q̂ is symmetric in its two samples, so the permutations
// that reproduce the observed statistic are those that keep the same k =
// MinSize values last, or put them first: the exact p of a split into n−k
// and k points is at least 2/C(n, k). The Monte Carlo estimate is at least
// 1/(R+1). With the defaults (α = 0.01, k = 3, R = 999): C(11, 3) = 165 <
// 200 ≤ C(12, 3) = 220, so 12 runs. At that bound the estimate of p sits
// just under α, so such a step is found about half the time; each further
// run after the step makes the bound far smaller (2/C(13, 4) = 0.003).
func MinHistory(cfg Config) int {
	cfg = cfg.withDefaults()
	if 1/float64(cfg.Permutations+1) > cfg.Alpha {
		return 0 // never: more permutations are needed
	}
	for n := 2 * cfg.MinSize; ; n++ {
		if 2/float64(combin.Binomial(n, cfg.MinSize)) <= cfg.Alpha {
			return n
		}
	}
}

// ChangePoint is a step in a series: the distribution of xs[Index:] up to
// the next change point differs from that of xs[:Index] back to the
// previous one.
type ChangePoint struct {
	// Index is the first point after the step.
	Index int
	// QHat is the E-divisive statistic of the split (Matteson and James,
	// equation 5, with α = 1).
	QHat float64
	// P is the permutation p-value of the split between its neighbouring
	// change points: (1 + #{permuted Q̂ ≥ QHat}) / (R + 1).
	P float64
	// Before and After are the medians of the segments on either side.
	Before, After float64
}

// Detect finds the change points of xs with Hunter's procedure (Fleming et
// al., "Hunter: Using Change Point Detection to Hunt for Performance
// Regressions", ICPE 2023, doi:10.1145/3578244.3583719; Apache Otava's
// compute_change_points): a split step runs E-divisive means (Matteson and
// James, "A Nonparametric Approach for Multiple Change Point Analysis of
// Multivariate Data", JASA 2014, doi:10.1080/01621459.2013.849605) over
// windows of cfg.Window points that overlap by half (the last one ending
// at the series' end), at a relaxed level
// (10 α below 0.05, as Otava) to collect weak change points; a merge step
// then drops, one at a time, the weakest of them until every one left is
// significant at α against its neighbours (and its step is beyond
// cfg.Floor). Unlike Otava, which judges the merge by a t-test, both
// steps here use the permutation test of the E-divisive paper, so nothing
// assumes normal noise. xs must be finite. The result is sorted by Index.
func Detect(xs []float64, cfg Config) []ChangePoint {
	cfg = cfg.withDefaults()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	weak := cfg
	switch {
	case cfg.Alpha < 0.05:
		weak.Alpha = 10 * cfg.Alpha
	case cfg.Alpha < 0.5:
		weak.Alpha = 2 * cfg.Alpha
	}
	var idx []int
	step := max(cfg.Window/2, 1)
	for start := 0; start < len(xs); {
		end := min(start+cfg.Window, len(xs))
		last := 0
		for _, cp := range eDivisive(xs[start:end], weak, rng) {
			i := start + cp.Index
			if !slices.Contains(idx, i) {
				idx = append(idx, i)
			}
			last = max(last, i)
		}
		if end == len(xs) {
			break
		}
		start = max(last, start+step)
	}
	slices.Sort(idx)
	return merge(xs, idx, cfg, rng)
}

// EDivisive is E-divisive means alone (Matteson and James 2014; Otava's
// compute_change_points_orig): bisect the segment whose best split has the
// largest Q̂ while that split is significant at cfg.Alpha by the
// permutation test, which shuffles the points within each current segment
// and takes the best split of the shuffled series. xs must be finite.
func EDivisive(xs []float64, cfg Config) []ChangePoint {
	cfg = cfg.withDefaults()
	return eDivisive(xs, cfg, rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)))
}

func eDivisive(xs []float64, cfg Config, rng *rand.Rand) []ChangePoint {
	var cps []ChangePoint
	bounds := []int{0, len(xs)}
	perm := make([]float64, len(xs))
	for {
		tau, q := bestOf(newCalc(xs), bounds, cfg.MinSize)
		if tau < 0 {
			return cps
		}
		over := 0
		for range cfg.Permutations {
			copy(perm, xs)
			for s := 0; s+1 < len(bounds); s++ {
				seg := perm[bounds[s]:bounds[s+1]]
				rng.Shuffle(len(seg), func(i, j int) { seg[i], seg[j] = seg[j], seg[i] })
			}
			if _, qp := bestOf(newCalc(perm), bounds, cfg.MinSize); atLeast(qp, q) {
				over++
			}
		}
		p := float64(1+over) / float64(cfg.Permutations+1)
		if p > cfg.Alpha {
			return cps
		}
		cps = append(cps, ChangePoint{Index: tau, QHat: q, P: p})
		bounds = append(bounds, tau)
		slices.Sort(bounds)
		slices.SortFunc(cps, func(a, b ChangePoint) int { return a.Index - b.Index })
		fill(xs, cps)
	}
}

// merge is Hunter's merge step over the weak change points idx (sorted):
// each one's p comes from the permutation test on the segment between its
// neighbours; while the weakest is not significant at cfg.Alpha, or the
// smallest step is below cfg.Floor, that one goes and its neighbours are
// tested again.
func merge(xs []float64, idx []int, cfg Config, rng *rand.Rand) []ChangePoint {
	cps := make([]ChangePoint, len(idx))
	for i, x := range idx {
		cps[i].Index = x
	}
	fill(xs, cps)
	test := func(i int) {
		lo, hi := 0, len(xs)
		if i > 0 {
			lo = cps[i-1].Index
		}
		if i+1 < len(cps) {
			hi = cps[i+1].Index
		}
		cps[i].QHat, cps[i].P = splitTest(xs[lo:hi], cps[i].Index-lo, cfg, rng)
	}
	for i := range cps {
		test(i)
	}
	for len(cps) > 0 {
		w := 0
		for i := range cps {
			if cps[i].P > cps[w].P {
				w = i
			}
		}
		if cps[w].P <= cfg.Alpha {
			if cfg.Floor == nil {
				return cps
			}
			w = -1
			worst := 1.0
			for i, cp := range cps {
				if r := math.Abs(cp.After-cp.Before) / cfg.Floor(cp.Before); r < worst {
					w, worst = i, r
				}
			}
			if w < 0 {
				return cps
			}
		}
		cps = slices.Delete(cps, w, w+1)
		fill(xs, cps)
		if w > 0 {
			test(w - 1)
		}
		if w < len(cps) {
			test(w)
		}
	}
	return cps
}

// splitTest tests the split of seg at tau: the observed statistic is the
// best Q̂(tau, κ) over κ, the null the best Q̂ over every split of the
// shuffled segment (so the choice of tau among all splits is paid for).
func splitTest(seg []float64, tau int, cfg Config, rng *rand.Rand) (q, p float64) {
	c := newCalc(seg)
	q = math.Inf(-1)
	for kappa := tau + 1; kappa <= len(seg); kappa++ {
		if kappa-tau >= cfg.MinSize || kappa == len(seg) {
			q = max(q, c.q(0, tau, kappa))
		}
	}
	bounds := []int{0, len(seg)}
	perm := slices.Clone(seg)
	over := 0
	for range cfg.Permutations {
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		if _, qp := bestOf(newCalc(perm), bounds, cfg.MinSize); atLeast(qp, q) {
			over++
		}
	}
	return q, float64(1+over) / float64(cfg.Permutations+1)
}

// atLeast reports whether a permuted statistic reaches the observed one.
// A permutation that only reorders the points within each side of the
// observed split gives the same Q̂ summed in another order: within a
// relative 1e-9 it counts as a tie, so the exact bound of MinHistory holds.
func atLeast(permuted, observed float64) bool {
	return permuted >= observed-1e-9*math.Abs(observed)
}

// fill sets Before and After of each change point from its segments.
func fill(xs []float64, cps []ChangePoint) {
	for i := range cps {
		lo, hi := 0, len(xs)
		if i > 0 {
			lo = cps[i-1].Index
		}
		if i+1 < len(cps) {
			hi = cps[i+1].Index
		}
		cps[i].Before = robust.Median(xs[lo:cps[i].Index])
		cps[i].After = robust.Median(xs[cps[i].Index:hi])
	}
}

// calc holds, for a series z, prefix sums of its distance matrix by column:
// col[c][r] = Σ_{i<r} |z_i − z_c|, so that every sum of distances Q̂ needs
// is a difference of two entries and a segment's best split is O(n²).
type calc struct {
	col [][]float64
}

func newCalc(z []float64) calc {
	col := make([][]float64, len(z))
	for c := range z {
		d := make([]float64, len(z))
		for i := range z {
			d[i] = math.Abs(z[i] - z[c])
		}
		col[c] = make([]float64, len(z)+1)
		floats.CumSum(col[c][1:], d)
	}
	return calc{col}
}

// q is Q̂(X, Y) of Matteson and James (eq. 5, α = 1) for X = z[s:tau],
// Y = z[tau:kappa]:
//
//	Q̂ = 2/(m+n) Σ|X_i−Y_j| − 2m/((m+n)(n−1)) Σ_{i<k}|X_i−X_k| − 2n/((m+n)(m−1)) Σ_{j<k}|Y_j−Y_k|
//
// with n = |X|, m = |Y|; a within term of a single point is 0 (Otava).
func (c calc) q(s, tau, kappa int) float64 {
	n, m := float64(tau-s), float64(kappa-tau)
	var between, withinX, withinY float64
	for j := tau; j < kappa; j++ {
		between += c.col[j][tau] - c.col[j][s]
		withinY += c.col[j][j] - c.col[j][tau]
	}
	for i := s; i < tau; i++ {
		withinX += c.col[i][i] - c.col[i][s]
	}
	return qhat(n, m, between, withinX, withinY)
}

// qhat is the formula of q from the sums of distances between X and Y and
// within each.
func qhat(n, m, between, withinX, withinY float64) float64 {
	q := 2 / (m + n) * between
	if n > 1 {
		q -= 2 * m / ((m + n) * (n - 1)) * withinX
	}
	if m > 1 {
		q -= 2 * n / ((m + n) * (m - 1)) * withinY
	}
	return q
}

// best returns the split tau of z[s:e] with the largest Q̂ over every κ
// (both sides at least minSize long), or −1 when the segment is too short.
// The sums are carried along κ, so a segment costs O(n²).
func (c calc) best(s, e, minSize int) (int, float64) {
	bt, bq := -1, math.Inf(-1)
	withinX := 0.0
	for tau := s + 1; tau+minSize <= e; tau++ {
		withinX += c.col[tau-1][tau-1] - c.col[tau-1][s] // adds z[tau-1] to X
		if tau-s < minSize {
			continue
		}
		n := float64(tau - s)
		var between, withinY float64
		for kappa := tau + 1; kappa <= e; kappa++ {
			j := kappa - 1 // joins Y
			between += c.col[j][tau] - c.col[j][s]
			withinY += c.col[j][j] - c.col[j][tau]
			if kappa-tau < minSize {
				continue
			}
			if q := qhat(n, float64(kappa-tau), between, withinX, withinY); q > bq {
				bt, bq = tau, q
			}
		}
	}
	return bt, bq
}

// bestOf returns the best split over the segments between bounds (sorted).
func bestOf(c calc, bounds []int, minSize int) (int, float64) {
	bt, bq := -1, math.Inf(-1)
	for s := 0; s+1 < len(bounds); s++ {
		if t, q := c.best(bounds[s], bounds[s+1], minSize); t >= 0 && q > bq {
			bt, bq = t, q
		}
	}
	return bt, bq
}
