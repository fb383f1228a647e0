// Package compare decides, metric by metric, whether a run differs from a
// baseline, with the statistics of golang.org/x/perf/benchmath (Mann–Whitney
// U, as benchstat) and minimum effects per metric kept as data
// (DefaultThresholds). Parsing (collect/results), statistics (here) and
// formatting (collect/report) never mix.
//
// A change is a regression only when it is significant (p < alpha) and
// larger than the metric's minimum effect, in the worse direction. An
// integrity violation fails the run whatever the statistics say.
package compare

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"golang.org/x/perf/benchmath"

	"github.com/mcchaos/mcchaos/collect/results"
)

// Defaults of Config.
const (
	DefaultAlpha = 0.05
	// DefaultMinRuns is the number of runs each side needs for the per-run
	// values to be the samples. With fewer, the samples are the block means
	// of the per-second series of all runs (a U test of 4 against 4 values
	// can barely reach p < 0.05; of 2 against 2, never).
	DefaultMinRuns = 5
)

// ErrIncompatible is returned (wrapped) when two results must not be
// compared: other profile, other fault fidelity.
var ErrIncompatible = errors.New("compare: results not comparable")

// Threshold is the policy of a metric: a significant change is reported
// only when |new-old| is at least max(Rel*|old|, Abs), and it counts toward
// the verdict only when Gate is set.
type Threshold struct {
	// Rel is the relative floor: 0.05 is 5 %.
	Rel float64 `json:"rel"`
	// Abs is the absolute floor, in the metric's unit.
	Abs float64 `json:"abs"`
	// Gate: a worse change is a Regression that counts toward the verdict.
	// Without it, and always for breakdowns (by class, by server, by
	// operation other than "all"), a worse change is shown as Worse. A
	// report of ~100 rows per scenario would otherwise raise false alarms
	// by sheer number of tests; the gating set is small on purpose.
	Gate bool `json:"gate"`
}

// DefaultThresholds are the minimum effects by metric or figure name.
// Names not listed use FallbackThreshold.
//
// The floors are set from A/A runs of the smoke profile on a shared 2-CPU
// host, where two runs of the same code differed by up to +27 % in p50
// (0.26 ms) and 6× in stabilization p99 (4 → 26 ms): tail latency moves
// under 100 ms are host noise there, not client regressions. The faults
// themselves move latency by 200 ms to seconds.
var DefaultThresholds = map[string]Threshold{
	"throughput":               {Rel: 0.10, Abs: 20, Gate: true},    // ops/s
	"error_ratio":              {Rel: 0.10, Abs: 0.005, Gate: true}, // 0.5 percentage points
	"latency_p50":              {Rel: 0.25, Abs: 0.005, Gate: true}, // 5 ms
	"latency_p90":              {Rel: 0.25, Abs: 0.02},              // 20 ms
	"latency_p99":              {Rel: 0.25, Abs: 0.1, Gate: true},   // 100 ms
	"latency_p999":             {Rel: 0.30, Abs: 0.2, Gate: true},   // 200 ms
	"server_error_ratio":       {Rel: 0.10, Abs: 0.005},             //
	"server_latency_p99":       {Rel: 0.25, Abs: 0.1},               //
	"breaker_transitions":      {Rel: 0.50, Abs: 2},                 // count
	"breaker_open":             {Rel: 0.20, Abs: 1},                 // seconds
	"connections_created":      {Rel: 0.50, Abs: 50},                // count; churn, not gating
	"integrity_violations":     {Rel: 0, Abs: 0.5, Gate: true},      // any; fails anyway
	"dropped_operations":       {Rel: 0.50, Abs: 100, Gate: true},   // count
	"time_to_detect":           {Rel: 0.25, Abs: 0.5, Gate: true},   // seconds
	"time_to_recover":          {Rel: 0.25, Abs: 1, Gate: true},     // seconds
	"blast_radius_error_ratio": {Rel: 0.25, Abs: 0.005, Gate: true}, //
	"blast_radius_p99":         {Rel: 0.25, Abs: 0.5, Gate: true},   // × stabilization
	"errors_during_fault":      {Rel: 0.25, Abs: 100, Gate: true},   // count
	"breaker_flaps":            {Rel: 0.50, Abs: 2, Gate: true},     // count
}

