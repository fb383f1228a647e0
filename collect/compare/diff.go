package compare

import (
	"encoding/json"
	"math"
	"time"

	"github.com/mcchaos/mcchaos/collect/internal/robust"
	"github.com/mcchaos/mcchaos/collect/results"
)

// SchemaVersion is the version of diff.json. 3: every field is data (state
// and reason codes, typed issues); the words are collect/report's.
const SchemaVersion = 3

// Verdict is the state of one row.
type Verdict string

// Row states.
const (
	// Same: not significant, or not beyond the floor (Row.Reason says which).
	Same Verdict = "same"
	// Candidate: a gating figure significantly worse beyond its policy
	// floor in the first stage; a regression once the confirmation stage
	// flags it again, otherwise Unconfirmed.
	Candidate   Verdict = "candidate"
	Unconfirmed Verdict = "unconfirmed"
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
	NotTested Verdict = "not_tested"
	// Added, Removed: the figure has values on one side only.
	Added   Verdict = "added"
	Removed Verdict = "removed"
)

// Reason says why a row (or a stage of it) got its state.
type Reason string

// Reasons.
const (
	// NotSignificant: p at or above the level, or no effect.
	NotSignificant Reason = "not_significant"
	// WithinFloor: significant, but the effect is smaller than the floor.
	WithinFloor Reason = "within_floor"
	// BeyondFloor: significant and at least the floor.
	BeyondFloor Reason = "beyond_floor"
	// NotCompared: the scenario is not on both sides, or there is no base.
	NotCompared Reason = "not_compared"
	// NoValues: neither side has a value.
	NoValues Reason = "no_values"
	// HeadOnly, BaseOnly: one side has no value (Added, Removed).
	HeadOnly Reason = "head_only"
	BaseOnly Reason = "base_only"
)

// Separation says how the two sides' arm values lie: every head arm above
// every base arm, every one below, or overlapping.
type Separation string

// Separations.
const (
	HeadAbove Separation = "head_above"
	HeadBelow Separation = "head_below"
	Overlap   Separation = "overlap"
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

// Row is one figure of one scenario compared (the scenario, its
// expectation and fidelity are its Scenario's).
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
	// Floor is the minimum effect applied: FloorRule of the base median,
	// from FloorFrom (FromPolicy for gating rows, FromDefault for
	// informational ones).
	Floor     Num       `json:"floor"`
	FloorRule Floor     `json:"floor_rule"`
	FloorFrom FloorFrom `json:"floor_from"`
	Verdict   Verdict   `json:"verdict"`
	Reason    Reason    `json:"reason"`
	// Separation is how the arms lie, for a tested row.
	Separation Separation `json:"separation,omitempty"`
	// Confirm is the same row in the confirmation stage, for a candidate
	// of the first stage; nil for a candidate that stage did not compare
	// (Unconfirmed, and a problem of the run).
	Confirm *Stage `json:"confirm,omitempty"`
}

// FloorFrom says where a row's floor came from.
type FloorFrom string

// Floor sources.
const (
	FromPolicy  FloorFrom = "policy"
	FromDefault FloorFrom = "default"
)

// Stage is a row in the confirmation stage, judged at ConfirmAlpha.
type Stage struct {
	Base       Side       `json:"base"`
	Head       Side       `json:"head"`
	Effect     Num        `json:"effect"`
	Rel        Num        `json:"rel"`
	P          *float64   `json:"p"`
	Floor      Num        `json:"floor"`
	Verdict    Verdict    `json:"verdict"`
	Reason     Reason     `json:"reason"`
	Separation Separation `json:"separation,omitempty"`
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
	// (manifest.ExpectRideThrough, manifest.ExpectDetect).
	Expect string `json:"expect,omitempty"`
	// Candidates counts the gating rows flagged in the first stage.
	Candidates int `json:"candidates"`
	// FaultSpread is the largest spread of the arms' fault applied and
	// removed times (manifest), in seconds; the goal is ≤ 10 ms.
	FaultSpread  *float64 `json:"fault_spread_s,omitempty"`
	Regressions  int      `json:"regressions"`
	Improvements int      `json:"improvements"`
	// Integrity is the largest integrity-violation count of a head arm.
	Integrity float64 `json:"integrity_violations"`
	// Unsteady are both sides' breaches of the steady state before the
	// fault when both broke it (the scenario is then invalid; one side
	// only is a warning).
	Unsteady []Unsteady `json:"unsteady,omitempty"`
	Rows     []Row      `json:"rows"`
}

// Unsteady is one side's breach of the steady state: its median arm's
// error ratio in stabilization above Limit (SteadyMaxErrorRatio).
type Unsteady struct {
	Side       string  `json:"side"`
	ErrorRatio float64 `json:"error_ratio"`
	Limit      float64 `json:"limit"`
}

// RunVerdict is the verdict of a whole comparison.
type RunVerdict string

// Overall verdicts of a Diff.
const (
	VerdictOK         RunVerdict = "no_regression"
	VerdictRegression RunVerdict = "regression"
	VerdictIntegrity  RunVerdict = "integrity_failure"
	VerdictNoBaseline RunVerdict = "no_baseline"
	// VerdictUnconfirmed: candidates of the first stage that no
	// confirmation stage has judged (collect alone, bench -no-confirm, or
	// a run that stopped before its confirmation stage).
	VerdictUnconfirmed RunVerdict = "unconfirmed"
	// VerdictAdvisory: a stored baseline of another day; the rows are
	// shown, nothing gates.
	VerdictAdvisory RunVerdict = "advisory"
	// VerdictInvalid: the comparison could not be made (see Problems).
	VerdictInvalid RunVerdict = "not_compared"
)

// Mode is what a comparison compares.
type Mode string

// Comparison modes.
const (
	ModePaired Mode = "paired"
	ModeStored Mode = "stored_baseline"
	ModeNone   Mode = "none"
)

// Diff is the whole comparison, written as diff.json.
type Diff struct {
	SchemaVersion int        `json:"schema_version"`
	Verdict       RunVerdict `json:"verdict"`
	// Compared counts the scenarios compared, Measured those the head
	// side ran.
	Compared    int     `json:"scenarios_compared"`
	Measured    int     `json:"scenarios_measured"`
	Regressions int     `json:"regressions"`
	Mode        Mode    `json:"mode"`
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
	Policy   Policy  `json:"policy"`
	Base     *RunSet `json:"base,omitempty"`
	Head     RunSet  `json:"head"`
	Warnings []Issue `json:"warnings,omitempty"`
	// Problems make the comparison untrustworthy: a gating figure on one
	// side only, every arm of a side without data, nothing compared. Any
	// problem is exit 2, never "no regression".
	Problems []Issue `json:"problems,omitempty"`
	// Invalid are the scenarios whose faults were not in effect as
	// requested (the efficacy oracle's verdict) or that were not in a
	// steady state before them: excluded from the verdict, and the run
	// exits 2.
	Invalid   []string `json:"invalid_scenarios,omitempty"`
	Integrity []Issue  `json:"integrity_failures,omitempty"`
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
	Start   time.Time    `json:"start"`
}
