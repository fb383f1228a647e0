// Package compare decides, figure by figure, whether the head side of a run
// differs from its base side (the base side of a paired run, or the head
// arms of a stored baseline). The samples are per-arm values: one value per
// arm per side, each arm a whole client instance run under the same faults
// at the same instant. The test is benchmath's Mann–Whitney U test (as
// benchstat); the effect is the Hodges–Lehmann estimate (the median of the
// head−base differences of all arm pairs) with its distribution-free
// confidence interval, from the same values.
//
// Only the gating family can fail a run: per scenario the critical figures
// of the fault, judged by the scenario's expectation (ride through or
// detect), and a run-level healthy-path family from every stabilization
// window. A gating row is a candidate when the U test is significant at
// Alpha, the change is worse and at least the policy's smallest change
// worth acting on (Policy). A candidate is a regression only when a second,
// independent stage (the scenario run again with fresh processes and a new
// arm order: Confirm) flags the same row the same way. For exchangeable
// arms a row is then falsely flagged with probability at most
// (Alpha/2)·(ConfirmAlpha/2), and a run of m gating rows at most m times
// that (Bonferroni): the bound
// is by construction, A/A runs measure the rate, and no host class needs a
// calibration. An integrity violation fails the run whatever the
// statistics say.
//
// Parsing (collect/results), statistics (here) and words (collect/report)
// never mix, as benchmath and benchtab in benchstat: a Diff holds numbers
// and codes only (row states, reasons, issues, the run's verdict), and
// diff.json is a Diff. The files: the decision rule (rule.go), the
// confirmation stage (confirm.go), the derived rows (falseejection.go,
// healthy.go), the run's verdict (verdict.go), findings (issues.go).
package compare

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// Defaults of Config.
const (
	// DefaultAlpha is the level of each U test, in each of the two stages.
	// 0.01 with 5 arms a side means every head arm beyond every base arm
	// (p = 0.008); with the confirmation stage a row is falsely flagged
	// with probability at most (0.01/2)·(0.05/2) = 1.25e-4.
	DefaultAlpha = 0.01
	// DefaultConfirmAlpha is the level of the confirmation stage's U test
	// of a candidate. 0.05 rather than 0.01: a change that shows on 3 or 4
	// of 5 arms (a breaker that trips on chance losses: p = 0.048 against
	// none) confirms, and the bound of a run of m gating rows is still
	// m × 1.25e-4 (0.9 % for a pr run's ~70 rows).
	DefaultConfirmAlpha = 0.05
	// DefaultConfidence is the level of the effect's interval.
	DefaultConfidence = 0.95
)

// ErrIncompatible is returned (wrapped) when two results must not be
// compared: other profile, other fault fidelity.
var ErrIncompatible = errors.New("compare: results not comparable")

// Phase names of rows that are not phases.
const (
	PhaseResilience = "resilience"
	PhaseEvent      = "fault_event"
	// PhaseHealthy holds the run-level healthy-path family: each arm's
	// median over the stabilization windows of every compared scenario.
	PhaseHealthy = "healthy"
)

// Key identifies a row of a scenario: a figure of a phase, of the
// resilience figures or of the fault event.
type Key struct {
	Phase  string `json:"phase"`
	Name   string `json:"name"`
	Labels string `json:"labels,omitempty"` // canonical "k=v,k=v" (results.LabelString)
}

// Metric is the figure's name with its labels: "latency_p99{op=all}".
func (k Key) Metric() string {
	if k.Labels == "" {
		return k.Name
	}
	return k.Name + "{" + k.Labels + "}"
}

func (k Key) String() string { return k.Phase + " " + k.Metric() }

// Gate is a member of the gating family: a figure whose worse change fails
// the run.
type Gate struct {
	Key Key `json:"key"`
	// Expect limits the gate to scenarios of one expectation
	// (manifest.ExpectDetect, manifest.ExpectRideThrough); "" is every
	// scenario.
	Expect string `json:"expect,omitempty"`
	// Policy names the figure's entry in the Policy ("" is Key.Name).
	Policy string `json:"policy,omitempty"`
}

func (g Gate) policy() string { return cmp.Or(g.Policy, g.Key.Name) }

