// Package resultstest builds SYNTHETIC results files for tests of the
// comparison and the reports: the 14 scenarios of DESIGN.md under the pr
// profile, with per-second series drawn from a seeded AR(1) noise model of
// realistic size (2 % on throughput, 5–10 % on latency), block means as
// per-arm values (relative noise per arm: 2 % on throughput, 5–10 % on latency),
// per-arm series and the resilience figures. They stand in until results.json
// files recorded from real runs are committed under testdata/.
//
// The model is deliberately simple and says nothing about a real client;
// its only job is to give the statistics realistic noise.
package resultstest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/collect/results"
	mcfault "github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// Scenarios are the 14 scenario names of DESIGN.md.
var Scenarios = []string{
	"packet-loss-2-pct", "packet-loss-5-pct", "packet-loss-10-pct", "packet-loss-20-pct", "packet-loss-50-pct", "packet-loss-100-pct",
	"latency-200ms-100ms", "latency-200ms-1s", "latency-200ms-5s", "latency-200ms-10s", "latency-200ms-40s", "latency-200ms-2m",
	"multi-failure-2-servers-packet-loss", "multi-failure-2-servers-latency",
}

// Options says what to synthesise. The zero value is one normal run of all
// 14 scenarios with seed 0.
type Options struct {
	RunID string // if empty, "synthetic-<seed>"
	Seed  uint64
	// Scenarios: if nil, all 14.
	Scenarios []string
	// Planted applies a planted regression: the client's breaker disabled.
	// Under loss, failures are slow timeouts instead of fast circuit_open
	// errors: testing throughput halves, the error ratio rises by half, p99
	// reaches the 1 s timeout, the breaker never opens.
	Planted bool
	// Slow adds this many seconds to every latency of the head side, in
	// every phase: a client made slower on every operation.
	Slow float64
	// FalseEject: the head side's breaker opens 1 s into the fault of the
	// ride-through latency scenarios (a server slow but answering within
	// the timeout, ejected).
	FalseEject bool
	// IntegrityIn names a scenario with one integrity violation in testing.
	IntegrityIn string
	// Fidelity of packet-loss faults. If empty, per-connection.
	Fidelity string
	// CPUs of the host. If zero, 2.
	CPUs int
	// Arms per side. If zero, 5.
	Arms int
	// Paired: the run has a base side besides the head side; Planted then
	// changes the head side only.
	Paired bool
	// Start of the run. If zero, 2026-11-27 12:00 UTC.
	Start time.Time
}

// File returns a results file with one run per seed in seeds (repeated runs
// when there are several).
func File(o Options, seeds ...uint64) *results.File {
	if len(seeds) == 0 {
		seeds = []uint64{o.Seed}
	}
	f := &results.File{SchemaVersion: results.SchemaVersion}
	for i, s := range seeds {
		oo := o
		oo.Seed = s
		if o.RunID != "" && len(seeds) > 1 {
			oo.RunID = fmt.Sprintf("%s-%d", o.RunID, i+1)
		}
		f.Runs = append(f.Runs, Run(oo))
	}
	return f
}

// fault is what a scenario does during testing, as multipliers and levels.
type fault struct {
	kind     string
	targets  []string
	params   mcfault.Params
	errRatio float64       // overall error ratio during the fault
	p99      float64       // seconds
	length   time.Duration // testing phase length under pr
	detect   float64       // seconds; <0: breaker does not open
	loss     bool
	expect   string
}

func scenarioFault(name string) fault {
	switch {
	case strings.HasPrefix(name, "packet-loss-"):
		var pct float64
		fmt.Sscanf(strings.TrimPrefix(name, "packet-loss-"), "%g", &pct)
		f := fault{kind: "packet_loss", targets: []string{"mc1"}, params: &mcfault.PacketLoss{LossPct: pct},
			errRatio: pct / 100 / 3 * 0.9, p99: 0.002 + pct/100*0.1, length: 30 * time.Second, detect: 0.4 + (100-pct)/50, loss: true, expect: manifest.ExpectDetect}
		if pct < 50 {
			f.detect, f.expect = -1, manifest.ExpectRideThrough
		}
		return f
	case strings.HasPrefix(name, "latency-200ms-"):
		d, _ := time.ParseDuration(strings.TrimPrefix(name, "latency-200ms-"))
		return fault{kind: "latency", targets: []string{"mc1"}, params: &mcfault.Latency{LatencyMS: 200},
			errRatio: 0.03, p99: 0.2, length: d, detect: -1, expect: manifest.ExpectRideThrough}
	case name == "multi-failure-2-servers-packet-loss":
		return fault{kind: "packet_loss", targets: []string{"mc1", "mc2"}, params: &mcfault.PacketLoss{LossPct: 100},
			errRatio: 0.6, p99: 0.1, length: 30 * time.Second, detect: 0.5, loss: true, expect: manifest.ExpectDetect}
	}
	return fault{kind: "latency", targets: []string{"mc1", "mc2"}, params: &mcfault.Latency{LatencyMS: 500},
		errRatio: 0.1, p99: 0.5, length: 30 * time.Second, detect: 8, expect: manifest.ExpectDetect}
}

