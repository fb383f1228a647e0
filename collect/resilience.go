package collect

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// Resilience figure names, in report order.
const (
	FigTimeToDetect      = "time_to_detect"
	FigTimeToRecover     = "time_to_recover"
	FigBlastErrorRatio   = "blast_radius_error_ratio"
	FigBlastP99          = "blast_radius_p99"
	FigErrorsDuringFault = "errors_during_fault"
	FigBreakerFlaps      = "breaker_flaps"
	FigIntegrity         = "integrity_violations"
)

// faultWindow is when the fault was on: the manifest's applied and removed
// times, or the testing phase when they are missing.
func faultWindow(s manifest.Scenario) (window, bool) {
	p, ok := s.Phase(manifest.PhaseTesting)
	if !ok || p.End.IsZero() {
		return window{}, false
	}
	var w window
	for _, f := range s.Faults {
		if !f.Applied.IsZero() && (w.start.IsZero() || f.Applied.Before(w.start)) {
			w.start = f.Applied
		}
		if !f.Removed.IsZero() && f.Removed.After(w.end) {
			w.end = f.Removed
		}
	}
	if w.start.IsZero() {
		w.start = p.Start
	}
	if w.end.IsZero() || !w.end.After(w.start) {
		w.end = p.End
	}
	return w, true
}

func targets(s manifest.Scenario) []string {
	var out []string
	for _, f := range s.Faults {
		for _, t := range f.Targets {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	sort.Strings(out)
	return out
}

func fig(name, unit string, dir results.Direction, v float64) results.Figure {
	return results.Figure{Name: name, Unit: unit, Direction: dir, Value: &v}
}

func missing(name, unit string, dir results.Direction, note string) results.Figure {
	return results.Figure{Name: name, Unit: unit, Direction: dir, Note: note}
}

// resilience derives the scenario's resilience figures (see the report's
// glossary for their definitions).
func (c *collector) resilience(ctx context.Context, s manifest.Scenario, rs *results.Scenario, wins []window) ([]results.Figure, error) {
	fw, ok := faultWindow(s)
	if !ok || len(wins) < 2 {
		return nil, nil
	}
	testWin := wins[1]
	dw := fw // detection window: the fault, at least MinWindow long
	if dw.dur() < c.cfg.MinWindow {
		dw.end = dw.start.Add(c.cfg.MinWindow)
	}
	tgts := targets(s)
	var figs []results.Figure

	d, err := c.timeToDetect(ctx, tgts, dw)
	if err != nil {
		return nil, err
	}
	figs = append(figs, d)
	figs = append(figs, c.timeToRecover(rs, wins, fw))

	blast, err := c.blastRadius(ctx, rs, tgts, wins[0], testWin)
	if err != nil {
		return nil, err
	}
	figs = append(figs, blast...)

	errs, _, err := c.scalar(ctx, countDelta(mErrors, "", testWin.dur()), testWin.end)
	if err != nil {
		return nil, err
	}
	figs = append(figs, fig(FigErrorsDuringFault, "count", results.LowerIsBetter, math.Round(errs)))

	last := wins[len(wins)-1].end
	vec, err := c.instant(ctx, countDelta(mTransitions+`{to="open"}`, "server", last.Sub(fw.start)), last)
	if err != nil {
		return nil, err
	}
	flaps := 0.0
	for _, v := range vec {
		flaps += max(0, math.Round(float64(v.Value))-1)
	}
	figs = append(figs, fig(FigBreakerFlaps, "count", results.LowerIsBetter, flaps))

	iv, _, err := c.scalar(ctx, countDelta(mIntegrity, "", last.Sub(wins[0].start)), last)
	if err != nil {
		return nil, err
	}
	figs = append(figs, fig(FigIntegrity, "count", results.LowerIsBetter, math.Round(iv)))
	return figs, nil
}

// timeToDetect: fault applied → the breaker of every faulted server has
// opened, from the exact transition timestamps the client exports.
func (c *collector) timeToDetect(ctx context.Context, tgts []string, fw window) (results.Figure, error) {
	const name, unit = FigTimeToDetect, "s"
	if len(tgts) == 0 {
		return missing(name, unit, results.LowerIsBetter, "no faulted server"), nil
	}
	q := fmt.Sprintf(`max by (server)(%s{to="open",server=~"%s"})`, mLastTransit, strings.Join(tgts, "|"))
	v, _, _, err := c.q.QueryRange(ctx, q, v1.Range{Start: fw.start, End: fw.end.Add(c.cfg.Lookback), Step: time.Second})
	if err != nil {
		return results.Figure{}, fmt.Errorf("%w: query_range %s: %v", ErrPrometheus, q, err)
	}
	mat, _ := v.(model.Matrix)
	first := map[string]float64{}
	from, to := float64(fw.start.UnixNano())/1e9, float64(fw.end.UnixNano())/1e9
	for _, ss := range mat {
		srv := string(ss.Metric["server"])
		for _, p := range ss.Values {
			t := float64(p.Value)
			if t >= from && t <= to {
				if f, ok := first[srv]; !ok || t < f {
					first[srv] = t
				}
			}
		}
	}
	worst := 0.0
	for _, t := range tgts {
		f, ok := first[t]
		if !ok {
			return missing(name, unit, results.LowerIsBetter, fmt.Sprintf("the breaker of %s did not open during the fault", t)), nil
		}
		worst = max(worst, f-from)
	}
	return fig(name, unit, results.LowerIsBetter, round3(worst)), nil
}

// timeToRecover: fault removed → the per-second error ratio and throughput
// are back inside the stabilization band and stay there for RecoverHold.
func (c *collector) timeToRecover(rs *results.Scenario, wins []window, fw window) results.Figure {
	const name, unit = FigTimeToRecover, "s"
	if len(wins) < 3 {
		return missing(name, unit, results.LowerIsBetter, "no recovery phase")
	}
	thr, er := seriesPoints(rs, "throughput"), seriesPoints(rs, "error_ratio")
	stab := wins[0]
	thrBand := results.Median(inWindow(thr, stab))
	thrLow := thrBand - max(3*mad(inWindow(thr, stab)), 0.05*thrBand)
	erStab := inWindow(er, stab)
	erHigh := results.Median(erStab) + max(3*mad(erStab), 0.001)

	removed := fw.end
	rec := window{removed, wins[2].end}
	hold := min(c.cfg.RecoverHold, rec.dur().Truncate(time.Second))
	inBand := map[int64]bool{}
	var ts []time.Time
	for i, p := range thr {
		if !rec.contains(p.t) {
			continue
		}
		ok := p.v >= thrLow && i < len(er) && er[i].t.Equal(p.t) && !math.IsNaN(er[i].v) && er[i].v <= erHigh
		inBand[p.t.Unix()] = ok
		ts = append(ts, p.t)
	}
	need := int(hold / time.Second)
	for i := range ts {
		if i+need > len(ts) {
			break
		}
		all := true
		for _, t := range ts[i : i+need] {
			all = all && inBand[t.Unix()]
		}
		if all {
			// The sample at ts[i] covers the second before it.
			d := max(0, ts[i].Add(-time.Second).Sub(removed).Seconds())
			return fig(name, unit, results.LowerIsBetter, round3(d))
		}
	}
	note := fmt.Sprintf("not back in the stabilization band for %s before the recovery phase ended (%s after the fault)", hold, rec.dur().Round(time.Second))
	// Say when it got back, if it did but too late to hold for long enough.
	tail := len(ts)
	for tail > 0 && inBand[ts[tail-1].Unix()] {
		tail--
	}
	if tail < len(ts) {
		note += fmt.Sprintf("; in the band from %s after the fault to the end", max(0, ts[tail].Add(-time.Second).Sub(removed)).Round(time.Second))
	}
	return missing(name, unit, results.LowerIsBetter, note)
}

// blastRadius: the error ratio (testing − stabilization) and the p99
// (testing / stabilization) on the servers without a fault.
func (c *collector) blastRadius(ctx context.Context, rs *results.Scenario, tgts []string, stab, test window) ([]results.Figure, error) {
	var others []string
	if p, ok := rs.Phase(manifest.PhaseStabilization); ok {
		for _, m := range p.Metrics {
			if srv := m.Labels["server"]; m.Name == "server_error_ratio" && !slices.Contains(tgts, srv) {
				others = append(others, srv)
			}
		}
	}
	if len(others) == 0 {
		note := "every server was faulted"
		return []results.Figure{
			missing(FigBlastErrorRatio, "ratio", results.LowerIsBetter, note),
			missing(FigBlastP99, "x", results.LowerIsBetter, note),
		}, nil
	}
	sel := fmt.Sprintf(`{server=~"%s"}`, strings.Join(others, "|"))
	var er, p99 [2]float64
	var okP [2]bool
	for i, w := range []window{stab, test} {
		r := promDuration(w.dur())
		num := fmt.Sprintf("sum(rate(%s%s[%s]))", mErrors, sel, r)
		den := fmt.Sprintf("sum(rate(%s%s[%s]))", mOps, sel, r)
		v, _, err := c.scalar(ctx, fmt.Sprintf("(%s / %s) or (%s * 0)", num, den, den), w.end)
		if err != nil {
			return nil, err
		}
		er[i] = v
		p99[i], okP[i], err = c.scalar(ctx, fmt.Sprintf("histogram_quantile(0.99, sum by (le)(rate(%s%s[%s])))", mSrvDuration, sel, r), w.end)
		if err != nil {
			return nil, err
		}
	}
	figs := []results.Figure{fig(FigBlastErrorRatio, "ratio", results.LowerIsBetter, round6(er[1]-er[0]))}
	if okP[0] && okP[1] && p99[0] > 0 {
		figs = append(figs, fig(FigBlastP99, "x", results.LowerIsBetter, round3(p99[1]/p99[0])))
	} else {
		figs = append(figs, missing(FigBlastP99, "x", results.LowerIsBetter, "no latency observed on the servers without a fault"))
	}
	return figs, nil
}

func seriesPoints(rs *results.Scenario, name string) []point {
	for _, s := range rs.Series {
		if s.Name == name {
			pts := make([]point, len(s.Values))
			for i, v := range s.Values {
				pts[i] = point{s.Start.Add(time.Duration(i) * time.Second), v}
			}
			return pts
		}
	}
	return nil
}

// mad is the median absolute deviation from the median.
func mad(vs []float64) float64 {
	m := results.Median(vs)
	dev := make([]float64, len(vs))
	for i, v := range vs {
		dev[i] = math.Abs(v - m)
	}
	return results.Median(dev)
}

func round3(v float64) float64 { return math.Round(v*1e3) / 1e3 }
func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }
