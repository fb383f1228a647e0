package compare

import "github.com/mcchaos/mcchaos/collect/results"

// Figure is one gating figure of one side of a run: its per-arm values, as
// Compare gathers them. Scenario is "" for the run-level healthy path.
type Figure struct {
	Scenario  string
	Key       Key
	Gate      Gate
	Unit      string
	Direction results.Direction
	Arms      results.Values
}

// GatingFigures returns the gating figures of one side of run, as Compare
// judges them: per scenario the family that applies to its expectation
// (false ejection derived from the breakers), then the healthy path over
// the scenarios that count. A scenario that is invalid or was not in a
// steady state before its fault is left out, as Compare leaves it out of
// any verdict. collect/history reads main's runs through it.
func GatingFigures(run *results.Run, side string, cfg Config) []Figure {
	cfg = cfg.withDefaults()
	src := &source{f: &results.File{SchemaVersion: results.SchemaVersion, Runs: []results.Run{*run}}, side: side}
	k := 0
	if sd, ok := run.Side(side); ok {
		k = sd.Arms
	}
	var out []Figure
	var healthy []*gathered
	for _, name := range src.f.ScenarioNames() {
		g := gather(src, name)
		if g == nil || g.invalid() || g.unsteady() != nil {
			continue
		}
		g.addFalseEjection()
		for _, key := range g.order {
			gt, ok := cfg.gate(key, g.sc.Expect)
			if !ok || key.Phase == PhaseHealthy {
				continue
			}
			m := g.meta[key]
			out = append(out, Figure{Scenario: name, Key: key, Gate: gt, Unit: m.Unit, Direction: m.Direction, Arms: g.vals[key]})
		}
		healthy = append(healthy, g)
	}
	if len(healthy) == 0 {
		return out
	}
	for _, gt := range cfg.Healthy {
		m := healthyMeta(gt.Key)
		out = append(out, Figure{Key: gt.Key, Gate: gt, Unit: m.Unit, Direction: m.Direction, Arms: healthyArms(healthy, k, gt.Key)})
	}
	return out
}