// Run synthesises one run.
func Run(o Options) results.Run {
	if o.RunID == "" {
		o.RunID = fmt.Sprintf("synthetic-%d", o.Seed)
	}
	if o.Scenarios == nil {
		o.Scenarios = Scenarios
	}
	if o.CPUs == 0 {
		o.CPUs = 2
	}
	if o.Arms == 0 {
		o.Arms = 5
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	}
	fid := o.Fidelity
	if fid == "" {
		fid = manifest.FidelityPerConnection
	}
	r := rand.New(rand.NewPCG(o.Seed, 0x6d63636861))
	run := results.Run{RunID: o.RunID, GitCommit: fmt.Sprintf("%040x", o.Seed+1), Client: "mcchaos", ClientVersion: "v0.0.0-synthetic",
		Workload: "mixed", Mode: "closed", Profile: "pr", Stack: "local", Status: manifest.StatusPassed,
		Host: results.Host{CPUs: o.CPUs, GoVersion: "go1.26.0", OS: "linux", Arch: "amd64"}, Start: o.Start,
		IntegrityViolations: map[string]results.Values{}}
	for _, side := range o.sides() {
		run.Sides = append(run.Sides, results.Side{Name: side, Arms: o.Arms, Client: "mcchaos", ClientVersion: "v0.0.0-synthetic"})
		run.IntegrityViolations[side] = make(results.Values, o.Arms)
	}
	if o.IntegrityIn != "" {
		run.IntegrityViolations[results.SideHead][0] = 1
	}
	t := o.Start
	for _, name := range o.Scenarios {
		f := scenarioFault(name)
		f.length = min(f.length, 30*time.Second)
		if strings.HasPrefix(name, "latency-200ms-") {
			f.length = scenarioFault(name).length // named durations run as named
		}
		fidelity := manifest.FidelityExact
		injector := manifest.InjectorToxiproxy
		if f.loss {
			fidelity = fid
			if fid == manifest.FidelityPerPacket {
				injector = manifest.InjectorNetfilter
			}
		}
		sc := synthScenario(r, o, name, f, t, fidelity, injector)
		run.Scenarios = append(run.Scenarios, sc)
		t = sc.Phases[2].End.Add(time.Second)
	}
	run.End = t
	run.CollectedAt = t.Add(5 * time.Second)
	return run
}

// armsOf returns per side one value per arm: level × (1 + sd·N(0,1)),
// never below 0; planted, when not nil, maps the head side's level.
func armsOf(r *rand.Rand, o Options, level, sd float64, planted func(float64) float64) map[string]results.Values {
	out := map[string]results.Values{}
	for _, side := range o.sides() {
		l := level
		if side == results.SideHead && planted != nil {
			l = planted(level)
		}
		vs := make(results.Values, o.Arms)
		for i := range vs {
			if math.IsInf(l, 0) || math.IsNaN(l) {
				vs[i] = l
				continue
			}
			vs[i] = round(max(0, l*(1+sd*r.NormFloat64())))
		}
		out[side] = vs
	}
	return out
}

func (o Options) sides() []string {
	if o.Paired {
		return []string{results.SideHead, results.SideBase}
	}
	return []string{results.SideHead}
}