// FallbackThreshold is the minimum effect of a metric not in the thresholds.
var FallbackThreshold = Threshold{Rel: 0.10}

// Config says how to compare. The zero value uses the defaults.
type Config struct {
	// Alpha is the significance level. If zero, DefaultAlpha.
	Alpha float64
	// Thresholds are the minimum effects by name. If nil, DefaultThresholds.
	Thresholds map[string]Threshold
	// MinRuns: see DefaultMinRuns. If zero, DefaultMinRuns.
	MinRuns int
}

func (c Config) withDefaults() Config {
	if c.Alpha == 0 {
		c.Alpha = DefaultAlpha
	}
	if c.Thresholds == nil {
		c.Thresholds = DefaultThresholds
	}
	if c.MinRuns == 0 {
		c.MinRuns = DefaultMinRuns
	}
	return c
}

func (c Config) threshold(name string) Threshold {
	if t, ok := c.Thresholds[name]; ok {
		return t
	}
	return FallbackThreshold
}

// Verdict is the outcome of one row.
type Verdict string

// Verdicts.
const (
	// Same: no significant change larger than the minimum effect.
	Same        Verdict = "~"
	Regression  Verdict = "regression"
	Improvement Verdict = "improvement"
	// Worse: significant and beyond the minimum effect, worse, on a metric
	// that does not gate the verdict (see Threshold.Gate).
	Worse Verdict = "worse"
	// Changed: a significant change of an informational metric.
	Changed Verdict = "changed"
	// NotTested: shown, not tested (no baseline, a single value per run,
	// no samples on a side).
	NotTested Verdict = "n/a"
	// Added, Removed: the metric exists on one side only.
	Added   Verdict = "new"
	Removed Verdict = "gone"
)

// PhaseResilience is the Row.Phase of resilience figures.
const PhaseResilience = "resilience"

// Row is one metric of one phase (or one resilience figure) compared.
type Row struct {
	Metric    string            `json:"metric"` // the key, e.g. "latency_p99{op=all}"
	Name      string            `json:"name"`
	Labels    map[string]string `json:"labels,omitempty"`
	Phase     string            `json:"phase"`
	Unit      string            `json:"unit"`
	Direction results.Direction `json:"direction"`
	Old       *float64          `json:"old"`
	New       *float64          `json:"new"`
	// Delta is (new-old)/|old|; nil when old is zero or a side is missing.
	Delta *float64 `json:"delta"`
	// P is the U test's p-value; nil when not tested.
	P         *float64  `json:"p"`
	N1        int       `json:"n_old"`
	N2        int       `json:"n_new"`
	Verdict   Verdict   `json:"verdict"`
	Note      string    `json:"note,omitempty"`
	Warnings  []string  `json:"warnings,omitempty"`
	Threshold Threshold `json:"min_effect"`
}

// Scenario is the comparison of one scenario.
type Scenario struct {
	Name     string `json:"name"`
	Fidelity string `json:"fidelity"`
	// InBaseline and InNew say where the scenario ran.
	InBaseline bool `json:"in_baseline"`
	InNew      bool `json:"in_new"`
	// Status is the scenario status in the new run (passed, failed, interrupted).
	Status       string  `json:"status,omitempty"`
	Regressions  int     `json:"regressions"`
	Improvements int     `json:"improvements"`
	Integrity    float64 `json:"integrity_violations"`
	Rows         []Row   `json:"rows"`
}

// Overall verdicts of a Diff.
const (
	VerdictOK         = "no regression"
	VerdictRegression = "regression"
	VerdictIntegrity  = "integrity failure"
	VerdictNoBaseline = "no baseline"
)

