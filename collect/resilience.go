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

	stats "github.com/mcchaos/mcchaos/collect/internal/robust"
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
	// What the client did to the network under the fault.
	FigDialRate        = "dial_rate_during_fault"
	FigGoroutineGrowth = "goroutine_growth"
	FigConnGrowth      = "connection_growth"
	FigSpillShare      = "spill_share"
	FigAmplification   = "retry_amplification"
)

// Event figure names: a short fault measured from its start to a few
// seconds after it.
const (
	EventFailedOps = "failed_operations"
	EventPeakP99   = "peak_latency_p99"
	// PhaseEvent is the name of a scenario's event window.
	PhaseEvent = "fault_event"
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

// armFault is the fault window of one arm: its own applied and removed
// times from the manifest (the latest applied and removed over the
// scenario's faults), or fw when the manifest has none for it.
func armFault(s manifest.Scenario, a armID, fw window) window {
	w := fw
	var applied, removed time.Time
	for _, f := range s.Faults {
		for _, af := range f.Arms {
			if af.Side == a.side && af.Arm == a.arm {
				if af.Applied.After(applied) {
					applied = af.Applied
				}
				if af.Removed.After(removed) {
					removed = af.Removed
				}
			}
		}
	}
	if !applied.IsZero() {
		w.start = applied
	}
	if removed.After(w.start) {
		w.end = removed
	}
	return w
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

func (c *collector) figure(name, unit string, dir results.Direction) results.Metric {
	return results.Metric{Name: name, Unit: unit, Direction: dir, Arms: c.blank()}
}

// event measures a short fault (a testing phase shorter than MinWindow)
// from its start to EventWindow after it, cut at the scenario's end: the
// operations that failed and the peak per-second p99, per arm. The
// per-second p99 uses irate, whose points each cover one scrape interval,
// so only the first point can hold operations from before the fault.
func (c *collector) event(ctx context.Context, s manifest.Scenario, rs *results.Scenario) error {
	tp, ok := s.Phase(manifest.PhaseTesting)
	if !ok || tp.End.IsZero() || tp.End.Sub(tp.Start) >= c.cfg.MinWindow {
		return nil
	}
	fw, _ := faultWindow(s)
	last := s.Phases[len(s.Phases)-1]
	end := fw.start.Add(c.cfg.EventWindow)
	if !last.End.IsZero() && last.End.Before(end) {
		end = last.End
	}
	w := window{fw.start, end}
	ev := &results.Phase{Name: PhaseEvent, Start: fw.start, End: fw.end, WindowStart: w.start, WindowEnd: w.end}

	failed, err := c.perArm(ctx, countDelta(mErrors, "", w.dur()), w.end, "", true)
	if err != nil {
		return err
	}
	m := c.figure(EventFailedOps, "count", results.LowerIsBetter)
	m.Arms = failed[""]
	for _, vs := range m.Arms {
		for i := range vs {
			vs[i] = math.Round(vs[i])
		}
	}
	ev.Metrics = append(ev.Metrics, m)

	q := fmt.Sprintf("max_over_time((%s)[%s:1s])", expand(quantile(0.99, mOpDuration), "irate", promDuration(c.cfg.Lookback)), promDuration(w.dur()))
	peak, err := c.perArm(ctx, q, w.end, "", false)
	if err != nil {
		return err
	}
	m = c.figure(EventPeakP99, "s", results.LowerIsBetter)
	m.Arms = peak[""]
	ev.Metrics = append(ev.Metrics, m)
	rs.Event = ev
	rs.Notes = append(rs.Notes, fmt.Sprintf("the fault lasted %s: measured as an event from its start over %s (failed operations, peak p99), besides time to recover",
		fw.dur().Round(time.Millisecond), w.dur().Round(time.Millisecond)))
	return nil
}

// resilience derives the scenario's resilience figures per arm (see the
// report's glossary for their definitions).
func (c *collector) resilience(ctx context.Context, s manifest.Scenario, rs *results.Scenario, wins []window) ([]results.Metric, error) {
	fw, ok := faultWindow(s)
	if !ok || len(wins) < 2 {
		return nil, nil
	}
	testWin := wins[1]
	tgts := targets(s)
	var figs []results.Metric

	d, err := c.timeToDetect(ctx, s, tgts, fw)
	if err != nil {
		return nil, err
	}
	figs = append(figs, d, c.timeToRecover(s, rs, wins, fw))

	blast, err := c.blastRadius(ctx, tgts, wins[0], testWin)
	if err != nil {
		return nil, err
	}
	figs = append(figs, blast...)

	errs, err := c.perArm(ctx, countDelta(mErrors, "", testWin.dur()), testWin.end, "", true)
	if err != nil {
		return nil, err
	}
	m := c.figure(FigErrorsDuringFault, "count", results.LowerIsBetter)
	m.Arms = errs[""]
	figs = append(figs, m)

	last := wins[len(wins)-1].end
	opens, err := c.perArm(ctx, countDelta(mTransitions+`{to="open"}`, "server", last.Sub(fw.start)), last, "server", false)
	if err != nil {
		return nil, err
	}
	m = c.figure(FigBreakerFlaps, "count", results.Informational)
	for side, vs := range m.Arms {
		for i := range vs {
			vs[i] = 0
			for _, bySrv := range opens {
				if v := bySrv[side][i]; !math.IsNaN(v) {
					vs[i] += max(0, math.Round(v)-1)
				}
			}
		}
	}
	figs = append(figs, m)

	iv, err := c.perArm(ctx, countDelta(mIntegrity, "", last.Sub(wins[0].start)), last, "", true)
	if err != nil {
		return nil, err
	}
	m = c.figure(FigIntegrity, "count", results.LowerIsBetter)
	m.Arms = iv[""]
	figs = append(figs, m)

	net, err := c.network(ctx, tgts, fw, wins)
	if err != nil {
		return nil, err
	}
	figs = append(figs, net...)
	for _, f := range figs {
		for _, vs := range f.Arms {
			for i := range vs {
				if f.Unit == "count" && !math.IsInf(vs[i], 0) {
					vs[i] = math.Round(vs[i])
				}
			}
		}
	}
	return figs, nil
}

// timeToDetect: the arm's fault applied → the breaker of every faulted
// server has opened on that arm, from the exact transition timestamps the
// client exports. Looked for until the fault is removed, and at least
// MinWindow after it was applied; not reached (+Inf) otherwise.
func (c *collector) timeToDetect(ctx context.Context, s manifest.Scenario, tgts []string, fw window) (results.Metric, error) {
	m := c.figure(FigTimeToDetect, "s", results.LowerIsBetter)
	if len(tgts) == 0 {
		m.Notes = append(m.Notes, "no faulted server")
		return m, nil
	}
	end := fw.end
	if end.Sub(fw.start) < c.cfg.MinWindow {
		end = fw.start.Add(c.cfg.MinWindow)
	}
	q := fmt.Sprintf(`max %s (%s{to="open",server=~"%s"})`, arms("server"), mLastTransit, strings.Join(tgts, "|"))
	v, _, _, err := c.q.QueryRange(ctx, q, v1.Range{Start: fw.start.Truncate(time.Second), End: end.Add(c.cfg.Lookback), Step: time.Second})
	if err != nil {
		return m, fmt.Errorf("%w: query_range %s: %v", ErrPrometheus, q, err)
	}
	mat, _ := v.(model.Matrix)
	stamps := map[armID]map[string][]float64{}
	for _, ss := range mat {
		a, ok := armOf(ss.Metric)
		if !ok {
			continue
		}
		if stamps[a] == nil {
			stamps[a] = map[string][]float64{}
		}
		srv := string(ss.Metric["server"])
		for _, p := range ss.Values {
			stamps[a][srv] = append(stamps[a][srv], float64(p.Value))
		}
	}
	var notOpen []string
	for _, a := range c.arms() {
		aw := armFault(s, a, fw)
		from := float64(aw.start.UnixNano()) / 1e9
		until := aw.end
		if until.Sub(aw.start) < c.cfg.MinWindow {
			until = aw.start.Add(c.cfg.MinWindow)
		}
		to := float64(until.UnixNano()) / 1e9
		worst := 0.0
		for _, t := range tgts {
			first := math.Inf(1)
			for _, ts := range stamps[a][t] {
				if ts >= from && ts <= to {
					first = min(first, ts)
				}
			}
			worst = max(worst, first-from)
		}
		if math.IsInf(worst, 1) {
			notOpen = append(notOpen, a.String())
		} else {
			worst = round3(worst)
		}
		set(m.Arms, a, worst)
	}
	if len(notOpen) > 0 {
		m.Notes = append(m.Notes, fmt.Sprintf("not reached on %s: the breaker of %s did not open during the fault", strings.Join(notOpen, ", "), strings.Join(tgts, ", ")))
	}
	return m, nil
}

// timeToRecover: the arm's fault removed → the arm's per-second error
// ratio and throughput are back inside its own stabilization band and stay
// there for RecoverHold; not reached (+Inf) if that did not happen before
// the recovery phase ended.
func (c *collector) timeToRecover(s manifest.Scenario, rs *results.Scenario, wins []window, fw window) results.Metric {
	m := c.figure(FigTimeToRecover, "s", results.LowerIsBetter)
	if len(wins) < 3 {
		m.Notes = append(m.Notes, "no recovery phase")
		return m
	}
	thrS, erS := findSeries(rs, SeriesThroughput), findSeries(rs, SeriesErrorRatio)
	var notRec, noBand []string
	for _, a := range c.arms() {
		thr, er := armPoints(thrS, a), armPoints(erS, a)
		stab := inWindow(thr, wins[0])
		erStab := inWindow(er, wins[0])
		thrMed := stats.Median(stab)
		if len(stab) == 0 || len(erStab) == 0 || !(thrMed > 0) {
			noBand = append(noBand, a.String())
			continue // no data: NaN
		}
		thrLow := thrMed - max(3*stats.MAD(stab), 0.05*thrMed)
		erHigh := stats.Median(erStab) + max(3*stats.MAD(erStab), 0.001)
		removed := armFault(s, a, fw).end
		rec := window{removed, wins[2].end}
		hold := min(c.cfg.RecoverHold, rec.dur().Truncate(time.Second))
		need := int(hold / time.Second)
		var ts []time.Time
		inBand := map[int64]bool{}
		for i, p := range thr {
			if !rec.contains(p.t) {
				continue
			}
			ok := !math.IsNaN(p.v) && p.v >= thrLow && i < len(er) && !math.IsNaN(er[i].v) && er[i].v <= erHigh
			inBand[p.t.Unix()] = ok
			ts = append(ts, p.t)
		}
		d := math.Inf(1)
		for i := range ts {
			if i+need > len(ts) {
				break
			}
			all := true
			for _, t := range ts[i : i+need] {
				all = all && inBand[t.Unix()]
			}
			if all {
				// The point at ts[i] covers the scrape interval before it.
				d = round3(max(0, ts[i].Add(-time.Second).Sub(removed).Seconds()))
				break
			}
		}
		if math.IsInf(d, 1) {
			notRec = append(notRec, a.String())
		}
		set(m.Arms, a, d)
	}
	if len(notRec) > 0 {
		m.Notes = append(m.Notes, fmt.Sprintf("not reached on %s: not back in its stabilization band for %s before the recovery phase ended", strings.Join(notRec, ", "), c.cfg.RecoverHold))
	}
	if len(noBand) > 0 {
		m.Notes = append(m.Notes, fmt.Sprintf("no data on %s: no operations in stabilization, so no band to recover to", strings.Join(noBand, ", ")))
	}
	return m
}

// blastRadius: per arm, the error ratio (testing − stabilization) and the
// p99 (testing / stabilization) on the servers without a fault.
func (c *collector) blastRadius(ctx context.Context, tgts []string, stab, test window) ([]results.Metric, error) {
	er := c.figure(FigBlastErrorRatio, "ratio", results.LowerIsBetter)
	p99 := c.figure(FigBlastP99, "x", results.LowerIsBetter)
	var others []string
	for _, s := range []string{"mc1", "mc2", "mc3"} {
		if !slices.Contains(tgts, s) {
			others = append(others, s)
		}
	}
	if len(others) == 0 {
		er.Notes = append(er.Notes, "every server was faulted")
		p99.Notes = er.Notes
		return []results.Metric{er, p99}, nil
	}
	sel := fmt.Sprintf(`{server=~"%s"}`, strings.Join(others, "|"))
	var ers, ps [2]map[string]results.Values
	for i, w := range []window{stab, test} {
		r := promDuration(w.dur())
		v, err := c.perArm(ctx, expand(ratio(mErrors+sel, mOps+sel), "rate", r), w.end, "", false)
		if err != nil {
			return nil, err
		}
		ers[i] = v[""]
		v, err = c.perArm(ctx, expand(quantile(0.99, mSrvDuration+sel), "rate", r), w.end, "", false)
		if err != nil {
			return nil, err
		}
		ps[i] = v[""]
	}
	for side, vs := range er.Arms {
		for i := range vs {
			vs[i] = round6(ers[1][side][i] - ers[0][side][i])
			if b := ps[0][side][i]; b > 0 {
				p99.Arms[side][i] = round3(ps[1][side][i] / b)
			}
		}
	}
	return []results.Metric{er, p99}, nil
}

// network derives what the client did to the network under the fault,
// per arm: connections created per second while the fault was on (a dial
// storm), goroutines and open connections at the end of recovery against
// stabilization (leaks), and for a single-server fault the requests
// written to the other servers per operation (spill).
func (c *collector) network(ctx context.Context, tgts []string, fw window, wins []window) ([]results.Metric, error) {
	created, err := c.perArm(ctx, countDelta(mConnCreated, "", fw.dur()), fw.end, "", false)
	if err != nil {
		return nil, err
	}
	dial := c.figure(FigDialRate, "conn/s", results.LowerIsBetter)
	for side, vs := range created[""] {
		for i, v := range vs {
			dial.Arms[side][i] = round3(v / fw.dur().Seconds())
		}
	}
	figs := []results.Metric{dial}

	grow := []results.Metric{c.figure(FigGoroutineGrowth, "count", results.LowerIsBetter), c.figure(FigConnGrowth, "count", results.LowerIsBetter)}
	stab, rec := wins[0], wins[len(wins)-1]
	tail := window{maxTime(rec.start, rec.end.Add(-c.cfg.LeakTail)), rec.end}
	for i, gauge := range []string{mGoroutines, mConns} {
		if len(wins) < 3 {
			grow[i].Notes = append(grow[i].Notes, "no recovery phase")
			continue
		}
		var avg [2]map[string]results.Values
		for j, w := range []window{stab, tail} {
			v, err := c.perArm(ctx, fmt.Sprintf("sum %s (avg_over_time(%s[%s]))", arms(), gauge, promDuration(w.dur())), w.end, "", false)
			if err != nil {
				return nil, err
			}
			avg[j] = v[""]
		}
		for side, vs := range grow[i].Arms {
			for k := range vs {
				vs[k] = math.Round(avg[1][side][k] - avg[0][side][k])
			}
		}
	}
	figs = append(figs, grow...)
	sp, err := c.spill(ctx, tgts, wins[1])
	if err != nil {
		return nil, err
	}
	amp, err := c.amplification(ctx, tgts, wins[1])
	return append(figs, sp, amp), err
}

// amplification is the retry amplification on the faulted servers in the
// testing window: requests written to them per operation placed on them
// that their breaker let through (any result but circuit_open). A client
// that writes each such operation once has 1, or less when some fail
// before the write (no connection); retries raise it, and a retry refused
// by the breaker still leaves its first request counted.
func (c *collector) amplification(ctx context.Context, tgts []string, test window) (results.Metric, error) {
	m := c.figure(FigAmplification, "req/op", results.LowerIsBetter)
	if len(tgts) == 0 {
		m.Notes = append(m.Notes, "no faulted server")
		return m, nil
	}
	sel := fmt.Sprintf(`server=~"%s"`, strings.Join(tgts, "|"))
	r := promDuration(test.dur())
	q := fmt.Sprintf("%s / %s", expand(sumRate(mWire+"{"+sel+"}"), "rate", r), expand(sumRate(mOps+"{"+sel+`,result!="circuit_open"}`), "rate", r))
	v, err := c.perArm(ctx, q, test.end, "", false)
	if err != nil {
		return m, err
	}
	m.Notes = c.fill(&m, v[""])
	return m, nil
}

// fill sets m's arms from vals, rounded, and returns a note naming the
// arms without a value.
func (c *collector) fill(m *results.Metric, vals map[string]results.Values) []string {
	var none []string
	for _, a := range c.arms() {
		x := vals[a.side][a.arm-1]
		if math.IsNaN(x) || math.IsInf(x, 0) {
			none = append(none, a.String())
			continue
		}
		set(m.Arms, a, round6(x))
	}
	if len(none) == 0 {
		return m.Notes
	}
	return append(m.Notes, fmt.Sprintf("no data on %s: no operations, or a client that does not count its requests (%s)", strings.Join(none, ", "), mWire))
}

// spill is the spill share of a single-server fault: requests written to
// the servers without the fault per operation, in the testing window.
// Without failover or retries it is their share of the keys; operations
// sent elsewhere while their server is out raise it.
func (c *collector) spill(ctx context.Context, tgts []string, test window) (results.Metric, error) {
	m := c.figure(FigSpillShare, "ratio", results.Informational)
	if len(tgts) != 1 {
		m.Notes = append(m.Notes, fmt.Sprintf("measured for a single-server fault only (faulted: %s)", strings.Join(tgts, ", ")))
		return m, nil
	}
	r := promDuration(test.dur())
	q := fmt.Sprintf("%s / %s", expand(sumRate(fmt.Sprintf(`%s{server!="%s"}`, mWire, tgts[0])), "rate", r), expand(sumRate(mOps), "rate", r))
	v, err := c.perArm(ctx, q, test.end, "", false)
	if err != nil {
		return m, err
	}
	m.Notes = c.fill(&m, v[""])
	return m, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func findSeries(rs *results.Scenario, name string) *results.Series {
	for i := range rs.Series {
		if rs.Series[i].Name == name {
			return &rs.Series[i]
		}
	}
	return nil
}

// armPoints returns arm a's points of s.
func armPoints(s *results.Series, a armID) []point {
	if s == nil || a.arm > len(s.Arms[a.side]) {
		return nil
	}
	vals := s.Arms[a.side][a.arm-1]
	pts := make([]point, len(vals))
	for i, v := range vals {
		pts[i] = point{s.Start.Add(time.Duration(i) * time.Second), v}
	}
	return pts
}

func round3(v float64) float64 { return math.Round(v*1e3) / 1e3 }
func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }
