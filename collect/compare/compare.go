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
// statistics say. Parsing (collect/results), statistics (here) and
// formatting (collect/report) never mix.
package compare

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"golang.org/x/perf/benchmath"

	"github.com/mcchaos/mcchaos/collect/internal/robust"
	"github.com/mcchaos/mcchaos/collect/internal/units"
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

// FalseEjection is the resilience figure of ride-through scenarios: the
// seconds a faulted server's breaker stood open during the testing phase
// (summed over the faulted servers). A good client keeps it at 0.
const FalseEjection = "false_ejection"

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

// Verdict is the outcome of one row.
type Verdict string

// Verdicts.
const (
	// Same: not significant, or not beyond the floor.
	Same Verdict = "~"
	// Candidate: a gating figure significantly worse beyond its policy
	// floor in the first stage; a regression once the confirmation stage
	// flags it again, otherwise Unconfirmed.
	Candidate   Verdict = "candidate"
	Unconfirmed Verdict = "not confirmed"
	// Regression is a confirmed candidate; Improvement a significant
	// better change beyond the floor of a gating figure (never gating).
	Regression  Verdict = "regression"
	Improvement Verdict = "improvement"
	// Worse, Better: the same on an informational figure; never gating.
	Worse  Verdict = "worse"
	Better Verdict = "better"
	// Changed: a significant change of a figure without a direction.
	Changed Verdict = "changed"
	// NotTested: no values on either side, or no comparison.
	NotTested Verdict = "n/a"
	// Added, Removed: the figure has values on one side only.
	Added   Verdict = "new"
	Removed Verdict = "gone"
)

// Num is a number written to JSON with NaN as null and ±Inf as "+Inf" or
// "-Inf" (a median of "not reached" values is +Inf).
type Num float64

// MarshalJSON writes NaN as null and infinities as strings.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	switch {
	case math.IsNaN(f):
		return []byte("null"), nil
	case math.IsInf(f, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(f)
}

// Side summarises one side's arm values of a row.
type Side struct {
	// Arms are the values, one per arm (of every run of the side).
	Arms results.Values `json:"arms"`
	// N counts the values that are not "no data".
	N      int `json:"n"`
	Median Num `json:"median"`
	Min    Num `json:"min"`
	Max    Num `json:"max"`
}

func summarise(vals results.Values) Side {
	d := vals.Defined()
	s := Side{Arms: vals, N: len(d), Median: Num(math.NaN()), Min: Num(math.NaN()), Max: Num(math.NaN())}
	if len(d) > 0 {
		lo, hi := robust.Bounds(d)
		s.Median, s.Min, s.Max = Num(robust.Median(d)), Num(lo), Num(hi)
	}
	return s
}

// Row is one figure of one scenario compared.
type Row struct {
	Key       Key               `json:"key"`
	Unit      string            `json:"unit"`
	Direction results.Direction `json:"direction"`
	Gating    bool              `json:"gating"`
	Base      Side              `json:"base"`
	Head      Side              `json:"head"`
	// Effect is the Hodges–Lehmann estimate of head − base, in the unit,
	// and EffectLo, EffectHi its Confidence interval.
	Effect   Num `json:"effect"`
	EffectLo Num `json:"effect_lo"`
	EffectHi Num `json:"effect_hi"`
	// Rel is Effect / |base median|; NaN when that is 0 or undefined.
	Rel Num `json:"rel"`
	// P is the U test's p-value; nil when not tested.
	P *float64 `json:"p"`
	// Floor is the minimum effect applied, from FloorFrom ("policy" for
	// gating rows, "default" for informational ones).
	Floor     Num     `json:"floor"`
	FloorFrom string  `json:"floor_from,omitempty"`
	Verdict   Verdict `json:"verdict"`
	// Reason says in one line why a gating row got its verdict.
	Reason string   `json:"reason,omitempty"`
	Notes  []string `json:"notes,omitempty"`
	// Confirm is the same row in the confirmation stage, for a candidate
	// of the first stage.
	Confirm *Stage `json:"confirm,omitempty"`
}

// Stage is a row's figures in the confirmation stage.
type Stage struct {
	Base    Side     `json:"base"`
	Head    Side     `json:"head"`
	Effect  Num      `json:"effect"`
	P       *float64 `json:"p"`
	Floor   Num      `json:"floor"`
	Verdict Verdict  `json:"verdict"`
	Reason  string   `json:"reason,omitempty"`
}

// Scenario is the comparison of one scenario.
type Scenario struct {
	Name     string `json:"name"`
	Fidelity string `json:"fidelity"`
	// InBase and InHead say which sides have the scenario; only a
	// scenario both have is compared.
	InBase   bool   `json:"in_base"`
	InHead   bool   `json:"in_head"`
	Compared bool   `json:"compared"`
	Status   string `json:"status,omitempty"`
	// Expect is what a good client does under the scenario's faults
	// (manifest.ExpectRideThrough, manifest.ExpectDetect), ExpectWhy why.
	Expect    string `json:"expect,omitempty"`
	ExpectWhy string `json:"expect_why,omitempty"`
	// Candidates counts the gating rows flagged in the first stage.
	Candidates int `json:"candidates"`
	// FaultSpread is the largest spread of the arms' fault applied and
	// removed times (manifest), in seconds; the goal is ≤ 10 ms.
	FaultSpread  *float64 `json:"fault_spread_s,omitempty"`
	Regressions  int      `json:"regressions"`
	Improvements int      `json:"improvements"`
	// Integrity is the largest integrity-violation count of a head arm.
	Integrity float64 `json:"integrity_violations"`
	// Unsteady says why neither side was in steady state before the
	// fault (the scenario is then invalid); one side only is a warning.
	Unsteady string `json:"unsteady,omitempty"`
	Rows     []Row  `json:"rows"`
}

// Overall verdicts of a Diff.
const (
	VerdictOK         = "no regression"
	VerdictRegression = "regression"
	VerdictIntegrity  = "integrity failure"
	VerdictNoBaseline = "no baseline"
	// VerdictUnconfirmed: candidates of the first stage that no
	// confirmation stage has judged (collect alone; bench confirms).
	VerdictUnconfirmed = "unconfirmed"
	// VerdictAdvisory: a stored baseline of another day; the rows are
	// shown, nothing gates.
	VerdictAdvisory = "advisory"
	// VerdictInvalid: the comparison could not be made (see Problems).
	VerdictInvalid = "not compared"
)

// Comparison modes.
const (
	ModePaired = "paired"
	ModeStored = "stored baseline"
	ModeNone   = "none"
)

// Diff is the whole comparison, written as diff.json.
type Diff struct {
	SchemaVersion int    `json:"schema_version"`
	Verdict       string `json:"verdict"`
	// Summary is the one-line verdict: "no regression in 14 scenarios
	// compared".
	Summary     string  `json:"summary"`
	Compared    int     `json:"scenarios_compared"`
	Regressions int     `json:"regressions"`
	Mode        string  `json:"mode"`
	Alpha       float64 `json:"alpha"`
	// ConfirmAlpha is the level at which the confirmation stage confirms.
	ConfirmAlpha float64 `json:"confirm_alpha"`
	Confidence   float64 `json:"confidence"`
	// Candidates counts the gating rows flagged by the first stage.
	Candidates int `json:"candidates"`
	// Confirmation describes the confirmation stage, nil when none ran.
	Confirmation *Confirmation `json:"confirmation,omitempty"`
	// GatingRows is m, the gating rows tested in the first stage, and
	// FalseAlarmBound m·(Alpha/2)·(ConfirmAlpha/2): the bound on the
	// probability that a run with exchangeable arms declares any regression.
	GatingRows      int     `json:"gating_rows"`
	FalseAlarmBound float64 `json:"false_alarm_bound"`
	// Policy is the smallest change worth acting on per gating figure.
	Policy   Policy   `json:"policy"`
	Base     *RunSet  `json:"base,omitempty"`
	Head     RunSet   `json:"head"`
	Warnings []string `json:"warnings,omitempty"`
	// Problems make the comparison untrustworthy: a gating figure on one
	// side only, every arm of a side without data, nothing compared. Any
	// problem is exit 2, never "no regression".
	Problems []string `json:"problems,omitempty"`
	// Invalid are the scenarios whose faults were not in effect as
	// requested (the efficacy oracle's verdict): excluded from the
	// verdict, and the run exits 2.
	Invalid   []string `json:"invalid_scenarios,omitempty"`
	Integrity []string `json:"integrity_failures,omitempty"`
	// Healthy is the run-level healthy-path family.
	Healthy   []Row      `json:"healthy,omitempty"`
	Scenarios []Scenario `json:"scenarios"`
	Family    []Gate     `json:"gating_family"`
}

// Confirmation is the second stage: the scenarios with candidates run
// again with fresh processes and a new arm order.
type Confirmation struct {
	RunIDs    []string `json:"run_ids"`
	Scenarios []string `json:"scenarios"`
	// Confirmed and Unconfirmed count the candidates each way.
	Confirmed   int `json:"confirmed"`
	Unconfirmed int `json:"unconfirmed"`
}

// RunSet describes the runs of one side.
type RunSet struct {
	Side    string       `json:"side"`
	RunIDs  []string     `json:"run_ids"`
	Commits []string     `json:"git_commits,omitempty"`
	Profile string       `json:"profile"`
	Client  string       `json:"client,omitempty"`
	Version string       `json:"client_version,omitempty"`
	Arms    int          `json:"arms"`
	Stack   string       `json:"stack,omitempty"`
	Host    results.Host `json:"host"`
	Start   string       `json:"start"`
}

// source is one side of the comparison: the arms of one side of the runs
// of a file.
type source struct {
	f    *results.File
	side string
}

func (s source) runSet() RunSet {
	r0 := s.f.Runs[0]
	rs := RunSet{Side: s.side, Profile: r0.Profile, Stack: r0.Stack, Host: r0.Host,
		Start: r0.Start.UTC().Format("2006-01-02 15:04:05 UTC")}
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
func sides(old, new *results.File) (base *source, head source, mode string) {
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
	d := &Diff{SchemaVersion: results.SchemaVersion, Alpha: cfg.Alpha, ConfirmAlpha: cfg.ConfirmAlpha, Confidence: cfg.Confidence, Mode: mode,
		Head: head.runSet(), Family: append(slices.Clip(cfg.Family), cfg.Healthy...), Policy: cfg.Policy}
	if mode == ModePaired && old != nil {
		d.Warnings = append(d.Warnings, "the run is paired: base and head of this run are compared, the stored baseline is not used")
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
		d.Warnings = append(d.Warnings, fmt.Sprintf("%d arms per side: the U test's smallest p is %.3f, not below alpha %.2f, so no gating figure can be flagged; run more arms", n, minP(n, n), cfg.Alpha))
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
		var problems []string
		sd := compareScenario(name, b, h, cfg, armsOf(d.Base), d.Head.Arms, &problems, &d.Warnings)
		bu, hu := b.unsteady(), h.unsteady()
		switch {
		case bu != "" && hu != "":
			sd.Unsteady = fmt.Sprintf("no steady state before the fault: %s, %s (the machine or the previous scenario, not the fault, is what the figures measure)", bu, hu)
		case bu != "" || hu != "":
			d.Warnings = append(d.Warnings, fmt.Sprintf("%s: %s%s: only one side was not in steady state before the fault", name, bu, hu))
		}
		if b.invalid() || h.invalid() || sd.Unsteady != "" {
			// Its faults were not in effect as requested, or nothing was
			// steady before them: its figures measure something else.
			// Shown, never judged.
			sd.Status, sd.Compared, sd.Candidates = manifest.StatusInvalid, false, 0
			d.Invalid = append(d.Invalid, name)
			problems = nil // an invalid scenario is not judged: nothing of it can be missing
		}
		d.Problems = append(d.Problems, problems...)
		if sd.Integrity > 0 {
			d.Integrity = append(d.Integrity, fmt.Sprintf("%s: %g integrity violation(s) on a head arm", name, sd.Integrity))
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
				msg := fmt.Sprintf("run %s: %g integrity violation(s) on a %s arm over the run", r.RunID, n, side)
				if side == results.SideHead {
					if len(d.Integrity) == 0 {
						d.Integrity = append(d.Integrity, msg)
					}
				} else {
					d.Warnings = append(d.Warnings, msg+": the base side's client returned wrong values")
				}
			}
		}
	}
	switch {
	case base != nil && d.Compared == 0 && len(d.Invalid) > 0:
		d.Problems = append(d.Problems, "every scenario that ran on both sides was invalid: nothing compared (each one's reason is in its section; a starved machine is the usual cause: run again on a quiet one)")
	case base != nil && d.Compared == 0:
		d.Problems = append(d.Problems, "no scenario ran on both sides: nothing compared (run the baseline's scenarios, or record the baseline again with the same profile: make baseline)")
	}
	if mode == ModeStored {
		advisory(d)
	}
	d.finish(base != nil)
	return d, nil
}