// Diff is the whole comparison, written as diff.json.
type Diff struct {
	SchemaVersion int     `json:"schema_version"`
	Verdict       string  `json:"verdict"`
	Regressions   int     `json:"regressions"`
	Alpha         float64 `json:"alpha"`
	// Samples says what the samples of the U test are.
	Samples    string               `json:"samples"`
	PerRun     bool                 `json:"per_run"`
	Baseline   *RunSet              `json:"baseline,omitempty"`
	New        RunSet               `json:"new"`
	Warnings   []string             `json:"warnings,omitempty"`
	Integrity  []string             `json:"integrity_failures,omitempty"`
	Scenarios  []Scenario           `json:"scenarios"`
	MinEffects map[string]Threshold `json:"min_effects"`
}

// RunSet describes the runs of one side.
type RunSet struct {
	Runs    []results.Run `json:"-"`
	RunIDs  []string      `json:"run_ids"`
	Commits []string      `json:"git_commits,omitempty"`
	Profile string        `json:"profile"`
	Client  string        `json:"client,omitempty"`
	Version string        `json:"client_version,omitempty"`
	Stack   string        `json:"stack,omitempty"`
	Host    results.Host  `json:"host"`
	Start   string        `json:"start"`
}

func runSet(f *results.File) RunSet {
	r0 := f.Runs[0]
	rs := RunSet{Runs: f.Runs, Profile: r0.Profile, Client: r0.Client, Version: r0.ClientVersion, Stack: r0.Stack, Host: r0.Host,
		Start: r0.Start.UTC().Format("2006-01-02 15:04:05 UTC")}
	for _, r := range f.Runs {
		rs.RunIDs = append(rs.RunIDs, r.RunID)
		if r.GitCommit != "" && !slices.Contains(rs.Commits, r.GitCommit) {
			rs.Commits = append(rs.Commits, r.GitCommit)
		}
	}
	return rs
}

