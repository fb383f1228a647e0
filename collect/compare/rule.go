package compare

import (
	"math"
	"slices"

	"golang.org/x/perf/benchmath"

	"github.com/mcchaos/mcchaos/collect/internal/robust"
	"github.com/mcchaos/mcchaos/collect/results"
)

// decide is the decision rule, the one place that turns a test into a
// state: significant at alpha, at least the floor, and by the direction
// worse or better; a worse gating row is a Candidate, a better one an
// Improvement. The first stage applies it at Alpha, the confirmation
// stage at ConfirmAlpha.
func decide(effect, floor, p, alpha float64, dir results.Direction, gating bool) (Verdict, Reason) {
	switch {
	case p >= alpha || math.IsNaN(effect):
		return Same, NotSignificant
	case math.Abs(effect) < floor || effect == 0:
		return Same, WithinFloor
	}
	var worse bool
	switch dir {
	case results.LowerIsBetter:
		worse = effect > 0
	case results.HigherIsBetter:
		worse = effect < 0
	default:
		return Changed, BeyondFloor
	}
	switch {
	case worse && gating:
		return Candidate, BeyondFloor
	case worse:
		return Worse, BeyondFloor
	case gating:
		return Improvement, BeyondFloor
	}
	return Better, BeyondFloor
}

// test is the U test and the effect of one figure: what decide judges.
type test struct {
	effect, lo, hi, rel, p float64
	sep                    Separation
}

// measure tests head against base (both with values).
func measure(base, head []float64, baseMedian, alpha, conf float64) test {
	var t test
	t.effect, t.lo, t.hi = HodgesLehmann(base, head, conf)
	t.rel = math.NaN()
	if m := baseMedian; m != 0 && !math.IsInf(m, 0) && !math.IsNaN(m) {
		t.rel = t.effect / math.Abs(m)
	}
	t.p = UTest(base, head, alpha)
	t.sep = separation(base, head)
	return t
}

// compareRow compares one figure. compared is false when only one side has
// the scenario (or there is no base): the row is shown, not tested.
func compareRow(cfg Config, k Key, g Gate, gating bool, meta results.Metric, bv, hv results.Values, compared bool) Row {
	row := Row{Key: k, Unit: meta.Unit, Direction: meta.Direction, Gating: gating,
		Base: summarise(bv), Head: summarise(hv),
		Effect: Num(math.NaN()), EffectLo: Num(math.NaN()), EffectHi: Num(math.NaN()), Rel: Num(math.NaN())}
	row.FloorRule, row.FloorFrom = floor(cfg, k, g, gating)
	row.Floor = Num(row.FloorRule.Of(float64(row.Base.Median)))
	switch {
	case !compared:
		row.Verdict, row.Reason = NotTested, NotCompared
		return row
	case row.Base.N == 0 && row.Head.N == 0:
		row.Verdict, row.Reason = NotTested, NoValues
		return row
	case row.Base.N == 0:
		row.Verdict, row.Reason = Added, HeadOnly
		return row
	case row.Head.N == 0:
		row.Verdict, row.Reason = Removed, BaseOnly
		return row
	}
	t := measure(bv.Defined(), hv.Defined(), float64(row.Base.Median), cfg.Alpha, cfg.Confidence)
	row.Effect, row.EffectLo, row.EffectHi, row.Rel = Num(t.effect), Num(t.lo), Num(t.hi), Num(t.rel)
	row.P, row.Separation = &t.p, t.sep
	row.Verdict, row.Reason = decide(t.effect, float64(row.Floor), t.p, cfg.Alpha, row.Direction, gating)
	return row
}

// floor returns the floor rule of a row: the policy's smallest change
// worth acting on for a gating row, DefaultFloors for an informational one.
func floor(cfg Config, k Key, g Gate, gating bool) (Floor, FloorFrom) {
	if gating {
		if f, ok := cfg.Policy[g.policy()]; ok {
			return f, FromPolicy
		}
	}
	fl, ok := cfg.Floors[k.Name]
	if !ok {
		fl = FallbackFloor
	}
	return fl, FromDefault
}

// separation says whether every head value lies above (or below) every
// base value.
func separation(base, head []float64) Separation {
	bl, bh := robust.Bounds(base)
	hl, hh := robust.Bounds(head)
	switch {
	case hl > bh:
		return HeadAbove
	case hh < bl:
		return HeadBelow
	}
	return Overlap
}

// UTest returns the two-sided p-value of benchmath's Mann–Whitney U test
// of a against b (1 when every value is equal). +Inf ("not reached")
// ranks above every value reached.
func UTest(a, b []float64, alpha float64) float64 {
	th := &benchmath.Thresholds{CompareAlpha: alpha}
	c := benchmath.AssumeNothing.Compare(benchmath.NewSample(slices.Clone(a), th), benchmath.NewSample(slices.Clone(b), th))
	if math.IsNaN(c.P) {
		return 1
	}
	return c.P
}

// minP is the smallest two-sided p-value a U test of n1 against n2
// distinct values can give: 2 / C(n1+n2, n1).
func minP(n1, n2 int) float64 {
	if n1 == 0 || n2 == 0 {
		return 1
	}
	c := 1.0
	for i := 1; i <= n1; i++ {
		c = c * float64(n2+i) / float64(i)
	}
	return min(1, 2/c)
}

// sub is h − b with "not reached" (+Inf) handled as ranks: two not reached
// differ by 0.
func sub(h, b float64) float64 {
	if math.IsInf(h, 1) && math.IsInf(b, 1) {
		return 0
	}
	return h - b
}