// finish counts the gating rows and verdicts and writes the verdict.
func (d *Diff) finish(compared bool) {
	d.GatingRows, d.Candidates, d.Regressions = 0, 0, 0
	count := func(r Row) {
		if r.Gating && r.P != nil {
			d.GatingRows++
		}
		switch r.Verdict {
		case Candidate:
			d.Candidates++
		case Regression:
			d.Candidates++
			d.Regressions++
		case Unconfirmed:
			d.Candidates++
		}
	}
	for i := range d.Scenarios {
		sd := &d.Scenarios[i]
		sd.Candidates, sd.Regressions, sd.Improvements = 0, 0, 0
		for _, r := range sd.Rows {
			if !sd.Compared {
				continue
			}
			count(r)
			switch r.Verdict {
			case Candidate, Unconfirmed:
				sd.Candidates++
			case Regression:
				sd.Candidates++
				sd.Regressions++
			case Improvement:
				sd.Improvements++
			}
		}
	}
	for _, r := range d.Healthy {
		count(r)
	}
	d.FalseAlarmBound = float64(d.GatingRows) * (d.Alpha / 2) * (d.ConfirmAlpha / 2)
	d.Verdict, d.Summary = verdict(d, compared)
	if len(d.Invalid) > 0 {
		d.Summary += fmt.Sprintf("; %d scenario(s) invalid (faults not in effect as requested, or no steady state before them): %s", len(d.Invalid), strings.Join(d.Invalid, ", "))
	}
}

// advisory turns a stored-baseline comparison into an advisory one: two
// days on machines of one class differ on a third of all figures, so a
// gating row flagged against another day's arms is shown as worse or
// better, and nothing gates.
func advisory(d *Diff) {
	soften := func(r *Row) {
		switch r.Verdict {
		case Candidate:
			r.Verdict = Worse
		case Improvement:
			r.Verdict = Better
		}
	}
	for i := range d.Scenarios {
		for j := range d.Scenarios[i].Rows {
			soften(&d.Scenarios[i].Rows[j])
		}
	}
	for j := range d.Healthy {
		soften(&d.Healthy[j])
	}
}

func armsOf(r *RunSet) int {
	if r == nil {
		return 0
	}
	return r.Arms
}

