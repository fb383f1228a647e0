package compare

import (
	"github.com/mcchaos/mcchaos/collect/internal/robust"
	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// gathered is one scenario's rows on one side: per key, the arm values of
// every run, in first-seen order.
type gathered struct {
	side  string
	sc    *results.Scenario
	order []Key
	vals  map[Key]results.Values
	meta  map[Key]results.Metric
}

func gather(src *source, name string) *gathered {
	if src == nil {
		return nil
	}
	g := &gathered{side: src.side, vals: map[Key]results.Values{}, meta: map[Key]results.Metric{}}
	add := func(phase string, m results.Metric) {
		vs, ok := m.Arms[src.side]
		if !ok {
			return
		}
		k := Key{Phase: phase, Name: m.Name, Labels: results.LabelString(m.Labels)}
		if _, seen := g.meta[k]; !seen {
			g.order = append(g.order, k)
			g.meta[k] = m
		}
		g.vals[k] = append(g.vals[k], vs...)
	}
	for _, r := range src.f.Runs {
		sc, ok := r.Scenario(name)
		if !ok {
			continue
		}
		if _, ok := r.Side(src.side); !ok {
			continue
		}
		if g.sc == nil {
			g.sc = sc
		}
		for _, p := range sc.Phases {
			for _, m := range p.Metrics {
				add(p.Name, m)
			}
		}
		if sc.Event != nil {
			for _, m := range sc.Event.Metrics {
				add(PhaseEvent, m)
			}
		}
		for _, m := range sc.Resilience {
			add(PhaseResilience, m)
		}
	}
	if g.sc == nil {
		return nil
	}
	return g
}

// SteadyMaxErrorRatio is the steady-state hypothesis checked before every
// fault (as Chaos Toolkit checks one before its method): a side whose
// median arm failed more than this share of operations in stabilization
// was not healthy before the fault. Both sides so → the scenario is
// invalid (a starved machine, or a previous scenario not yet recovered);
// one side → a warning (that may be the client itself).
const SteadyMaxErrorRatio = 0.05

// unsteady returns how g's side broke the steady state of its scenario,
// or nil (also for a nil g: the side does not have the scenario).
func (g *gathered) unsteady() *Unsteady {
	if g == nil {
		return nil
	}
	vs, ok := g.vals[Key{Phase: manifest.PhaseStabilization, Name: "error_ratio"}]
	if !ok || len(vs.Defined()) == 0 {
		return nil
	}
	if m := robust.Median(vs.Defined()); m > SteadyMaxErrorRatio {
		return &Unsteady{Side: g.side, ErrorRatio: m, Limit: SteadyMaxErrorRatio}
	}
	return nil
}

// invalid reports whether g's run marked its scenario invalid (false
// for a nil g).
func (g *gathered) invalid() bool {
	return g != nil && g.sc.Status == manifest.StatusInvalid
}

// faultSpread is the largest applied or removed spread of the scenario's
// faults over the arms, nil when the manifest has no per-arm times.
func faultSpread(sc *results.Scenario) *float64 {
	var worst float64
	found := false
	for i := range sc.Faults {
		f := &sc.Faults[i]
		if len(f.Arms) < 2 {
			continue
		}
		a, r := f.Spread()
		worst = max(worst, a.Seconds(), r.Seconds())
		found = true
	}
	if !found {
		return nil
	}
	return &worst
}