func synthScenario(r *rand.Rand, o Options, name string, f fault, t time.Time, fidelity, injector string) results.Scenario {
	planted := o.Planted && f.loss
	stab, rec := 10*time.Second, 15*time.Second
	ph := [4]time.Time{t, t.Add(stab), t.Add(stab + f.length), t.Add(stab + f.length + rec)}
	var arms []manifest.ArmFault
	for _, side := range o.sides() {
		for a := 1; a <= o.Arms; a++ {
			d := time.Duration(r.IntN(3000)) * time.Microsecond
			arms = append(arms, manifest.ArmFault{Side: side, Arm: a, Applied: ph[1].Add(d), Removed: ph[2].Add(d)})
		}
	}
	sc := results.Scenario{Name: name, Description: "synthetic " + name, Status: manifest.StatusPassed, Fidelity: fidelity,
		Expect: f.expect, ExpectWhy: "synthetic",
		Faults: []manifest.Fault{{Fault: mcfault.On(f.params, f.targets...), Made: manifest.Made{Injector: injector, Fidelity: fidelity,
			Nominal: manifest.Duration(f.length), Applied: ph[1], Removed: ph[2], Arms: arms}}}}
	// Levels by phase: throughput, error ratio, p50, p99.
	base := 1000.0
	type level struct{ thr, er, p50, p99 float64 }
	test := level{base * (1 - f.errRatio) * 0.9, f.errRatio, 0.0004, f.p99}
	levels := []level{{base, 0, 0.0003, 0.0015}, test, {base, 0, 0.0003, 0.0015}}
	ejected := o.FalseEject && f.expect == manifest.ExpectRideThrough && f.kind == "latency"
	var plant func(k int, metric string) func(float64) float64
	plant = func(k int, metric string) func(float64) float64 {
		switch {
		case o.Slow > 0 && strings.HasPrefix(metric, "latency_"):
			return func(v float64) float64 { return v + o.Slow }
		case ejected && metric == "time_to_detect":
			return func(float64) float64 { return 1 }
		case ejected && k == 1 && metric == "breaker_open":
			return func(float64) float64 { return math.Max(0, f.length.Seconds()-1) }
		}
		if !planted {
			return nil
		}
		switch {
		case k == 1 && metric == "throughput":
			return func(v float64) float64 { return v * 0.5 }
		case k == 1 && metric == "error_ratio":
			return func(v float64) float64 { return v * 1.5 }
		case k == 1 && metric == "latency_p99":
			return func(float64) float64 { return 1.0 }
		case metric == "time_to_detect":
			return func(float64) float64 { return math.Inf(1) }
		}
		return nil
	}
	span := ph[3].Sub(ph[0])
	n := int(span/time.Second) + 1
	for _, s := range []string{"throughput", "errors", "error_ratio", "latency_p99"} {
		unit := map[string]string{"throughput": "ops/s", "errors": "errors/s", "error_ratio": "ratio", "latency_p99": "s"}[s]
		ser := results.Series{Name: s, Unit: unit, Start: ph[0], StepS: 1, Arms: map[string][]results.Values{}}
		for _, side := range o.sides() {
			for range o.Arms {
				vs := make(results.Values, n)
				for i := range vs {
					at := ph[0].Add(time.Duration(i) * time.Second)
					l := levels[0]
					if at.After(ph[1]) && !at.After(ph[1].Add(max(f.length, 3*time.Second))) {
						l = levels[1]
					}
					v := map[string]float64{"throughput": l.thr, "errors": l.thr * l.er, "error_ratio": l.er, "latency_p99": l.p99}[s]
					vs[i] = round(max(0, v*(1+0.03*r.NormFloat64())))
				}
				ser.Arms[side] = append(ser.Arms[side], vs)
			}
		}
		sc.Series = append(sc.Series, ser)
	}
	short := f.length < 5*time.Second
	for k, pn := range manifest.Phases {
		p := results.Phase{Name: pn, Start: ph[k], End: ph[k+1], WindowStart: ph[k], WindowEnd: ph[k+1]}
		sc.Phases = append(sc.Phases, p)
		if k == 1 && short {
			continue
		}
		l := levels[k]
		ps := &sc.Phases[k]
		add := func(name string, labels map[string]string, unit string, dir results.Direction, mean, sd float64) {
			ps.Metrics = append(ps.Metrics, results.Metric{Name: name, Labels: labels, Unit: unit, Direction: dir,
				Arms: armsOf(r, o, mean, sd, plant(k, name))})
		}
		add("throughput", nil, "ops/s", results.HigherIsBetter, l.thr, 0.02)
		add("offered", nil, "ops/s", results.Informational, base, 0)
		add("error_ratio", nil, "ratio", results.LowerIsBetter, l.er, 0.05)
		classes := map[string]float64{"circuit_open": 0.7, "timeout": 0.3}
		for _, c := range []string{"circuit_open", "conn_refused", "conn_reset", "other", "pool_timeout", "protocol", "timeout"} {
			add("error_ratio", map[string]string{"class": c}, "ratio", results.Informational, l.er*classes[c], 0.05)
		}
		for _, q := range []struct {
			s string
			v float64
		}{{"p50", l.p50}, {"p90", (l.p50 + l.p99) / 2}, {"p99", l.p99}, {"p999", l.p99 * 1.5}} {
			for _, op := range []string{"all", "get", "set"} {
				add("latency_"+q.s, map[string]string{"op": op}, "s", results.LowerIsBetter, q.v, 0.08)
			}
		}
		for _, srv := range []string{"mc1", "mc2", "mc3"} {
			faulted := k == 1 && strings.Contains(strings.Join(f.targets, ","), srv)
			er, p99 := 0.0, 0.0015
			if faulted {
				er, p99 = min(1, l.er*3/float64(len(f.targets))), l.p99
			}
			add("server_error_ratio", map[string]string{"server": srv}, "ratio", results.LowerIsBetter, er, 0.05)
			add("server_latency_p99", map[string]string{"server": srv}, "s", results.LowerIsBetter, p99, 0.08)
			open := 0.0
			if faulted && f.detect >= 0 {
				open = f.length.Seconds() - f.detect
			}
			if faulted {
				add("breaker_open", map[string]string{"server": srv}, "s", results.Informational, math.Round(open), 0)
			} else {
				ps.Metrics = append(ps.Metrics, results.Metric{Name: "breaker_open", Labels: map[string]string{"server": srv}, Unit: "s",
					Direction: results.Informational, Arms: armsOf(r, o, 0, 0, nil)})
			}
		}
		add("breaker_transitions", nil, "count", results.Informational, 0, 0)
		add("connections_created", nil, "count", results.LowerIsBetter, 10, 0.2)
		iv := 0.0
		if name == o.IntegrityIn && k == 1 {
			iv = 1
		}
		add("integrity_violations", nil, "count", results.LowerIsBetter, iv, 0)
		add("dropped_operations", nil, "count", results.LowerIsBetter, 0, 0)
	}
	fig := func(name, unit string, dir results.Direction, v, sd float64) results.Metric {
		return results.Metric{Name: name, Unit: unit, Direction: dir, Arms: armsOf(r, o, v, sd, plant(-1, name))}
	}
	if short {
		sc.Event = &results.Phase{Name: "fault_event", Start: ph[1], End: ph[2], WindowStart: ph[1], WindowEnd: ph[1].Add(5 * time.Second),
			Metrics: []results.Metric{
				fig("failed_operations", "count", results.LowerIsBetter, math.Round(base*f.errRatio*2), 0.1),
				fig("peak_latency_p99", "s", results.LowerIsBetter, f.p99, 0.05),
			}}
	}
	detect := f.detect
	if detect < 0 {
		detect = math.Inf(1)
	}
	ttd := fig("time_to_detect", "s", results.LowerIsBetter, detect, 0.1)
	if math.IsInf(detect, 1) || planted {
		ttd.Notes = []string{"not reached: the breaker of mc1 did not open during the fault"}
	}
	sc.Resilience = []results.Metric{
		ttd,
		fig("time_to_recover", "s", results.LowerIsBetter, 2, 0.2),
		fig("blast_radius_error_ratio", "ratio", results.LowerIsBetter, 0, 0),
		fig("blast_radius_p99", "x", results.LowerIsBetter, 1.05, 0.05),
		fig("errors_during_fault", "count", results.LowerIsBetter, math.Round(test.thr*test.er*f.length.Seconds()), 0.1),
		fig("breaker_flaps", "count", results.Informational, 0, 0),
	}
	iv := 0.0
	if name == o.IntegrityIn {
		iv = 1
	}
	integ := fig("integrity_violations", "count", results.LowerIsBetter, 0, 0)
	if iv > 0 {
		integ.Arms[results.SideHead][0] = 1
	}
	sc.Resilience = append(sc.Resilience, integ)
	return sc
}

func round(v float64) float64 { return math.Round(v*1e6) / 1e6 }