func verdict(d *Diff, compared bool) (string, string) {
	n := fmt.Sprintf("%d scenario(s) compared", d.Compared)
	if d.Compared == 1 {
		n = "1 scenario compared"
	} else if d.Compared > 1 {
		n = fmt.Sprintf("%d scenarios compared", d.Compared)
	}
	flagged := func(v ...Verdict) string {
		var where []string
		var hs []string
		for _, r := range d.Healthy {
			if slices.Contains(v, r.Verdict) {
				hs = append(hs, units.Name(r.Key.Name))
			}
		}
		if len(hs) > 0 {
			where = append(where, "healthy path ("+strings.Join(hs, ", ")+")")
		}
		for _, s := range d.Scenarios {
			var figs []string
			for _, r := range s.Rows {
				if s.Compared && r.Gating && slices.Contains(v, r.Verdict) {
					figs = append(figs, units.Name(r.Key.Name))
				}
			}
			if len(figs) > 0 {
				where = append(where, s.Name+" ("+strings.Join(figs, ", ")+")")
			}
		}
		return strings.Join(where, "; ")
	}
	switch {
	case len(d.Integrity) > 0:
		return VerdictIntegrity, "integrity failure: " + strings.Join(d.Integrity, "; ")
	case len(d.Problems) > 0:
		return VerdictInvalid, "not compared: " + d.Problems[0]
	case !compared:
		measured := 0
		for _, s := range d.Scenarios {
			if s.InHead {
				measured++
			}
		}
		return VerdictNoBaseline, fmt.Sprintf("no baseline: %d scenario(s) measured, nothing compared, no integrity violation", measured)
	case d.Mode == ModeStored:
		w := flagged(Worse)
		if w == "" {
			return VerdictAdvisory, "advisory, against a stored baseline of another day (not a paired experiment; nothing gates): no gating figure worse in " + n
		}
		return VerdictAdvisory, fmt.Sprintf("advisory, against a stored baseline of another day (not a paired experiment; nothing gates): gating figures worse in %s: %s", n, w)
	case d.Regressions > 0:
		word := "regressions"
		if d.Regressions == 1 {
			word = "regression"
		}
		return VerdictRegression, fmt.Sprintf("%d %s, confirmed by a second stage, in %s: %s", d.Regressions, word, n, flagged(Regression))
	case d.Confirmation == nil && d.Candidates > 0:
		return VerdictUnconfirmed, fmt.Sprintf("%d candidate regression(s) in %s, not yet confirmed (bench runs them again to confirm): %s", d.Candidates, n, flagged(Candidate))
	case d.Confirmation != nil && d.Confirmation.Unconfirmed > 0:
		return VerdictOK, fmt.Sprintf("no regression in %s (%d candidate(s) of the first stage not confirmed by the second: %s)", n, d.Confirmation.Unconfirmed, flagged(Unconfirmed))
	}
	return VerdictOK, "no regression in " + n
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

func hostWarnings(old, new results.Run) []string {
	var w []string
	if oc, nc := old.Host.Class(), new.Host.Class(); oc != nc {
		w = append(w, fmt.Sprintf("**the baseline was recorded on another host class (%s; this run: %s)**: machine differences show up as changes; prefer a paired run (bench -base REF)", oc, nc))
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

// unsteady says how g's side broke the steady state of its scenario, or
// "" (also for a nil g: the side does not have the scenario).
func (g *gathered) unsteady() string {
	if g == nil {
		return ""
	}
	vs, ok := g.vals[Key{Phase: manifest.PhaseStabilization, Name: "error_ratio"}]
	if !ok || len(vs.Defined()) == 0 {
		return ""
	}
	if m := robust.Median(vs.Defined()); m > SteadyMaxErrorRatio {
		return fmt.Sprintf("%s side failed %.0f %% of operations in stabilization (median arm; limit %.0f %%)", g.side, 100*m, 100*SteadyMaxErrorRatio)
	}
	return ""
}

// invalid reports whether g's run marked its scenario invalid (false
// for a nil g).
func (g *gathered) invalid() bool {
	return g != nil && g.sc.Status == manifest.StatusInvalid
}

func compareScenario(name string, b, h *gathered, cfg Config, kB, kH int, problems, warnings *[]string) Scenario {
	sd := Scenario{Name: name, InBase: b != nil, InHead: h != nil}
	ref := h
	if h == nil {
		ref = b
	}
	sd.Fidelity, sd.Status = ref.sc.Fidelity, ref.sc.Status
	sd.Expect, sd.ExpectWhy = ref.sc.Expect, ref.sc.ExpectWhy
	sd.FaultSpread = faultSpread(ref.sc)
	sd.Compared = b != nil && h != nil
	for _, g := range []*gathered{b, h} {
		g.addFalseEjection()
	}
	keys := slices.Clone(ref.order)
	if sd.Compared {
		if b.sc.Expect != h.sc.Expect {
			*warnings = append(*warnings, fmt.Sprintf("%s: the sides expect different things (base %q, head %q): the head side's expectation is used", name, b.sc.Expect, h.sc.Expect))
		}
		if sd.Expect == "" {
			*warnings = append(*warnings, fmt.Sprintf("%s: no expectation (recorded before scenarios stated one): time to detect and false ejection are not judged", name))
		}
		for _, k := range b.order {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		for _, sg := range []struct {
			name string
			g    *gathered
		}{{"base", b}, {"head", h}} {
			th := sg.g.vals[Key{Phase: "stabilization", Name: "throughput"}]
			var idle []string
			for i, v := range th {
				if !(v > 0) {
					idle = append(idle, fmt.Sprint(i+1))
				}
			}
			switch {
			case len(th) > 0 && len(idle) == len(th):
				*problems = append(*problems, fmt.Sprintf("%s: every %s arm has no operations in stabilization: its loadgen processes were not running (see the run's logs/, then run again)", name, sg.name))
			case len(idle) > 0:
				*warnings = append(*warnings, fmt.Sprintf("%s: %s arm(s) %s had no operations in stabilization (started late?): their figures that need a healthy baseline are no data", name, sg.name, strings.Join(idle, ", ")))
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

// checkGatingRow adds a problem for a gating row that cannot be judged
// fully: values on one side only, or fewer values than arms on a side (a
// U test of 4 against 5 can never reach p < 0.01, so silence would be a
// blind spot, not a verdict).
func checkGatingRow(where string, row Row, kB, kH int, problems *[]string) {
	switch row.Verdict {
	case Added, Removed:
		side := "head"
		if row.Verdict == Removed {
			side = "base"
		}
		*problems = append(*problems, fmt.Sprintf("%s: gating figure %s has values on the %s side only (the other side's arms say why in report.md; run again, or check that side's loadgen logs)", where, row.Key, side))
		return
	case NotTested:
		return
	}
	for _, s := range []struct {
		name string
		side Side
		k    int
	}{{"base", row.Base, kB}, {"head", row.Head, kH}} {
		if s.side.N >= s.k {
			continue
		}
		var missing []string
		for i, v := range s.side.Arms {
			if math.IsNaN(v) {
				missing = append(missing, fmt.Sprint(i+1))
			}
		}
		*problems = append(*problems, fmt.Sprintf("%s: gating figure %s has %d of %d %s arms (no value for arm %s): it cannot be judged at this level (see those arms' loadgen logs, then run again)",
			where, row.Key, s.side.N, s.k, s.name, strings.Join(missing, ", ")))
	}
}

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
	g.meta[k] = results.Metric{Name: FalseEjection, Unit: "s", Direction: results.LowerIsBetter,
		Notes: []string{"seconds the faulted servers' breakers stood open during the fault; a ride-through scenario's servers answer within the timeout, so any is a false ejection"}}
}

// compareHealthy compares the healthy-path family: per arm, the median of
// its stabilization values over the compared scenarios. b and h are the
// gathered sides of those scenarios, in one order.
func compareHealthy(cfg Config, b, h []*gathered, kB, kH int, problems *[]string) []Row {
	var rows []Row
	for _, g := range cfg.Healthy {
		meta := healthyMeta(g.Key)
		bv, hv := healthyArms(b, kB, g.Key), healthyArms(h, kH, g.Key)
		row := compareRow(cfg, g.Key, g, true, meta, bv, hv, true)
		checkGatingRow("healthy path", row, kB, kH, problems)
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

// compareRow compares one figure. compared is false when only one side has
// the scenario (or there is no base): the row is shown, not tested.
func compareRow(cfg Config, k Key, g Gate, gating bool, meta results.Metric, bv, hv results.Values, compared bool) Row {
	row := Row{Key: k, Unit: meta.Unit, Direction: meta.Direction, Gating: gating,
		Base: summarise(bv), Head: summarise(hv), Notes: meta.Notes,
		Effect: Num(math.NaN()), EffectLo: Num(math.NaN()), EffectHi: Num(math.NaN()), Rel: Num(math.NaN()), Floor: Num(math.NaN())}
	row.Floor, row.FloorFrom = floor(cfg, k, g, gating, float64(row.Base.Median))
	switch {
	case !compared:
		row.Verdict = NotTested
		return row
	case row.Base.N == 0 && row.Head.N == 0:
		row.Verdict = NotTested
		return row
	case row.Base.N == 0:
		row.Verdict = Added
		return row
	case row.Head.N == 0:
		row.Verdict = Removed
		return row
	}
	b, h := bv.Defined(), hv.Defined()
	est, lo, hi := HodgesLehmann(b, h, cfg.Confidence)
	row.Effect, row.EffectLo, row.EffectHi = Num(est), Num(lo), Num(hi)
	if m := float64(row.Base.Median); m != 0 && !math.IsInf(m, 0) && !math.IsNaN(m) {
		row.Rel = Num(est / math.Abs(m))
	}
	p := UTest(b, h, cfg.Alpha)
	row.P = &p
	row.Verdict = judge(row, p, cfg.Alpha)
	if gating {
		row.Reason = reason(row, b, h, cfg.Alpha)
	}
	return row
}

// floor returns the minimum effect of a row: the policy's smallest change
// worth acting on for a gating row, DefaultFloors for an informational one.
func floor(cfg Config, k Key, g Gate, gating bool, baseMedian float64) (Num, string) {
	if gating {
		if f, ok := cfg.Policy[g.policy()]; ok {
			return Num(f.Of(baseMedian)), "policy"
		}
	}
	fl, ok := cfg.Floors[k.Name]
	if !ok {
		fl = FallbackFloor
	}
	return Num(fl.Of(baseMedian)), "default"
}

// judge applies significance, floor and direction.
func judge(row Row, p, alpha float64) Verdict {
	e := float64(row.Effect)
	if p >= alpha || math.IsNaN(e) || math.Abs(e) < float64(row.Floor) || e == 0 {
		return Same
	}
	var worse bool
	switch row.Direction {
	case results.LowerIsBetter:
		worse = e > 0
	case results.HigherIsBetter:
		worse = e < 0
	default:
		return Changed
	}
	switch {
	case worse && row.Gating:
		return Candidate
	case worse:
		return Worse
	case row.Gating:
		return Improvement
	}
	return Better
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

// reason says in one line why a gating row got its verdict.
func reason(r Row, b, h []float64, alpha float64) string {
	name := units.Name(r.Key.Name)
	if r.Key.Labels != "" && r.Key.Labels != "op=all" {
		name += " {" + r.Key.Labels + "}"
	}
	if r.Key.Phase != PhaseResilience {
		name += " in " + strings.ReplaceAll(r.Key.Phase, "_", " ")
	}
	ch := fmt.Sprintf("%s %s → %s", name, units.Value(float64(r.Base.Median), r.Unit), units.Value(float64(r.Head.Median), r.Unit))
	bl, bh := robust.Bounds(b)
	hl, hh := robust.Bounds(h)
	var sep string
	switch {
	case hl > bh:
		sep = fmt.Sprintf("all %d head arms %s than every base arm", len(h), unitWordDir(r, true))
	case hh < bl:
		sep = fmt.Sprintf("all %d head arms %s than every base arm", len(h), unitWordDir(r, false))
	default:
		sep = "the arms overlap"
	}
	switch r.Verdict {
	case Candidate, Regression, Improvement:
		return fmt.Sprintf("%s, %s (p = %.3f, effect %s beyond the %s floor %s)", ch, sep, *r.P, units.Signed(float64(r.Effect), r.Unit), r.FloorFrom, units.Change(float64(r.Floor), r.Unit))
	}
	if *r.P >= alpha || math.IsNaN(float64(r.Effect)) {
		return fmt.Sprintf("%s: not significant (p = %.2f)", ch, *r.P)
	}
	return fmt.Sprintf("%s, %s, but the effect %s is within the %s floor %s", ch, sep, units.Signed(float64(r.Effect), r.Unit), r.FloorFrom, units.Change(float64(r.Floor), r.Unit))
}

func unitWordDir(r Row, up bool) string {
	switch {
	case r.Unit == "s" && up:
		return "slower"
	case r.Unit == "s":
		return "faster"
	case up:
		return "higher"
	}
	return "lower"
}