// DefaultFamily is the gating family, per scenario: the critical figures of
// the testing phase and the resilience figures, time to detect in detect
// scenarios and false ejection in ride-through ones. A short fault (no
// testing phase figures) is judged by its event figures instead.
// Integrity is not here: any violation fails the run.
var DefaultFamily = []Gate{
	{Key: Key{Phase: "testing", Name: "throughput"}},
	{Key: Key{Phase: "testing", Name: "error_ratio"}},
	{Key: Key{Phase: "testing", Name: "latency_p99", Labels: "op=all"}},
	{Key: Key{Phase: PhaseResilience, Name: "time_to_detect"}, Expect: manifest.ExpectDetect},
	{Key: Key{Phase: PhaseResilience, Name: FalseEjection}, Expect: manifest.ExpectRideThrough},
	{Key: Key{Phase: PhaseResilience, Name: "time_to_recover"}},
	{Key: Key{Phase: PhaseEvent, Name: "failed_operations"}},
	{Key: Key{Phase: PhaseEvent, Name: "peak_latency_p99"}},
}

// DefaultFloors are the minimum effects of informational rows (never
// gating: they only keep "worse" and "better" for changes of some size).
// Names not listed use FallbackFloor.
var DefaultFloors = map[string]Floor{
	"throughput":               {Rel: 0.10, Abs: 20},
	"error_ratio":              {Rel: 0.10, Abs: 0.005},
	"latency_p50":              {Rel: 0.25, Abs: 0.005},
	"latency_p90":              {Rel: 0.25, Abs: 0.02},
	"latency_p99":              {Rel: 0.25, Abs: 0.1},
	"latency_p999":             {Rel: 0.30, Abs: 0.2},
	"server_error_ratio":       {Rel: 0.10, Abs: 0.005},
	"server_latency_p99":       {Rel: 0.25, Abs: 0.1},
	"breaker_transitions":      {Rel: 0.50, Abs: 2},
	"breaker_open":             {Rel: 0.20, Abs: 1},
	"connections_created":      {Rel: 0.50, Abs: 50},
	"integrity_violations":     {Rel: 0, Abs: 0.5},
	"dropped_operations":       {Rel: 0.50, Abs: 100},
	"time_to_detect":           {Rel: 0.25, Abs: 0.5},
	"time_to_recover":          {Rel: 0.25, Abs: 2},
	"blast_radius_error_ratio": {Rel: 0.25, Abs: 0.005},
	"blast_radius_p99":         {Rel: 0.25, Abs: 0.5},
	"errors_during_fault":      {Rel: 0.25, Abs: 100},
	"breaker_flaps":            {Rel: 0.50, Abs: 2},
	"failed_operations":        {Rel: 0.25, Abs: 50},
	"peak_latency_p99":         {Rel: 0.25, Abs: 0.1},
}

// FallbackFloor is the floor of a figure not in DefaultFloors.
var FallbackFloor = Floor{Rel: 0.10}

// Config says how to compare. The zero value uses the defaults.
type Config struct {
	// Alpha is the level of each U test. If zero, DefaultAlpha.
	Alpha float64
	// ConfirmAlpha is the level of the confirmation stage's test of a
	// candidate. If zero, DefaultConfirmAlpha.
	ConfirmAlpha float64
	// Confidence of the effect's interval. If zero, DefaultConfidence.
	Confidence float64
	// Family is the per-scenario gating family. If nil, DefaultFamily.
	Family []Gate
	// Healthy is the run-level healthy-path family. If nil, HealthyFamily.
	Healthy []Gate
	// Policy is the smallest change worth acting on of each gating figure.
	// If nil, DefaultPolicy.
	Policy Policy
	// Floors are the minimum effects of informational rows. If nil, DefaultFloors.
	Floors map[string]Floor
}

func (c Config) withDefaults() Config {
	c.Alpha = cmp.Or(c.Alpha, DefaultAlpha)
	c.ConfirmAlpha = cmp.Or(c.ConfirmAlpha, DefaultConfirmAlpha)
	c.Confidence = cmp.Or(c.Confidence, DefaultConfidence)
	if c.Family == nil {
		c.Family = DefaultFamily
	}
	if c.Healthy == nil {
		c.Healthy = HealthyFamily
	}
	if c.Policy == nil {
		c.Policy = DefaultPolicy
	}
	if c.Floors == nil {
		c.Floors = DefaultFloors
	}
	return c
}

// gate returns the gate of k in a scenario of expectation expect.
func (c Config) gate(k Key, expect string) (Gate, bool) {
	for _, g := range append(slices.Clip(c.Family), c.Healthy...) {
		if g.Key == k && (g.Expect == "" || g.Expect == expect) {
			return g, true
		}
	}
	return Gate{}, false
}

// source is one side of the comparison: the arms of one side of the runs
// of a file.
type source struct {
	f    *results.File
	side string
}

