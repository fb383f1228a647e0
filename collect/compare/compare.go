// Package compare decides, figure by figure, whether the head side of a run
// differs from its base side (the base side of a paired run, or the head
// arms of a stored baseline). The samples are per-arm values: one value per
// arm per side, each arm a whole client instance run under the same faults
// at the same instant. The test is benchmath's Mann–Whitney U test (as
// benchstat); the effect is the Hodges–Lehmann estimate (the median of the
// head−base differences of all arm pairs) with its distribution-free
// confidence interval, from the same values.
//
// Only a small gating family (Family, as data) can fail a run; a gating row
// is a regression when the U test is significant at Alpha and the effect is
// beyond the figure's floor, which comes from calibration (A/A runs on this
// host class: a multiple of the measured spread) or, without one, from
// DefaultFloors. Every other row is informational (worse, better, changed),
// never gating. An integrity violation fails the run whatever the
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
	// DefaultAlpha is the level of each U test. It is not corrected for
	// the number of tests (see Config.Alpha): the floors from calibration
	// bound the false alarms of a whole run, and calibration measures them.
	// 0.01 with 5 arms a side means every head arm beyond every base arm
	// (p = 0.008): at 0.05, a 4-of-5 overlap (p = 0.048) of a bimodal figure
	// (time to recover: 0 s or 7 s, by where the breaker stood when the
	// fault went) was flagged in a pr A/A run; every planted regression was
	// separated completely.
	DefaultAlpha = 0.01
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
	// Resolution is the smallest change the measurement can resolve, in
	// the figure's unit: a floor is never below it.
	Resolution float64 `json:"resolution"`
	// MinRel is the smallest change worth acting on, relative to the base
	// median: a calibrated floor is never below MinRel × |base median|.
	// A/A runs can pin a figure so tightly (p99 held at the operation
	// timeout varies by 1 ms) that a 3 ms shift would be "significant"
	// and beyond the calibrated spread, yet nobody would act on it.
	MinRel float64 `json:"min_rel,omitempty"`
}

// DefaultFamily is the gating family, per scenario: the critical figures of
// the testing phase and the resilience figures. A short fault (no testing
// phase figures) is judged by its event figures instead. Integrity is not
// here: any violation fails the run.
var DefaultFamily = []Gate{
	{Key: Key{Phase: "testing", Name: "throughput"}, Resolution: 1, MinRel: 0.02},                         // ops/s
	{Key: Key{Phase: "testing", Name: "error_ratio"}, Resolution: 0.0005},                                 // 0.05 pp
	{Key: Key{Phase: "testing", Name: "latency_p99", Labels: "op=all"}, Resolution: 0.0005, MinRel: 0.05}, // s
	{Key: Key{Phase: PhaseResilience, Name: "time_to_detect"}, Resolution: 0.01, MinRel: 0.05},            // s
	{Key: Key{Phase: PhaseResilience, Name: "time_to_recover"}, Resolution: 1},                            // s: 1 s series
	{Key: Key{Phase: PhaseEvent, Name: "failed_operations"}, Resolution: 1},                               // count
	{Key: Key{Phase: PhaseEvent, Name: "peak_latency_p99"}, Resolution: 0.0005, MinRel: 0.05},             // s
}

// Floor is a minimum effect without calibration: a change must be at least
// max(Rel×|base median|, Abs) to be reported.
type Floor struct {
	Rel float64 `json:"rel"`
	Abs float64 `json:"abs"`
}

