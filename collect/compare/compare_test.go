package compare_test

import (
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mcchaos/mcchaos/collect/compare"
	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/collect/results/resultstest"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// lossScenarios are where a disabled breaker must show.
var lossScenarios = []string{"packet-loss-100-pct", "multi-failure-2-servers-packet-loss"}

func flagged(d *compare.Diff, v compare.Verdict) map[string][]string {
	out := map[string][]string{}
	for _, s := range d.Scenarios {
		for _, r := range s.Rows {
			if r.Verdict == v {
				out[s.Name] = append(out[s.Name], r.Key.String())
			}
		}
	}
	return out
}

// gatingWorse reports whether a gating row of d is worse.
func gatingWorse(d *compare.Diff) bool {
	for _, s := range d.Scenarios {
		if slices.ContainsFunc(s.Rows, func(r compare.Row) bool { return r.Gating && r.Verdict == compare.Worse }) {
			return true
		}
	}
	return false
}

// firstProblem reports whether d's first problem, the one its verdict
// line names, is want.
func firstProblem(d *compare.Diff, want compare.Issue) bool {
	return len(d.Problems) > 0 && reflect.DeepEqual(d.Problems[0], want)
}

// twoStage compares first and second (the confirmation stage) and judges
// the first's candidates by the second.
func twoStage(t *testing.T, first, second *results.File) *compare.Diff {
	t.Helper()
	d1, err := compare.Compare(nil, first, compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	d2, err := compare.Compare(nil, second, compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return compare.Confirm(d1, d2)
}

// TestAASynthetic: paired runs of the same (synthetic) client never show a
// regression after the confirmation stage, over many seeds; a stored
// baseline of the same client is advisory and shows nothing worse.
func TestAASynthetic(t *testing.T) {
	candidates := 0
	for seed := uint64(1); seed <= 40; seed += 2 {
		d := twoStage(t, resultstest.File(resultstest.Options{Seed: seed, Paired: true}), resultstest.File(resultstest.Options{Seed: seed + 1, Paired: true}))
		candidates += d.Candidates
		if d.Verdict != compare.VerdictOK || d.Mode != compare.ModePaired || d.Compared != 14 || d.Regressions != 0 {
			t.Errorf("seed %d: %s (%s, %d compared); flagged %v", seed, d.Verdict, d.Mode, d.Compared, flagged(d, compare.Regression))
		}
		if d.GatingRows < 60 || d.FalseAlarmBound > 0.01 {
			t.Errorf("seed %d: %d gating rows, bound %g: want every scenario's family and the healthy path, bound under 1 %%", seed, d.GatingRows, d.FalseAlarmBound)
		}
	}
	t.Logf("first-stage candidates over 20 A/A runs: %d", candidates)
	d, err := compare.Compare(resultstest.File(resultstest.Options{Seed: 1}), resultstest.File(resultstest.Options{Seed: 2}), compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Verdict != compare.VerdictAdvisory || d.Mode != compare.ModeStored {
		t.Errorf("stored baseline: %s (%s)", d.Verdict, d.Mode)
	}
}

// TestPlantedSynthetic: a head side with its breaker disabled is a
// candidate on the 100 %-loss scenarios in the first stage, the breaker
// that never opens included ("not reached" gates in a detect scenario),
// nothing is flagged on the latency ones, and the confirmation stage (an
// independent planted run) makes them regressions.
func TestPlantedSynthetic(t *testing.T) {
	first := resultstest.File(resultstest.Options{Seed: 1, Paired: true, Planted: true})
	d1, err := compare.Compare(nil, first, compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if d1.Verdict != compare.VerdictUnconfirmed || d1.Confirmation != nil || d1.Candidates == 0 {
		t.Fatalf("first stage alone: %s, confirmation %+v, %d candidates", d1.Verdict, d1.Confirmation, d1.Candidates)
	}
	d := twoStage(t, first, resultstest.File(resultstest.Options{Seed: 2, Paired: true, Planted: true}))
	if d.Verdict != compare.VerdictRegression || d.Compared != 14 || d.Confirmation == nil || d.Confirmation.Confirmed != d.Regressions {
		t.Fatalf("%s in %d scenarios compared, confirmation %+v, %d regressions", d.Verdict, d.Compared, d.Confirmation, d.Regressions)
	}
	got := flagged(d, compare.Regression)
	for _, s := range lossScenarios {
		for _, want := range []string{"testing throughput", "testing latency_p99{op=all}", "resilience time_to_detect"} {
			if !slices.Contains(got[s], want) {
				t.Errorf("%s: %s not flagged (flagged: %v)", s, want, got[s])
			}
		}
	}
	for s, f := range got {
		if strings.HasPrefix(s, "latency-") {
			t.Errorf("%s: flagged %v, want nothing (the planted change only affects loss)", s, f)
		}
	}
	for _, s := range d.Scenarios {
		for _, r := range s.Rows {
			if r.Verdict == compare.Regression && (r.Reason != compare.BeyondFloor || *r.P >= d.Alpha || r.Confirm == nil || *r.Confirm.P >= d.Alpha) {
				t.Errorf("%s %s: regression with p=%v, reason %q, confirmation %+v", s.Name, r.Key, *r.P, r.Reason, r.Confirm)
			}
			// Not reached on every head arm, all 5 above every base arm.
			if s.Name == "packet-loss-100-pct" && r.Key.Name == "time_to_detect" && (!math.IsInf(float64(r.Head.Median), 1) || r.Separation != compare.HeadAbove || r.Head.N != 5) {
				t.Errorf("time to detect: head median %v, separation %s, %d head arms", r.Head.Median, r.Separation, r.Head.N)
			}
		}
	}
	// A confirmation stage without the change confirms nothing.
	d = twoStage(t, first, resultstest.File(resultstest.Options{Seed: 2, Paired: true}))
	if d.Verdict != compare.VerdictOK || d.Regressions != 0 || d.Confirmation.Unconfirmed == 0 {
		t.Errorf("unplanted confirmation: %s, confirmation %+v", d.Verdict, d.Confirmation)
	}
}

// TestDecisionRule: the committed policy against changes a real pull
// request makes, judged in two stages (independent seeds):
//   - +1 ms on every operation (p50 0.3 ms → 1.3 ms): the healthy path;
//   - a breaker that opens on a server 200 ms slow but answering within the
//     500 ms timeout: a false ejection in the ride-through scenarios, and
//     never an improvement of time to detect;
//   - +20 µs on every operation (under the policy's 50 µs / 10 %): nothing.
func TestDecisionRule(t *testing.T) {
	t.Run("slower by 1 ms", func(t *testing.T) {
		d := twoStage(t, resultstest.File(resultstest.Options{Seed: 3, Paired: true, Slow: 0.001}), resultstest.File(resultstest.Options{Seed: 4, Paired: true, Slow: 0.001}))
		var healthy []string
		for _, r := range d.Healthy {
			if r.Verdict == compare.Regression {
				healthy = append(healthy, r.Key.Name)
			}
		}
		if !slices.Contains(healthy, "latency_p50") || !slices.Contains(healthy, "latency_p99") || d.Verdict != compare.VerdictRegression {
			t.Errorf("healthy path regressions %v, verdict %s: want p50 and p99", healthy, d.Verdict)
		}
		for s, f := range flagged(d, compare.Improvement) {
			t.Errorf("%s: %v called an improvement", s, f)
		}
	})
	t.Run("false ejection", func(t *testing.T) {
		d := twoStage(t, resultstest.File(resultstest.Options{Seed: 5, Paired: true, FalseEject: true}), resultstest.File(resultstest.Options{Seed: 6, Paired: true, FalseEject: true}))
		got := flagged(d, compare.Regression)
		for _, s := range []string{"latency-200ms-5s", "latency-200ms-10s", "latency-200ms-40s", "latency-200ms-2m"} {
			if !slices.Contains(got[s], "resilience false_ejection") {
				t.Errorf("%s: false ejection not a regression (flagged %v)", s, got[s])
			}
		}
		for s, f := range flagged(d, compare.Improvement) {
			if slices.Contains(f, "resilience time_to_detect") {
				t.Errorf("%s: time to detect called an improvement in a ride-through scenario", s)
			}
		}
		for _, s := range d.Scenarios {
			if s.Expect == "" {
				t.Errorf("%s: no expectation shown", s.Name)
			}
		}
	})
	t.Run("too small to act on", func(t *testing.T) {
		d := twoStage(t, resultstest.File(resultstest.Options{Seed: 7, Paired: true, Slow: 0.00002}), resultstest.File(resultstest.Options{Seed: 8, Paired: true, Slow: 0.00002}))
		if d.Verdict != compare.VerdictOK {
			t.Errorf("+20 µs: %s; flagged %v", d.Verdict, flagged(d, compare.Regression))
		}
	})
}

func TestIntegrityFailsWhateverTheStatistics(t *testing.T) {
	new := resultstest.File(resultstest.Options{Seed: 1, Paired: true, IntegrityIn: "latency-200ms-1s"})
	d, err := compare.Compare(nil, new, compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Verdict != compare.VerdictIntegrity || d.Integrity[0].Scenario != "latency-200ms-1s" {
		t.Errorf("verdict %q integrity %+v, want an integrity failure in latency-200ms-1s", d.Verdict, d.Integrity)
	}
	// A violation between scenarios (outside every window) fails too.
	between := resultstest.File(resultstest.Options{Seed: 1, Paired: true})
	between.Runs[0].IntegrityViolations["head"][2] = 2
	if d, err := compare.Compare(nil, between, compare.Config{}); err != nil || d.Verdict != compare.VerdictIntegrity {
		t.Errorf("violation between scenarios: verdict %v, err %v", d.Verdict, err)
	}
	// On the base side: a loud warning, not the head's failure.
	onBase := resultstest.File(resultstest.Options{Seed: 1, Paired: true})
	onBase.Runs[0].IntegrityViolations["base"][0] = 1
	if d, err := compare.Compare(nil, onBase, compare.Config{}); err != nil || d.Verdict != compare.VerdictOK || len(d.Warnings) == 0 {
		t.Errorf("violation on base: verdict %v, warnings %+v, err %v", d.Verdict, d.Warnings, err)
	}
	// Without a baseline too.
	d, err = compare.Compare(nil, resultstest.File(resultstest.Options{Seed: 1, IntegrityIn: "latency-200ms-1s"}), compare.Config{})
	if err != nil || d.Verdict != compare.VerdictIntegrity {
		t.Errorf("no baseline: verdict %q, err %v", d.Verdict, err)
	}
}

func TestNoBaseline(t *testing.T) {
	d, err := compare.Compare(nil, resultstest.File(resultstest.Options{}), compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Verdict != compare.VerdictNoBaseline || len(d.Scenarios) != 14 || d.Compared != 0 {
		t.Fatalf("verdict %q with %d scenarios, %d compared", d.Verdict, len(d.Scenarios), d.Compared)
	}
	for _, s := range d.Scenarios {
		for _, r := range s.Rows {
			if r.Verdict != compare.NotTested {
				t.Fatalf("%s %s: verdict %q", s.Name, r.Key, r.Verdict)
			}
		}
	}
}

// TestWhatWasCompared: a scenario counts only when both sides have it;
// nothing compared, a gating figure on one side only, or a side whose
// every arm has no data make the comparison invalid (exit 2), never "no
// regression".
func TestWhatWasCompared(t *testing.T) {
	old := resultstest.File(resultstest.Options{Seed: 1, Scenarios: []string{"packet-loss-2-pct", "packet-loss-5-pct"}})
	new := resultstest.File(resultstest.Options{Seed: 2, Scenarios: []string{"packet-loss-5-pct", "packet-loss-10-pct"}})
	d, err := compare.Compare(old, new, compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Verdict != compare.VerdictAdvisory || d.Compared != 1 || gatingWorse(d) {
		t.Errorf("partly overlapping: %s, %d compared, worse %v", d.Verdict, d.Compared, flagged(d, compare.Worse))
	}

	disjoint := resultstest.File(resultstest.Options{Seed: 2, Scenarios: []string{"packet-loss-10-pct"}})
	if d, _ := compare.Compare(old, disjoint, compare.Config{}); d.Verdict != compare.VerdictInvalid || !firstProblem(d, compare.Issue{Code: compare.NoCommon}) {
		t.Errorf("disjoint: %s, problems %+v", d.Verdict, d.Problems)
	}

	oneSided := resultstest.File(resultstest.Options{Seed: 2, Paired: true, Scenarios: []string{"packet-loss-100-pct"}})
	for _, m := range oneSided.Runs[0].Scenarios[0].Resilience {
		if m.Name == "time_to_detect" {
			for i := range m.Arms["base"] {
				m.Arms["base"][i] = math.NaN()
			}
		}
	}
	ttd := compare.Key{Phase: compare.PhaseResilience, Name: "time_to_detect"}
	if d, _ := compare.Compare(nil, oneSided, compare.Config{}); d.Verdict != compare.VerdictInvalid ||
		!firstProblem(d, compare.Issue{Code: compare.GatingOneSide, Scenario: "packet-loss-100-pct", Key: &ttd, Side: "head"}) {
		t.Errorf("gating figure on one side: %s, problems %+v", d.Verdict, d.Problems)
	}

	dead := resultstest.File(resultstest.Options{Seed: 2, Paired: true, Scenarios: []string{"packet-loss-100-pct"}})
	for i := range dead.Runs[0].Scenarios[0].Phases {
		for _, m := range dead.Runs[0].Scenarios[0].Phases[i].Metrics {
			for j := range m.Arms["base"] {
				m.Arms["base"][j] = math.NaN()
			}
		}
	}
	if d, _ := compare.Compare(nil, dead, compare.Config{}); d.Verdict != compare.VerdictInvalid ||
		!firstProblem(d, compare.Issue{Code: compare.SideIdle, Scenario: "packet-loss-100-pct", Side: "base"}) {
		t.Errorf("dead side: %s, problems %+v", d.Verdict, d.Problems)
	}

	// One arm without a value: a U test of 4 against 5 can never reach
	// p < 0.01, so the row is a problem naming the arm, never a quiet ~.
	short := resultstest.File(resultstest.Options{Seed: 2, Paired: true, Scenarios: []string{"packet-loss-100-pct"}})
	for _, m := range short.Runs[0].Scenarios[0].Resilience {
		if m.Name == "time_to_recover" {
			m.Arms["head"][3] = math.NaN()
		}
	}
	ttr := compare.Key{Phase: compare.PhaseResilience, Name: "time_to_recover"}
	if d, _ := compare.Compare(nil, short, compare.Config{}); d.Verdict != compare.VerdictInvalid ||
		!firstProblem(d, compare.Issue{Code: compare.GatingMissingArms, Scenario: "packet-loss-100-pct", Key: &ttr, Side: "head", N: 4, Of: 5, Arms: []int{4}}) {
		t.Errorf("an arm missing: %s, problems %+v", d.Verdict, d.Problems)
	}
}

func TestIncompatible(t *testing.T) {
	base := resultstest.File(resultstest.Options{Seed: 1})
	otherProfile := resultstest.File(resultstest.Options{Seed: 2})
	otherProfile.Runs[0].Profile = "smoke"
	otherFidelity := resultstest.File(resultstest.Options{Seed: 2, Fidelity: manifest.FidelityPerPacket})
	for _, tc := range []struct {
		name string
		new  *results.File
		want string
	}{
		{"profile", otherProfile, `baseline profile "pr", new profile "smoke"`},
		{"fidelity", otherFidelity, "packet-loss-2-pct (baseline per-connection, new per-packet)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compare.Compare(base, tc.new, compare.Config{})
			if !errors.Is(err, compare.ErrIncompatible) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrIncompatible mentioning %q", err, tc.want)
			}
		})
	}
}

// TestHostClassWarning: a stored baseline of another host class is
// compared with a loud warning.
func TestHostClassWarning(t *testing.T) {
	old := resultstest.File(resultstest.Options{Seed: 1, CPUs: 8})
	new := resultstest.File(resultstest.Options{Seed: 2})
	d, err := compare.Compare(old, new, compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (compare.Issue{Code: compare.HostClass, Base: "linux-amd64-8cpu", Head: "linux-amd64-2cpu"}); len(d.Warnings) != 1 || !reflect.DeepEqual(d.Warnings[0], want) {
		t.Errorf("warnings = %+v, want the host class", d.Warnings)
	}
}

// TestJudge: significance, floor and direction, row by row, on 5 arms a
// side.
func TestJudge(t *testing.T) {
	base := []float64{100, 101, 99, 100, 102}
	inf := math.Inf(1)
	for _, tc := range []struct {
		name      string
		base, new []float64
		key       compare.Key
		dir       results.Direction
		want      compare.Verdict
	}{
		// Same values: ~.
		{"same", base, base, gate, results.LowerIsBetter, compare.Same},
		// Every head arm 20 % worse (lower is better): a candidate.
		{"worse", base, scale(base, 1.2), gate, results.LowerIsBetter, compare.Candidate},
		// 20 % better: improvement.
		{"better", base, scale(base, 0.8), gate, results.LowerIsBetter, compare.Improvement},
		// Significant but 3 %, under the 10 % floor: ~.
		{"small", base, scale(base, 1.03), gate, results.LowerIsBetter, compare.Same},
		// Higher is better, and it dropped: a candidate.
		{"dropped", base, scale(base, 0.8), gate, results.HigherIsBetter, compare.Candidate},
		// Worse on a figure outside the gating family: worse, never gating.
		{"informational", base, scale(base, 1.2), other, results.LowerIsBetter, compare.Worse},
		// No direction (an error-class share): changed.
		{"no direction", base, scale(base, 1.5), other, results.Informational, compare.Changed},
		// Not reached on every head arm: worse than any value, and it gates.
		{"not reached", base, []float64{inf, inf, inf, inf, inf}, gate, results.LowerIsBetter, compare.Candidate},
		// Not reached on both sides: the same.
		{"never reached", []float64{inf, inf, inf}, []float64{inf, inf, inf}, gate, results.LowerIsBetter, compare.Same},
		// 2 arms a side can never reach p < 0.05: ~.
		{"few", base[:2], scale(base[:2], 2), gate, results.LowerIsBetter, compare.Same},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := compare.Config{Family: []compare.Gate{{Key: gate}}, Healthy: []compare.Gate{}, Policy: compare.Policy{"m": {Rel: 0.1}}, Floors: map[string]compare.Floor{"o": {Rel: 0.1}}}
			d, err := compare.Compare(nil, paired(tc.key, tc.base, tc.new, tc.dir), cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := d.Scenarios[0].Rows[0]
			if r.Verdict != tc.want {
				t.Errorf("verdict %q (p=%v, effect %v, floor %v), want %q", r.Verdict, *r.P, r.Effect, r.Floor, tc.want)
			}
		})
	}
}

var (
	gate  = compare.Key{Phase: "testing", Name: "m"}
	other = compare.Key{Phase: "testing", Name: "o"}
)

func scale(vs []float64, k float64) []float64 {
	out := make([]float64, len(vs))
	for i, v := range vs {
		out[i] = v * k
	}
	return out
}

// paired is a paired run with one figure.
func paired(k compare.Key, base, head []float64, dir results.Direction) *results.File {
	return &results.File{SchemaVersion: results.SchemaVersion, Runs: []results.Run{{RunID: "r", Profile: "pr",
		Sides: []results.Side{{Name: "head", Arms: len(head)}, {Name: "base", Arms: len(base)}},
		Scenarios: []results.Scenario{{Name: "s", Fidelity: "exact", Phases: []results.Phase{{Name: k.Phase,
			Metrics: []results.Metric{{Name: k.Name, Unit: "count", Direction: dir, Arms: map[string]results.Values{"base": base, "head": head}}}}}}}}}}
}

// TestHodgesLehmann: the estimate and its exact interval on values whose
// pairwise differences are known.
func TestHodgesLehmann(t *testing.T) {
	est, lo, hi := compare.HodgesLehmann([]float64{1, 2, 3, 4, 5}, []float64{11, 12, 13, 14, 15}, 0.95)
	// Differences 6..14 with counts 1,2,3,4,5,4,3,2,1; P(U ≤ 2) = 4/252 ≤
	// 0.025 < P(U ≤ 3): the interval is [d(3), d(23)] = [7, 13].
	if est != 10 || lo != 7 || hi != 13 {
		t.Errorf("HL = %g [%g, %g], want 10 [7, 13]", est, lo, hi)
	}
	if p := compare.UTest([]float64{1, 2, 3, 4, 5}, []float64{11, 12, 13, 14, 15}, 0.05); math.Abs(p-2.0/252) > 1e-9 {
		t.Errorf("U test p = %g, want 2/252 (the smallest for 5 against 5)", p)
	}
}

// recorded reads real results files under testdata/recorded/ (see its
// README). The files are committed; a missing one fails the test.
func recorded(t *testing.T, names ...string) []*results.File {
	t.Helper()
	var out []*results.File
	for _, n := range names {
		f, err := results.Read(filepath.Join("testdata", "recorded", n+".json"))
		if err != nil {
			t.Fatalf("recorded run %s: %v (it is committed testdata)", n, err)
		}
		out = append(out, f)
	}
	return out
}

// validAA are the recorded paired A/A runs whose comparison is valid.
var validAA = []string{"aa-smoke-1", "aa-smoke-3", "aa-smoke-5", "aa-smoke-6", "aa-smoke-8", "aa-smoke-9"}

// unsteadyAA are the scenarios of the recorded A/A runs that were not in
// steady state before their fault on both sides (11–70 % of operations
// failing in stabilization: the previous scenario's 100 % loss not yet
// recovered on a busy host); Compare marks them invalid.
var unsteadyAA = map[string][]string{
	"aa-smoke-1": {"latency-200ms-1s", "multi-failure-2-servers-latency"},
	"aa-smoke-5": {"latency-200ms-1s"},
}

// TestAARecorded: in every recorded paired A/A run, the base arms against
// the head arms flag no regression with the default floors: no gating row
// of any scenario is a regression, the invalid ones (unsteady, shown but
// not judged) included, and exactly the unsteady scenarios are invalid.
func TestAARecorded(t *testing.T) {
	for i, f := range recorded(t, validAA...) {
		d, err := compare.Compare(nil, f, compare.Config{})
		if err != nil {
			t.Fatal(err)
		}
		want := unsteadyAA[validAA[i]]
		if d.Verdict != compare.VerdictOK || len(flagged(d, compare.Candidate)) > 0 ||
			!slices.Equal(d.Invalid, want) || d.Compared != 3-len(want) {
			t.Errorf("%s: %s; flagged %v; invalid %v, want %v; problems %+v", validAA[i], d.Verdict, flagged(d, compare.Regression), d.Invalid, want, d.Problems)
		}
	}
}

// TestUnsteadyRecorded: the scenarios of the recorded A/A runs that were
// not in steady state before their fault on both sides (the previous
// scenario's 100 % loss not yet recovered on a busy host: 11–70 % of
// operations failing in stabilization) are invalid and say why; the runs
// of a quiet host are not touched.
func TestUnsteadyRecorded(t *testing.T) {
	for _, run := range []string{"aa-smoke-1", "aa-smoke-5", "aa-smoke-9", "aa-smoke-6"} {
		d, err := compare.Compare(nil, recorded(t, run)[0], compare.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if want := unsteadyAA[run]; !slices.Equal(d.Invalid, want) {
			t.Errorf("%s: invalid %v, want %v", run, d.Invalid, want)
		}
		for _, s := range d.Scenarios {
			if slices.Contains(unsteadyAA[run], s.Name) && len(s.Unsteady) != 2 {
				t.Errorf("%s %s: unsteady %+v, want both sides", run, s.Name, s.Unsteady)
			}
		}
	}
}

// TestUnsteadyOneSide: a scenario where only the head side failed in
// stabilization is still compared (that may be the client), with a warning.
func TestUnsteadyOneSide(t *testing.T) {
	f := recorded(t, "aa-smoke-9")[0]
	sc, _ := f.Runs[0].Scenario("latency-200ms-1s")
	for pi := range sc.Phases {
		if sc.Phases[pi].Name != manifest.PhaseStabilization {
			continue
		}
		for mi, m := range sc.Phases[pi].Metrics {
			if m.Name == "error_ratio" && len(m.Labels) == 0 {
				sc.Phases[pi].Metrics[mi].Arms[results.SideHead] = results.Values{0.3, 0.3, 0.3, 0.3, 0.3}
			}
		}
	}
	d, err := compare.Compare(nil, f, compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Invalid) != 0 || d.Compared != 3 {
		t.Errorf("invalid %v, compared %d: want none invalid, 3 compared", d.Invalid, d.Compared)
	}
	want := compare.Issue{Code: compare.OneSideUnsteady, Scenario: "latency-200ms-1s", Side: "head", Value: 0.3, Limit: compare.SteadyMaxErrorRatio}
	if !slices.ContainsFunc(d.Warnings, func(w compare.Issue) bool { return reflect.DeepEqual(w, want) }) {
		t.Errorf("no warning naming the head side: %+v", d.Warnings)
	}
}

// TestIdleArmsRecorded: a recorded run whose arms were still ramping up in
// stabilization is not compared (exit 2), and says why: in aa-smoke-7
// every head arm, in aa-smoke-2 three base arms and two head arms of one
// scenario had no operations there, so no band to recover to.
func TestIdleArmsRecorded(t *testing.T) {
	ttr := compare.Key{Phase: compare.PhaseResilience, Name: "time_to_recover"}
	for run, want := range map[string]compare.Issue{
		"aa-smoke-7": {Code: compare.GatingOneSide, Scenario: "packet-loss-100-pct", Key: &ttr, Side: "base"},
		"aa-smoke-2": {Code: compare.GatingMissingArms, Scenario: "packet-loss-100-pct", Key: &ttr, Side: "base", N: 2, Of: 5, Arms: []int{3, 4, 5}},
	} {
		d, err := compare.Compare(nil, recorded(t, run)[0], compare.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Verdict != compare.VerdictInvalid || !firstProblem(d, want) {
			t.Errorf("%s: %s, problems %+v, want first %+v", run, d.Verdict, d.Problems, want)
		}
	}
}

// TestInvalidExcluded: a scenario whose faults the efficacy oracle found
// not in effect is shown but never judged, even when its figures moved,
// and the summary names it.
func TestInvalidExcluded(t *testing.T) {
	f := resultstest.File(resultstest.Options{Seed: 1, Paired: true, Planted: true})
	planted, err := compare.Compare(nil, f, compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var victim string
	for _, s := range planted.Scenarios {
		if s.Candidates > 0 {
			victim = s.Name
			break
		}
	}
	if victim == "" {
		t.Fatal("the planted file flags nothing: no scenario to invalidate")
	}
	sc, _ := f.Runs[0].Scenario(victim)
	sc.Status = manifest.StatusInvalid
	d, err := compare.Compare(nil, f, compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(d.Invalid, victim) {
		t.Errorf("Invalid = %v, want %s in it", d.Invalid, victim)
	}
	for _, s := range d.Scenarios {
		if s.Name == victim && (s.Compared || s.Candidates > 0) {
			t.Errorf("%s: compared %v with %d candidates, want neither", victim, s.Compared, s.Candidates)
		}
	}
	if d.Compared != planted.Compared-1 {
		t.Errorf("compared %d (was %d): want one fewer", d.Compared, planted.Compared)
	}
}

// TestConfirmationNotJudged: a candidate whose scenario the confirmation
// stage could not compare (invalid there) is neither a regression nor "no
// regression": the run is not judged (exit 2), and says which.
func TestConfirmationNotJudged(t *testing.T) {
	second := resultstest.File(resultstest.Options{Seed: 2, Paired: true, Planted: true, Scenarios: []string{"packet-loss-100-pct"}})
	second.Runs[0].Scenarios[0].Status = manifest.StatusInvalid
	d := twoStage(t, resultstest.File(resultstest.Options{Seed: 1, Paired: true, Planted: true, Scenarios: []string{"packet-loss-100-pct"}}), second)
	if d.Verdict != compare.VerdictInvalid || d.Regressions != 0 || !slices.ContainsFunc(d.Problems, func(i compare.Issue) bool { return i.Code == compare.NotJudged && i.Scenario == "packet-loss-100-pct" }) {
		t.Errorf("verdict %s: problems %+v", d.Verdict, d.Problems)
	}
}
