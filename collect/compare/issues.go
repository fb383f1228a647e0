package compare

import (
	"math"

	"github.com/mcchaos/mcchaos/collect/results"
)

// IssueCode names a finding about a comparison: a warning, a problem (the
// comparison cannot be trusted) or an integrity failure.
type IssueCode string

// Issue codes, with the fields each one fills.
const (
	// BaselineUnused: a stored baseline was given for a paired run.
	BaselineUnused IssueCode = "baseline_unused"
	// HostClass, GoVersion, StackDiffers, ClientDiffers: the stored
	// baseline differs from the run (Base, Head).
	HostClass     IssueCode = "host_class"
	GoVersion     IssueCode = "go_version"
	StackDiffers  IssueCode = "stack_differs"
	ClientDiffers IssueCode = "client_differs"
	// TooFewArms: with N arms a side the smallest p (Value) is not below
	// alpha (Limit): nothing can be flagged.
	TooFewArms IssueCode = "too_few_arms"
	// ExpectDiffers: the sides state different expectations (Base, Head;
	// the head's is used). NoExpectation: none stated.
	ExpectDiffers IssueCode = "expect_differs"
	NoExpectation IssueCode = "no_expectation"
	// IdleArms: Side's Arms had no operations in stabilization. SideIdle:
	// none of Side's arms had any.
	IdleArms IssueCode = "idle_arms"
	SideIdle IssueCode = "side_idle"
	// OneSideUnsteady: only Side broke the steady state (Value, Limit).
	OneSideUnsteady IssueCode = "one_side_unsteady"
	// GatingOneSide: the gating figure Key has values on Side only.
	// GatingMissingArms: it has N of Of values on Side, none for Arms.
	// Scenario "" is the healthy path.
	GatingOneSide     IssueCode = "gating_one_side"
	GatingMissingArms IssueCode = "gating_missing_arms"
	// AllInvalid: every scenario of both sides was invalid. NoCommon: no
	// scenario ran on both sides.
	AllInvalid IssueCode = "all_invalid"
	NoCommon   IssueCode = "no_common_scenario"
	// NotJudged: the confirmation stage did not compare the candidate Key
	// of Scenario ("" the healthy path).
	NotJudged IssueCode = "candidate_not_judged"
	// InvalidScenario: Scenario was invalid (in the confirmation stage).
	InvalidScenario IssueCode = "invalid_scenario"
	// IntegrityScenario: Value violations on a head arm in Scenario.
	// IntegrityRun: Value violations on a Side arm over the run Run (a
	// base arm's is a warning).
	IntegrityScenario IssueCode = "integrity_scenario"
	IntegrityRun      IssueCode = "integrity_run"
)

// IssueCodes are every code, for readers that check them (the PR comment
// renderer's bench-known.json, collect/report's words).
var IssueCodes = []IssueCode{BaselineUnused, HostClass, GoVersion, StackDiffers, ClientDiffers, TooFewArms, ExpectDiffers, NoExpectation,
	IdleArms, SideIdle, OneSideUnsteady, GatingOneSide, GatingMissingArms, AllInvalid, NoCommon, NotJudged, InvalidScenario,
	IntegrityScenario, IntegrityRun}

// Issue is one finding, as data; collect/report says it in words.
type Issue struct {
	Code IssueCode `json:"code"`
	// Confirmation marks an issue of the confirmation stage carried over
	// to the run's comparison.
	Confirmation bool    `json:"confirmation_stage,omitempty"`
	Scenario     string  `json:"scenario,omitempty"`
	Run          string  `json:"run,omitempty"`
	Side         string  `json:"side,omitempty"`
	Key          *Key    `json:"key,omitempty"`
	Arms         []int   `json:"arms,omitempty"` // 1-based
	N            int     `json:"n,omitempty"`
	Of           int     `json:"of,omitempty"`
	Value        float64 `json:"value,omitempty"`
	Limit        float64 `json:"limit,omitempty"`
	Base         string  `json:"base,omitempty"`
	Head         string  `json:"head,omitempty"`
}

// checkGatingRow adds a problem for a gating row of scenario ("" the
// healthy path) that cannot be judged fully: values on one side only, or
// fewer values than arms on a side (a U test of 4 against 5 can never
// reach p < 0.01, so silence would be a blind spot, not a verdict).
func checkGatingRow(scenario string, row Row, kB, kH int, problems *[]Issue) {
	key := row.Key
	switch row.Verdict {
	case Added, Removed:
		side := results.SideHead
		if row.Verdict == Removed {
			side = results.SideBase
		}
		*problems = append(*problems, Issue{Code: GatingOneSide, Scenario: scenario, Key: &key, Side: side})
		return
	case NotTested:
		return
	}
	for _, s := range []struct {
		name string
		side Side
		k    int
	}{{results.SideBase, row.Base, kB}, {results.SideHead, row.Head, kH}} {
		if s.side.N >= s.k {
			continue
		}
		var missing []int
		for i, v := range s.side.Arms {
			if math.IsNaN(v) {
				missing = append(missing, i+1)
			}
		}
		*problems = append(*problems, Issue{Code: GatingMissingArms, Scenario: scenario, Key: &key, Side: s.name, N: s.side.N, Of: s.k, Arms: missing})
	}
}

// hostWarnings says how a stored baseline's run differs from new's.
func hostWarnings(old, new results.Run) []Issue {
	var w []Issue
	if oc, nc := old.Host.Class(), new.Host.Class(); oc != nc {
		w = append(w, Issue{Code: HostClass, Base: oc, Head: nc})
	}
	if old.Host.GoVersion != new.Host.GoVersion {
		w = append(w, Issue{Code: GoVersion, Base: old.Host.GoVersion, Head: new.Host.GoVersion})
	}
	if old.Stack != new.Stack {
		w = append(w, Issue{Code: StackDiffers, Base: old.Stack, Head: new.Stack})
	}
	if old.Client != new.Client {
		w = append(w, Issue{Code: ClientDiffers, Base: old.Client, Head: new.Client})
	}
	return w
}