// Compare compares new against old. With old nil there is no baseline:
// every row is NotTested, and integrity is still checked. It returns an
// error wrapping ErrIncompatible for different profiles or fidelities.
func Compare(old, new *results.File, cfg Config) (*Diff, error) {
	cfg = cfg.withDefaults()
	d := &Diff{SchemaVersion: results.SchemaVersion, Alpha: cfg.Alpha, New: runSet(new), MinEffects: cfg.Thresholds}
	names := new.ScenarioNames()
	if old != nil {
		if err := compatible(old, new); err != nil {
			return nil, err
		}
		bs := runSet(old)
		d.Baseline = &bs
		d.Warnings = hostWarnings(old.Runs[0], new.Runs[0])
		d.PerRun = len(old.Runs) >= cfg.MinRuns && len(new.Runs) >= cfg.MinRuns
		for _, n := range old.ScenarioNames() {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	switch {
	case old == nil:
		d.Samples = "no baseline: nothing tested"
	case d.PerRun:
		d.Samples = fmt.Sprintf("per-run values (%d baseline runs, %d new runs)", len(old.Runs), len(new.Runs))
	default:
		d.Samples = fmt.Sprintf("block means of the per-second series (%d baseline run(s), %d new run(s); fewer than %d runs on a side)", len(old.Runs), len(new.Runs), cfg.MinRuns)
	}
	for _, name := range names {
		sd := compareScenario(cfg, d.PerRun, name, old, new)
		if sd.Integrity > 0 {
			d.Integrity = append(d.Integrity, fmt.Sprintf("%s: %g integrity violation(s)", name, sd.Integrity))
		}
		d.Regressions += sd.Regressions
		d.Scenarios = append(d.Scenarios, sd)
	}
	for _, r := range new.Runs {
		var inScenarios float64
		for _, s := range d.Scenarios {
			inScenarios += s.Integrity
		}
		if r.IntegrityViolations > inScenarios {
			d.Integrity = append(d.Integrity, fmt.Sprintf("run %s: %g integrity violation(s) over the run, outside the scenario windows too", r.RunID, r.IntegrityViolations))
		}
	}
	switch {
	case len(d.Integrity) > 0:
		d.Verdict = VerdictIntegrity
	case old == nil:
		d.Verdict = VerdictNoBaseline
	case d.Regressions > 0:
		d.Verdict = VerdictRegression
	default:
		d.Verdict = VerdictOK
	}
	return d, nil
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

func hostWarnings(old, new results.Run) []string {
	var w []string
	if old.Host.CPUs != new.Host.CPUs {
		w = append(w, fmt.Sprintf("baseline host had %d CPUs, this one %d", old.Host.CPUs, new.Host.CPUs))
	}
	if old.Host.GoVersion != new.Host.GoVersion {
		w = append(w, fmt.Sprintf("baseline built with %s, this run with %s", old.Host.GoVersion, new.Host.GoVersion))
	}
	if old.Stack != new.Stack {
		w = append(w, fmt.Sprintf("baseline ran on the %q stack, this run on %q", old.Stack, new.Stack))
	}
	if old.Client != new.Client {
		w = append(w, fmt.Sprintf("baseline client %q, this run %q", old.Client, new.Client))
	}
	return w
}

// side gathers one scenario's values across the runs of one side.
type side struct {
	runs   int
	values map[string][]float64 // key: phase + "\x00" + metric key
	pooled map[string][]float64
	meta   map[string]results.Metric
	figs   map[string]results.Figure
	order  []string
	notes  map[string]string
	sc     *results.Scenario
}

func gather(f *results.File, name string) *side {
	if f == nil {
		return nil
	}
	s := &side{values: map[string][]float64{}, pooled: map[string][]float64{}, meta: map[string]results.Metric{},
		figs: map[string]results.Figure{}, notes: map[string]string{}}
	for _, r := range f.Runs {
		sc, ok := r.Scenario(name)
		if !ok {
			continue
		}
		s.runs++
		if s.sc == nil {
			s.sc = sc
		}
		for _, p := range sc.Phases {
			for _, m := range p.Metrics {
				k := p.Name + "\x00" + m.Key()
				if _, ok := s.meta[k]; !ok {
					s.order = append(s.order, k)
					s.meta[k] = m
				}
				s.values[k] = append(s.values[k], m.Value)
				s.pooled[k] = append(s.pooled[k], m.Samples...)
			}
		}
		for _, fg := range sc.Resilience {
			k := PhaseResilience + "\x00" + fg.Name
			if _, ok := s.figs[k]; !ok {
				s.order = append(s.order, k)
				s.figs[k] = fg
			}
			if fg.Value != nil {
				s.values[k] = append(s.values[k], *fg.Value)
			} else {
				s.notes[k] = fg.Note
			}
		}
	}
	if s.runs == 0 {
		return nil
	}
	return s
}

func compareScenario(cfg Config, perRun bool, name string, oldF, newF *results.File) Scenario {
	o, n := gather(oldF, name), gather(newF, name)
	sd := Scenario{Name: name, InBaseline: o != nil, InNew: n != nil}
	ref := n
	if n != nil {
		sd.Fidelity, sd.Status = n.sc.Fidelity, n.sc.Status
	} else {
		sd.Fidelity, ref = o.sc.Fidelity, o
	}
	keys := slices.Clone(ref.order)
	if o != nil && n != nil {
		for _, k := range o.order {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	for _, k := range keys {
		row := makeRow(cfg, perRun, k, o, n)
		switch row.Verdict {
		case Regression:
			sd.Regressions++
		case Improvement:
			sd.Improvements++
		}
		if row.Name == "integrity_violations" && n != nil {
			// Any run counts, not the median: one violation is a failure.
			for _, v := range n.values[k] {
				sd.Integrity = max(sd.Integrity, v)
			}
		}
		sd.Rows = append(sd.Rows, row)
	}
	return sd
}

func describe(k string, s *side) (phase string, m results.Metric, isFig bool) {
	phase, _, _ = strings.Cut(k, "\x00")
	if fg, ok := s.figs[k]; ok {
		return phase, results.Metric{Name: fg.Name, Unit: fg.Unit, Direction: fg.Direction}, true
	}
	return phase, s.meta[k], false
}

func makeRow(cfg Config, perRun bool, k string, o, n *side) Row {
	ref := n
	if n == nil || (n.meta[k].Name == "" && n.figs[k].Name == "") {
		ref = o
	}
	phase, m, isFig := describe(k, ref)
	row := Row{Metric: m.Key(), Name: m.Name, Labels: m.Labels, Phase: phase, Unit: m.Unit, Direction: m.Direction,
		Threshold: cfg.threshold(m.Name)}
	var ov, nv []float64
	if o != nil {
		ov = o.values[k]
		row.Old = center(ov)
	}
	if n != nil {
		nv = n.values[k]
		row.New = center(nv)
		if row.New == nil {
			row.Note = n.notes[k]
		}
	}
	if row.Old != nil && row.New != nil && *row.Old != 0 {
		d := (*row.New - *row.Old) / math.Abs(*row.Old)
		row.Delta = &d
	}
	switch {
	case o == nil:
		row.Verdict = NotTested
		return row
	case row.Old == nil && row.New == nil:
		row.Verdict = NotTested
		return row
	case row.Old == nil:
		row.Verdict = Added
		if isFig && o.notes[k] != "" {
			row.Verdict, row.Note = NotTested, "baseline: "+o.notes[k]
		}
		return row
	case row.New == nil:
		row.Verdict = Removed
		if isFig {
			// Reached in the baseline, not now (the breaker no longer
			// opens, the client no longer recovers): shown, not gating,
			// since a single value per run cannot be tested.
			row.Verdict = Worse
		}
		return row
	}
	s1, s2 := ov, nv
	if !perRun {
		if isFig {
			row.Verdict, row.Note = NotTested, "one value per run: repeat the runs (bench -count) to test it"
			return row
		}
		s1, s2 = o.pooled[k], n.pooled[k]
	}
	row.N1, row.N2 = len(s1), len(s2)
	if len(s1) == 0 || len(s2) == 0 {
		row.Verdict, row.Note = NotTested, "no samples on one side"
		return row
	}
	th := &benchmath.Thresholds{CompareAlpha: cfg.Alpha}
	c := benchmath.AssumeNothing.Compare(benchmath.NewSample(s1, th), benchmath.NewSample(s2, th))
	p := c.P
	row.P = &p
	for _, w := range c.Warnings {
		if !strings.Contains(w.Error(), "all samples are equal") {
			row.Warnings = append(row.Warnings, w.Error())
		}
	}
	row.Verdict = judge(row, *row.Old, *row.New, results.Median(s1), results.Median(s2), p, cfg.Alpha)
	return row
}

// judge applies significance, minimum effect and direction.
func judge(row Row, old, new, oldMed, newMed, p, alpha float64) Verdict {
	diff := new - old
	floor := max(row.Threshold.Rel*math.Abs(old), row.Threshold.Abs)
	// The samples must move the same way as the values.
	agree := math.Signbit(diff) == math.Signbit(newMed-oldMed) && newMed != oldMed
	if p >= alpha || math.Abs(diff) < floor || !agree {
		return Same
	}
	var worse bool
	switch row.Direction {
	case results.LowerIsBetter:
		worse = diff > 0
	case results.HigherIsBetter:
		worse = diff < 0
	default:
		return Changed
	}
	switch {
	case !worse:
		return Improvement
	case gates(row):
		return Regression
	}
	return Worse
}

// gates reports whether a worse change of the row counts toward the verdict.
func gates(r Row) bool {
	if !r.Threshold.Gate {
		return false
	}
	for k, v := range r.Labels {
		if k != "op" || v != "all" {
			return false
		}
	}
	return true
}

// center is the median of vs, nil for none.
func center(vs []float64) *float64 {
	if len(vs) == 0 {
		return nil
	}
	m := results.Median(vs)
	return &m
}