func (s source) runSet() RunSet {
	r0 := s.f.Runs[0]
	rs := RunSet{Side: s.side, Profile: r0.Profile, Stack: r0.Stack, Host: r0.Host, Start: r0.Start.UTC()}
	for _, r := range s.f.Runs {
		rs.RunIDs = append(rs.RunIDs, r.RunID)
		sd, _ := r.Side(s.side)
		rs.Client, rs.Version = cmp.Or(rs.Client, sd.Client), cmp.Or(rs.Version, sd.ClientVersion)
		rs.Arms += sd.Arms
		c := cmp.Or(sd.Commit, r.GitCommit)
		if s.side == results.SideBase {
			c = sd.Commit
		}
		if c != "" && !slices.Contains(rs.Commits, c) {
			rs.Commits = append(rs.Commits, c)
		}
	}
	return rs
}

// Sides returns what Compare compares: the base and head sides of new when
// its runs are paired, otherwise old's head arms against new's head arms
// (nil base without old).
func sides(old, new *results.File) (base *source, head source, mode Mode) {
	head = source{new, results.SideHead}
	paired := true
	for _, r := range new.Runs {
		paired = paired && r.Paired()
	}
	switch {
	case paired:
		return &source{new, results.SideBase}, head, ModePaired
	case old != nil:
		return &source{old, results.SideHead}, head, ModeStored
	}
	return nil, head, ModeNone
}

