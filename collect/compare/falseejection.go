package compare

import (
	"slices"

	"github.com/mcchaos/mcchaos/collect/results"
)

// FalseEjection is the resilience figure of ride-through scenarios: the
// seconds a faulted server's breaker stood open during the testing phase
// (summed over the faulted servers). A good client keeps it at 0.
const FalseEjection = "false_ejection"

// addFalseEjection derives FalseEjection per arm: the seconds the breakers
// of the scenario's faulted servers stood open in the testing phase.
func (g *gathered) addFalseEjection() {
	if g == nil {
		return
	}
	var targets []string
	for _, f := range g.sc.Faults {
		for _, t := range f.Targets {
			if !slices.Contains(targets, t) {
				targets = append(targets, t)
			}
		}
	}
	var sum results.Values
	for _, t := range targets {
		vs, ok := g.vals[Key{Phase: "testing", Name: "breaker_open", Labels: "server=" + t}]
		if !ok {
			continue
		}
		if sum == nil {
			sum = make(results.Values, len(vs))
		}
		for i := range min(len(vs), len(sum)) {
			sum[i] += vs[i] // NaN stays NaN: an arm without data has none
		}
	}
	if sum == nil {
		return
	}
	k := Key{Phase: PhaseResilience, Name: FalseEjection}
	g.order = append(g.order, k)
	g.vals[k] = sum
	g.meta[k] = results.Metric{Name: FalseEjection, Unit: "s", Direction: results.LowerIsBetter}
}
