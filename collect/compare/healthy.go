package compare

import (
	"math"

	"github.com/mcchaos/mcchaos/collect/internal/robust"
	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// Goodput is the healthy path's throughput against offered load.
const Goodput = "goodput"

// HealthyFamily is the run-level healthy-path family: from every
// stabilization window, per arm, the median over the run's compared
// scenarios. A client made slower on every operation shows here even
// where no fault changes anything.
var HealthyFamily = []Gate{
	{Key: Key{Phase: PhaseHealthy, Name: "latency_p50", Labels: "op=all"}, Policy: "healthy_latency_p50"},
	{Key: Key{Phase: PhaseHealthy, Name: "latency_p99", Labels: "op=all"}, Policy: "healthy_latency_p99"},
	{Key: Key{Phase: PhaseHealthy, Name: Goodput}, Policy: "healthy_goodput"},
	{Key: Key{Phase: PhaseHealthy, Name: "error_ratio"}, Policy: "healthy_error_ratio"},
}

// compareHealthy compares the healthy-path family: per arm, the median of
// its stabilization values over the compared scenarios. b and h are the
// gathered sides of those scenarios, in one order.
func compareHealthy(cfg Config, b, h []*gathered, kB, kH int, problems *[]Issue) []Row {
	var rows []Row
	for _, g := range cfg.Healthy {
		meta := healthyMeta(g.Key)
		bv, hv := healthyArms(b, kB, g.Key), healthyArms(h, kH, g.Key)
		row := compareRow(cfg, g.Key, g, true, meta, bv, hv, true)
		checkGatingRow("", row, kB, kH, problems)
		rows = append(rows, row)
	}
	return rows
}

// healthyArms is, per arm of k, the median of its healthy-path values of
// key over the scenarios gs.
func healthyArms(gs []*gathered, k int, key Key) results.Values {
	out := make(results.Values, k)
	for i := range out {
		var vs []float64
		for _, g := range gs {
			x := healthyValues(g, key)
			if i < len(x) && !math.IsNaN(x[i]) {
				vs = append(vs, x[i])
			}
		}
		out[i] = math.NaN()
		if len(vs) > 0 {
			out[i] = robust.Median(vs)
		}
	}
	return out
}

// healthyMeta is the unit and direction of a healthy-path figure.
func healthyMeta(key Key) results.Metric {
	meta := results.Metric{Name: key.Name, Unit: "s", Direction: results.LowerIsBetter}
	switch key.Name {
	case Goodput:
		meta.Unit, meta.Direction = "ratio", results.HigherIsBetter
	case "error_ratio":
		meta.Unit = "ratio"
	}
	return meta
}

// healthyValues are g's per-arm stabilization values of a healthy-path
// key: goodput is throughput over offered load.
func healthyValues(g *gathered, k Key) results.Values {
	stab := func(name, labels string) results.Values {
		return g.vals[Key{Phase: manifest.PhaseStabilization, Name: name, Labels: labels}]
	}
	if k.Name != Goodput {
		return stab(k.Name, k.Labels)
	}
	th, off := stab("throughput", ""), stab("offered", "")
	out := make(results.Values, len(th))
	for i := range out {
		out[i] = math.NaN()
		if i < len(off) && off[i] > 0 {
			out[i] = th[i] / off[i]
		}
	}
	return out
}