// Compare compares the head side of new with its base side (paired run) or
// with the head side of old (stored baseline, advisory). With neither,
// every row is NotTested and integrity is still checked. It returns an
// error wrapping ErrIncompatible for different profiles or fidelities;
// problems that make the verdict untrustworthy are in Diff.Problems. The
// gating rows it flags are candidates; Confirm judges them.
func Compare(old, new *results.File, cfg Config) (*Diff, error) {
	cfg = cfg.withDefaults()
	base, head, mode := sides(old, new)
	d := &Diff{SchemaVersion: SchemaVersion, Alpha: cfg.Alpha, ConfirmAlpha: cfg.ConfirmAlpha, Confidence: cfg.Confidence, Mode: mode,
		Head: head.runSet(), Family: append(slices.Clip(cfg.Family), cfg.Healthy...), Policy: cfg.Policy}
	if mode == ModePaired && old != nil {
		d.Warnings = append(d.Warnings, Issue{Code: BaselineUnused})
	}
	if base != nil {
		if err := compatible(base.f, new); err != nil {
			return nil, err
		}
		bs := base.runSet()
		d.Base = &bs
		if mode == ModeStored {
			d.Warnings = append(d.Warnings, hostWarnings(base.f.Runs[0], new.Runs[0])...)
		}
	}
	if n := min(d.Head.Arms, armsOf(d.Base)); base != nil && minP(n, n) >= cfg.Alpha {
		d.Warnings = append(d.Warnings, Issue{Code: TooFewArms, N: n, Value: minP(n, n), Limit: cfg.Alpha})
	}
	names := new.ScenarioNames()
	if base != nil && base.f != new {
		for _, n := range base.f.ScenarioNames() {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	var healthyB, healthyH []*gathered
	for _, name := range names {
		b, h := gather(base, name), gather(&head, name)
		var problems []Issue
		sd := compareScenario(name, b, h, cfg, armsOf(d.Base), d.Head.Arms, &problems, &d.Warnings)
		bu, hu := b.unsteady(), h.unsteady()
		switch {
		case bu != nil && hu != nil:
			sd.Unsteady = []Unsteady{*bu, *hu}
		case bu != nil || hu != nil:
			u := *cmp.Or(bu, hu)
			d.Warnings = append(d.Warnings, Issue{Code: OneSideUnsteady, Scenario: name, Side: u.Side, Value: u.ErrorRatio, Limit: u.Limit})
		}
		if b.invalid() || h.invalid() || sd.Unsteady != nil {
			// Its faults were not in effect as requested, or nothing was
			// steady before them: its figures measure something else.
			// Shown, never judged.
			sd.Status, sd.Compared, sd.Candidates = manifest.StatusInvalid, false, 0
			d.Invalid = append(d.Invalid, name)
			problems = nil // an invalid scenario is not judged: nothing of it can be missing
		}
		d.Problems = append(d.Problems, problems...)
		if sd.Integrity > 0 {
			d.Integrity = append(d.Integrity, Issue{Code: IntegrityScenario, Scenario: name, Value: sd.Integrity})
		}
		if sd.Compared {
			d.Compared++
			healthyB, healthyH = append(healthyB, b), append(healthyH, h)
		}
		d.Scenarios = append(d.Scenarios, sd)
	}
	if base != nil && d.Compared > 0 {
		d.Healthy = compareHealthy(cfg, healthyB, healthyH, armsOf(d.Base), d.Head.Arms, &d.Problems)
	}
	for _, r := range new.Runs {
		for side, vs := range r.IntegrityViolations {
			if n := maxDefined(vs); n > 0 {
				is := Issue{Code: IntegrityRun, Run: r.RunID, Side: side, Value: n}
				if side == results.SideHead {
					if len(d.Integrity) == 0 {
						d.Integrity = append(d.Integrity, is)
					}
				} else {
					d.Warnings = append(d.Warnings, is)
				}
			}
		}
	}
	switch {
	case base != nil && d.Compared == 0 && len(d.Invalid) > 0:
		d.Problems = append(d.Problems, Issue{Code: AllInvalid})
	case base != nil && d.Compared == 0:
		d.Problems = append(d.Problems, Issue{Code: NoCommon})
	}
	if mode == ModeStored {
		advisory(d)
	}
	d.finish(base != nil)
	return d, nil
}

func armsOf(r *RunSet) int {
	if r == nil {
		return 0
	}
	return r.Arms
}

func maxDefined(vs results.Values) float64 {
	m := 0.0
	for _, v := range vs.Defined() {
		m = max(m, v)
	}
	return m
}

func compatible(old, new *results.File) error {
	if old.Profile() != new.Profile() {
		return fmt.Errorf("%w: baseline profile %q, new profile %q: compare runs of one profile (use baselines/%s.json)",
			ErrIncompatible, old.Profile(), new.Profile(), new.Profile())
	}
	var bad []string
	for _, n := range new.Runs[0].Scenarios {
		for _, r := range old.Runs {
			if o, ok := r.Scenario(n.Name); ok && o.Fidelity != n.Fidelity {
				bad = append(bad, fmt.Sprintf("%s (baseline %s, new %s)", n.Name, o.Fidelity, n.Fidelity))
				break
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: fault fidelity differs for %s: record a baseline on a machine with the same fault injection", ErrIncompatible, strings.Join(bad, ", "))
	}
	return nil
}

// compareScenario compares one scenario's rows; b or h is nil when that
// side does not have it.
func compareScenario(name string, b, h *gathered, cfg Config, kB, kH int, problems, warnings *[]Issue) Scenario {
	sd := Scenario{Name: name, InBase: b != nil, InHead: h != nil}
	ref := h
	if h == nil {
		ref = b
	}
	sd.Fidelity, sd.Status = ref.sc.Fidelity, ref.sc.Status
	sd.Expect = ref.sc.Expect
	sd.FaultSpread = faultSpread(ref.sc)
	sd.Compared = b != nil && h != nil
	for _, g := range []*gathered{b, h} {
		g.addFalseEjection()
	}
	keys := slices.Clone(ref.order)
	if sd.Compared {
		if b.sc.Expect != h.sc.Expect {
			*warnings = append(*warnings, Issue{Code: ExpectDiffers, Scenario: name, Base: b.sc.Expect, Head: h.sc.Expect})
		}
		if sd.Expect == "" {
			*warnings = append(*warnings, Issue{Code: NoExpectation, Scenario: name})
		}
		for _, k := range b.order {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		for _, sg := range []struct {
			name string
			g    *gathered
		}{{results.SideBase, b}, {results.SideHead, h}} {
			th := sg.g.vals[Key{Phase: manifest.PhaseStabilization, Name: "throughput"}]
			var idle []int
			for i, v := range th {
				if !(v > 0) {
					idle = append(idle, i+1)
				}
			}
			switch {
			case len(th) > 0 && len(idle) == len(th):
				*problems = append(*problems, Issue{Code: SideIdle, Scenario: name, Side: sg.name})
			case len(idle) > 0:
				*warnings = append(*warnings, Issue{Code: IdleArms, Scenario: name, Side: sg.name, Arms: idle})
			}
		}
	}
	for _, k := range keys {
		var bv, hv results.Values
		var meta results.Metric
		if b != nil {
			bv = b.vals[k]
			meta = b.meta[k]
		}
		if h != nil {
			hv = h.vals[k]
			if m, ok := h.meta[k]; ok {
				meta = m
			}
		}
		g, gating := cfg.gate(k, sd.Expect)
		row := compareRow(cfg, k, g, gating, meta, bv, hv, sd.Compared)
		if gating && sd.Compared {
			checkGatingRow(name, row, kB, kH, problems)
		}
		if k.Name == "integrity_violations" {
			// Any arm counts, not the median: one violation is a failure.
			sd.Integrity = max(sd.Integrity, maxDefined(hv))
		}
		sd.Rows = append(sd.Rows, row)
	}
	return sd
}