// DefaultFloors are the minimum effects by figure name when no calibration
// covers a row (informational rows always; gating rows on a host class
// never calibrated, and the report says so). Names not listed use
// FallbackFloor.
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
	//
	// Why not Holm: a run has about 14 scenarios × 6 gating figures. With
	// k = 5 arms per side the smallest two-sided p of a U test is 2/252 =
	// 0.0079, while Holm's first step needs 0.05/84 = 0.0006: Holm could
	// never fire. Instead a gating row needs p < Alpha AND an effect
	// beyond a floor derived from the A/A spread of that very figure; the
	// family-wise false-alarm rate is then measured, not assumed (see
	// Calibrate).
	Alpha float64
	// Confidence of the effect's interval. If zero, DefaultConfidence.
	Confidence float64
	// Family is the gating family. If nil, DefaultFamily.
	Family []Gate
	// Floors are the uncalibrated minimum effects. If nil, DefaultFloors.
	Floors map[string]Floor
	// Calibration gives the floors of the gating family, measured by A/A
	// runs on a host class. If nil, the gating rows use Floors too and
	// the report says the floors are not calibrated.
	Calibration *Calibration
}

func (c Config) withDefaults() Config {
	c.Alpha = cmp.Or(c.Alpha, DefaultAlpha)
	c.Confidence = cmp.Or(c.Confidence, DefaultConfidence)
	if c.Family == nil {
		c.Family = DefaultFamily
	}
	if c.Floors == nil {
		c.Floors = DefaultFloors
	}
	return c
}

