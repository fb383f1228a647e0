package compare_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcchaos/mcchaos/collect/compare"
	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/collect/results/resultstest"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// lossScenarios are where a disabled breaker must show.
var lossScenarios = []string{"packet-loss-100-pct", "multi-failure-2-servers-packet-loss"}

// TestAASynthetic: runs of the same (synthetic) client never show a
// regression, over many seed pairs.
func TestAASynthetic(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		old := resultstest.File(resultstest.Options{Seed: seed})
		new := resultstest.File(resultstest.Options{Seed: seed + 100})
		d, err := compare.Compare(old, new, compare.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Verdict != compare.VerdictOK {
			for _, s := range d.Scenarios {
				for _, r := range s.Rows {
					if r.Verdict == compare.Regression {
						t.Logf("seed %d: %s %s %s: %v → %v p=%v", seed, s.Name, r.Phase, r.Metric, *r.Old, *r.New, *r.P)
					}
				}
			}
			t.Errorf("seed %d: verdict %q, want %q", seed, d.Verdict, compare.VerdictOK)
		}
	}
}

// TestPlantedSynthetic: a client with its breaker disabled is flagged on the
// 100 %-loss scenarios with p below alpha, and not on the latency ones.
func TestPlantedSynthetic(t *testing.T) {
	old := resultstest.File(resultstest.Options{Seed: 1})
	new := resultstest.File(resultstest.Options{Seed: 2, Planted: true})
	d, err := compare.Compare(old, new, compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	checkPlanted(t, d, false)
}

func checkPlanted(t *testing.T, d *compare.Diff, perRun bool) {
	t.Helper()
	if d.Verdict != compare.VerdictRegression {
		t.Fatalf("verdict %q, want %q", d.Verdict, compare.VerdictRegression)
	}
	if d.PerRun != perRun {
		t.Errorf("per-run samples = %v, want %v", d.PerRun, perRun)
	}
	for _, s := range d.Scenarios {
		flagged := map[string]bool{}
		for _, r := range s.Rows {
			if r.Verdict == compare.Regression {
				if r.P == nil || *r.P >= d.Alpha {
					t.Errorf("%s %s %s: regression with p=%v ≥ alpha", s.Name, r.Phase, r.Metric, r.P)
				}
				flagged[r.Phase+" "+r.Metric] = true
			}
		}
		switch {
		case contains(lossScenarios, s.Name):
			for _, want := range []string{"testing throughput", "testing latency_p99{op=all}"} {
				if !flagged[want] {
					t.Errorf("%s: %s not flagged (flagged: %v)", s.Name, want, flagged)
				}
			}
		case strings.HasPrefix(s.Name, "latency-"):
			if len(flagged) > 0 {
				t.Errorf("%s: flagged %v, want nothing (the planted change only affects loss)", s.Name, flagged)
			}
		}
	}
}

// TestPlantedPerRun: with five runs a side the per-run values are the
// samples, and the planted regression is still flagged.
func TestPlantedPerRun(t *testing.T) {
	old := resultstest.File(resultstest.Options{RunID: "old"}, 1, 2, 3, 4, 5)
	new := resultstest.File(resultstest.Options{RunID: "new", Planted: true}, 6, 7, 8, 9, 10)
	d, err := compare.Compare(old, new, compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	checkPlanted(t, d, true)
	if !strings.HasPrefix(d.Samples, "per-run values") {
		t.Errorf("samples = %q", d.Samples)
	}
}

func TestIntegrityFailsWhateverTheStatistics(t *testing.T) {
	old := resultstest.File(resultstest.Options{Seed: 1})
	new := resultstest.File(resultstest.Options{Seed: 1, IntegrityIn: "latency-200ms-1s"}) // same seed: identical otherwise
	d, err := compare.Compare(old, new, compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Verdict != compare.VerdictIntegrity || len(d.Integrity) != 1 || !strings.Contains(d.Integrity[0], "latency-200ms-1s") {
		t.Errorf("verdict %q integrity %q, want an integrity failure in latency-200ms-1s", d.Verdict, d.Integrity)
	}
	// A violation between scenarios (outside every window) fails too.
	between := resultstest.File(resultstest.Options{Seed: 1})
	between.Runs[0].IntegrityViolations = 2
	if d, err := compare.Compare(old, between, compare.Config{}); err != nil || d.Verdict != compare.VerdictIntegrity {
		t.Errorf("violation between scenarios: verdict %v, err %v", d.Verdict, err)
	}
	// Without a baseline too.
	d, err = compare.Compare(nil, new, compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Verdict != compare.VerdictIntegrity {
		t.Errorf("no baseline: verdict %q, want %q", d.Verdict, compare.VerdictIntegrity)
	}
}

func TestNoBaseline(t *testing.T) {
	d, err := compare.Compare(nil, resultstest.File(resultstest.Options{}), compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Verdict != compare.VerdictNoBaseline || len(d.Scenarios) != 14 {
		t.Fatalf("verdict %q with %d scenarios, want %q with 14", d.Verdict, len(d.Scenarios), compare.VerdictNoBaseline)
	}
	for _, s := range d.Scenarios {
		for _, r := range s.Rows {
			if r.Verdict != compare.NotTested || r.New == nil && r.Note == "" {
				t.Fatalf("%s %s: verdict %q new %v", s.Name, r.Metric, r.Verdict, r.New)
			}
		}
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

func TestHostWarnings(t *testing.T) {
	old := resultstest.File(resultstest.Options{Seed: 1, CPUs: 8})
	new := resultstest.File(resultstest.Options{Seed: 2})
	d, err := compare.Compare(old, new, compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "8 CPUs") {
		t.Errorf("warnings = %q, want the CPU count", d.Warnings)
	}
}

// TestJudge: significance, minimum effect and direction, row by row.
func TestJudge(t *testing.T) {
	low := []float64{100, 101, 99, 100, 102, 98, 100, 101}
	for _, tc := range []struct {
		name     string
		old, new []float64
		dir      results.Direction
		want     compare.Verdict
		noGate   bool
	}{
		// Same distribution: ~.
		{"same", low, low, results.LowerIsBetter, compare.Same, false},
		// Significant and 20 % worse (lower is better): regression.
		{"worse", low, scale(low, 1.2), results.LowerIsBetter, compare.Regression, false},
		// Significant and 20 % better: improvement.
		{"better", low, scale(low, 0.8), results.LowerIsBetter, compare.Improvement, false},
		// Significant but 3 %, under the 10 % floor: ~.
		{"small", low, scale(low, 1.03), results.LowerIsBetter, compare.Same, false},
		// Higher is better, and it dropped: regression.
		{"dropped", low, scale(low, 0.8), results.HigherIsBetter, compare.Regression, false},
		// Informational: changed, never a regression.
		{"info", low, scale(low, 1.5), results.Informational, compare.Changed, false},
		// Worse on a metric that does not gate the verdict: worse.
		{"not gating", low, scale(low, 1.2), results.LowerIsBetter, compare.Worse, true},
		// Too few samples to ever be significant: ~.
		{"few", low[:2], scale(low[:2], 2), results.LowerIsBetter, compare.Same, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := map[string]compare.Threshold{"m": {Rel: 0.1, Gate: !tc.noGate}}
			d, err := compare.Compare(one(tc.old, tc.dir), one(tc.new, tc.dir), compare.Config{Thresholds: th})
			if err != nil {
				t.Fatal(err)
			}
			r := d.Scenarios[0].Rows[0]
			if r.Verdict != tc.want {
				t.Errorf("verdict %q (p=%v), want %q", r.Verdict, *r.P, tc.want)
			}
		})
	}
}

func scale(vs []float64, k float64) []float64 {
	out := make([]float64, len(vs))
	for i, v := range vs {
		out[i] = v * k
	}
	return out
}

// one is a results file with one metric "m" whose value is the samples' mean.
func one(samples []float64, dir results.Direction) *results.File {
	sum := 0.0
	for _, v := range samples {
		sum += v
	}
	return &results.File{SchemaVersion: results.SchemaVersion, Runs: []results.Run{{RunID: "r", Profile: "pr",
		Scenarios: []results.Scenario{{Name: "s", Fidelity: "exact", Phases: []results.Phase{{Name: "testing",
			Metrics: []results.Metric{{Name: "m", Unit: "count", Direction: dir, Value: sum / float64(len(samples)), Samples: samples}}}}}}}}}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Recorded runs: results.json files of real runs under testdata/recorded/
// (see its README). The files are committed; a missing one fails the test.
func recorded(t *testing.T, names ...string) []*results.File {
	t.Helper()
	var out []*results.File
	for _, n := range names {
		p := filepath.Join("testdata", "recorded", n)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("recorded run %s is missing: it is committed testdata", p)
		}
		f, err := results.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// bimodal are scenarios whose outcome differs between runs of the same
// client, so that a single-run A/A cannot pass: with +500 ms latency and the
// client's 500 ms operation timeout, the breakers tripped in one recorded run
// and never in the other (a knife edge of the scenario and the client's
// defaults, not of collect). Repeated runs (bench -count) are the way to
// compare them. The A/A test logs what it flags there instead of failing.
var bimodal = map[string]bool{"multi-failure-2-servers-latency": true}

func TestAARecorded(t *testing.T) {
	fs := recorded(t, "aa-1.json", "aa-2.json")
	for _, pair := range [][2]*results.File{{fs[0], fs[1]}, {fs[1], fs[0]}} {
		d, err := compare.Compare(pair[0], pair[1], compare.Config{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range d.Scenarios {
			for _, r := range s.Rows {
				if r.Verdict != compare.Regression {
					continue
				}
				msg := fmt.Sprintf("%s %s %s: %s → %s p=%.4f", s.Name, r.Phase, r.Metric, fmtp(r.Old), fmtp(r.New), *r.P)
				if bimodal[s.Name] {
					t.Logf("known bimodal scenario: %s", msg)
				} else {
					t.Errorf("A/A regression: %s", msg)
				}
			}
		}
	}
}

func fmtp(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%g", *v)
}

// TestPlantedRecorded: a run with the breakers disabled is flagged on the
// 100 %-loss scenario, with p below alpha.
func TestPlantedRecorded(t *testing.T) {
	fs := recorded(t, "aa-1.json", "aa-2.json", "planted.json")
	for _, base := range fs[:2] {
		d, err := compare.Compare(base, fs[2], compare.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Verdict != compare.VerdictRegression {
			t.Fatalf("verdict %q, want %q", d.Verdict, compare.VerdictRegression)
		}
		for _, s := range d.Scenarios {
			if s.Name != "packet-loss-100-pct" {
				continue
			}
			r, ok := find(s, "testing", "throughput")
			if !ok || r.Verdict != compare.Regression || *r.P >= d.Alpha {
				t.Errorf("%s testing throughput: %+v, want a regression with p < %g", s.Name, r, d.Alpha)
			}
		}
	}
}

func find(s compare.Scenario, phase, key string) (compare.Row, bool) {
	for _, r := range s.Rows {
		if r.Phase == phase && r.Metric == key {
			return r, true
		}
	}
	return compare.Row{}, false
}