func (c Config) gate(k Key) (Gate, bool) {
	for _, g := range c.Family {
		if g.Key == k {
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
	// Regression and Improvement are significant changes beyond the floor
	// of a gating figure.
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
	// Floor is the minimum effect applied, from FloorFrom ("calibrated",
	// "default").
	Floor     Num     `json:"floor"`
	FloorFrom string  `json:"floor_from,omitempty"`
	Verdict   Verdict `json:"verdict"`
	// Reason says in one line why a gating row got its verdict.
	Reason string   `json:"reason,omitempty"`
	Notes  []string `json:"notes,omitempty"`
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
	Confidence  float64 `json:"confidence"`
	// Calibration says where the gating floors came from.
	Calibration string   `json:"calibration"`
	Base        *RunSet  `json:"base,omitempty"`
	Head        RunSet   `json:"head"`
	Warnings    []string `json:"warnings,omitempty"`
	// Problems make the comparison untrustworthy: a gating figure on one
	// side only, every arm of a side without data, nothing compared. Any
	// problem is exit 2, never "no regression".
	Problems []string `json:"problems,omitempty"`
	// Invalid are the scenarios whose faults were not in effect as
	// requested (the efficacy oracle's verdict): excluded from the
	// verdict, and the run exits 2.
	Invalid   []string   `json:"invalid_scenarios,omitempty"`
	Integrity []string   `json:"integrity_failures,omitempty"`
	Scenarios []Scenario `json:"scenarios"`
	Family    []Gate     `json:"gating_family"`
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
// with the head side of old (stored baseline). With neither, every row is
// NotTested and integrity is still checked. It returns an error wrapping
// ErrIncompatible for different profiles or fidelities; problems that make
// the verdict untrustworthy are in Diff.Problems.
func Compare(old, new *results.File, cfg Config) (*Diff, error) {
	cfg = cfg.withDefaults()
	base, head, mode := sides(old, new)
	d := &Diff{SchemaVersion: results.SchemaVersion, Alpha: cfg.Alpha, Confidence: cfg.Confidence, Mode: mode,
		Head: head.runSet(), Family: cfg.Family}
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
	d.Calibration, d.Warnings = calibrationNote(cfg.Calibration, new, base, d.Warnings)
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
	for _, name := range names {
		b, h := gather(base, name), gather(&head, name)
		sd := compareScenario(name, b, h, cfg, &d.Problems, &d.Warnings)
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
			sd.Status, sd.Compared, sd.Regressions = manifest.StatusInvalid, false, 0
			d.Invalid = append(d.Invalid, name)
		}
		if sd.Integrity > 0 {
			d.Integrity = append(d.Integrity, fmt.Sprintf("%s: %g integrity violation(s) on a head arm", name, sd.Integrity))
		}
		if sd.Compared {
			d.Compared++
		}
		d.Regressions += sd.Regressions
		d.Scenarios = append(d.Scenarios, sd)
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
	if base != nil && d.Compared == 0 {
		d.Problems = append(d.Problems, "no scenario ran on both sides: nothing compared (run the baseline's scenarios, or record the baseline again with the same profile: make baseline)")
	}
	d.Verdict, d.Summary = verdict(d, base != nil)
	if len(d.Invalid) > 0 {
		d.Summary += fmt.Sprintf("; %d scenario(s) invalid (faults not in effect as requested, or no steady state before them): %s", len(d.Invalid), strings.Join(d.Invalid, ", "))
	}
	return d, nil
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
	case d.Regressions > 0:
		var where []string
		for _, s := range d.Scenarios {
			if s.Regressions > 0 {
				var figs []string
				for _, r := range s.Rows {
					if r.Verdict == Regression {
						figs = append(figs, units.Name(r.Key.Name))
					}
				}
				where = append(where, s.Name+" ("+strings.Join(figs, ", ")+")")
			}
		}
		word := "regressions"
		if d.Regressions == 1 {
			word = "regression"
		}
		return VerdictRegression, fmt.Sprintf("%d %s in %s: %s", d.Regressions, word, n, strings.Join(where, "; "))
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

func compareScenario(name string, b, h *gathered, cfg Config, problems, warnings *[]string) Scenario {
	sd := Scenario{Name: name, InBase: b != nil, InHead: h != nil}
	ref := h
	if h == nil {
		ref = b
	}
	sd.Fidelity, sd.Status = ref.sc.Fidelity, ref.sc.Status
	sd.FaultSpread = faultSpread(ref.sc)
	sd.Compared = b != nil && h != nil
	keys := slices.Clone(ref.order)
	if sd.Compared {
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
		_, gating := cfg.gate(k)
		row := compareRow(cfg, name, k, meta, bv, hv, sd.Compared)
		if gating && sd.Compared && (row.Verdict == Added || row.Verdict == Removed) {
			where := "head"
			if row.Verdict == Removed {
				where = "base"
			}
			*problems = append(*problems, fmt.Sprintf("%s: gating figure %s has values on the %s side only (the other side's arms say why in report.md; run again, or check that side's loadgen logs)", name, k, where))
		}
		switch row.Verdict {
		case Regression:
			sd.Regressions++
		case Improvement:
			sd.Improvements++
		}
		if k.Name == "integrity_violations" {
			// Any arm counts, not the median: one violation is a failure.
			sd.Integrity = max(sd.Integrity, maxDefined(hv))
		}
		sd.Rows = append(sd.Rows, row)
	}
	return sd
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
func compareRow(cfg Config, scenario string, k Key, meta results.Metric, bv, hv results.Values, compared bool) Row {
	g, gating := cfg.gate(k)
	row := Row{Key: k, Unit: meta.Unit, Direction: meta.Direction, Gating: gating,
		Base: summarise(bv), Head: summarise(hv), Notes: meta.Notes,
		Effect: Num(math.NaN()), EffectLo: Num(math.NaN()), EffectHi: Num(math.NaN()), Rel: Num(math.NaN()), Floor: Num(math.NaN())}
	row.Floor, row.FloorFrom = floor(cfg, scenario, k, g, float64(row.Base.Median))
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

// floor returns the minimum effect of a row: the calibrated floor of a
// gating figure when the calibration has it, else DefaultFloors relative
// to the base median; never below the gate's resolution.
func floor(cfg Config, scenario string, k Key, g Gate, baseMedian float64) (Num, string) {
	m := baseMedian
	if math.IsNaN(m) || math.IsInf(m, 0) {
		m = 0
	}
	if cfg.Calibration != nil {
		if f, ok := cfg.Calibration.Floor(scenario, k); ok {
			return Num(max(f, g.Resolution, g.MinRel*math.Abs(m))), "calibrated"
		}
	}
	fl, ok := cfg.Floors[k.Name]
	if !ok {
		fl = FallbackFloor
	}
	return Num(max(fl.Rel*math.Abs(m), fl.Abs, g.Resolution)), "default"
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
		return Regression
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
	case Regression, Improvement:
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
