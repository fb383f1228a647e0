package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/collect/results/resultstest"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// writeResults writes f to dir/name and returns the path.
func writeResults(t *testing.T, dir, name string, f *results.File) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := results.Write(p, f); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runCLI runs the command and returns its exit code and outputs.
func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), &stdout, &stderr, args, func(k string) string { return env[k] })
	code := exitCode(&stderr, err)
	return code, stdout.String(), stderr.String()
}

// few keeps the CLI tests quick: three scenarios, one of them 100 % loss.
var few = []string{"packet-loss-2-pct", "packet-loss-100-pct", "latency-200ms-1s"}

// TestCompareOffline runs `collect -compare` on SYNTHETIC results files.
func TestCompareOffline(t *testing.T) {
	dir := t.TempDir()
	old := writeResults(t, dir, "old.json", resultstest.File(resultstest.Options{Seed: 1, Scenarios: few}))
	same := writeResults(t, dir, "same.json", resultstest.File(resultstest.Options{Seed: 2, Scenarios: few}))
	planted := writeResults(t, dir, "planted.json", resultstest.File(resultstest.Options{Seed: 3, Planted: true, Scenarios: few}))
	integ := writeResults(t, dir, "integrity.json", resultstest.File(resultstest.Options{Seed: 4, IntegrityIn: "packet-loss-2-pct", Scenarios: few}))
	pairedAA := writeResults(t, dir, "paired-aa.json", resultstest.File(resultstest.Options{Seed: 5, Paired: true, Scenarios: few}))
	pairedPlanted := writeResults(t, dir, "paired-planted.json", resultstest.File(resultstest.Options{Seed: 6, Paired: true, Planted: true, Scenarios: few}))
	confirmPlanted := writeResults(t, dir, "confirm-planted.json", resultstest.File(resultstest.Options{Seed: 7, Paired: true, Planted: true, Scenarios: few}))
	confirmAA := writeResults(t, dir, "confirm-aa.json", resultstest.File(resultstest.Options{Seed: 8, Paired: true, Scenarios: few}))
	summary := filepath.Join(dir, "step-summary.md")
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		verdict string
	}{
		// A stored baseline of another day is advisory: exit 0 even when
		// failing on regressions, planted or not, and it says so.
		{"aa", []string{"-fail-on", "regression", "-compare", old, same}, 0, "advisory, against a stored baseline of another day (not a paired experiment; nothing gates): no gating figure worse"},
		{"planted", []string{"-fail-on", "regression", "-compare", old, planted}, 0, "advisory, against a stored baseline of another day (not a paired experiment; nothing gates): gating figures worse in 3 scenarios compared: packet-loss-2-pct (throughput, p99 latency); packet-loss-100-pct"},
		// A paired run alone: its base side against its head side; a
		// candidate without its confirmation stage does not fail the run.
		{"paired aa", []string{"-fail-on", "regression", "-compare", "-", pairedAA}, 0, "no regression in 3 scenarios compared"},
		{"paired planted unconfirmed", []string{"-fail-on", "regression", "-compare", "-", pairedPlanted}, 0, "candidate regression(s) in 3 scenarios compared, not confirmed: no second stage ran"},
		// With its confirmation stage: exit 1 with -fail-on regression...
		{"paired planted", []string{"-fail-on", "regression", "-confirm", confirmPlanted, "-compare", "-", pairedPlanted}, 1, "6 regressions, confirmed by a second stage, in 3 scenarios compared: packet-loss-2-pct (throughput, p99 latency); packet-loss-100-pct (throughput, error ratio, p99 latency, time to detect)"},
		// ...but 0 when only integrity fails the run, or never...
		{"planted integrity", []string{"-fail-on", "integrity", "-confirm", confirmPlanted, "-compare", "-", pairedPlanted}, 0, "regression"},
		{"planted never", []string{"-confirm", confirmPlanted, "-compare", "-", pairedPlanted}, 0, "regression"},
		// ...and a confirmation stage without the change confirms nothing.
		{"planted not confirmed", []string{"-fail-on", "regression", "-confirm", confirmAA, "-compare", "-", pairedPlanted}, 0, "not confirmed by the second"},
		// Flags after the files work too.
		{"flags after files", []string{"-compare", "-", pairedPlanted, "-confirm", confirmPlanted, "-fail-on", "regression"}, 1, "regression"},
		// An integrity violation fails with -fail-on integrity.
		{"integrity", []string{"-fail-on", "integrity", "-compare", old, integ}, 1, "integrity failure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			args := append([]string{"-q", "-out", out}, tc.args...)
			code, stdout, stderr := runCLI(t, map[string]string{"GITHUB_STEP_SUMMARY": summary}, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr)
			}
			if !strings.Contains(stdout, "\t") || !strings.Contains(stdout, tc.verdict) {
				t.Errorf("stdout %q, want the verdict %q", stdout, tc.verdict)
			}
			for _, f := range []string{"report.md", "summary.md", "diff.json", "charts/packet-loss-100-pct.png"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Errorf("missing output: %v", err)
				}
			}
		})
	}
	if b, err := os.ReadFile(summary); err != nil || !strings.Contains(string(b), "# mcchaos report") {
		t.Errorf("$GITHUB_STEP_SUMMARY not written: %v", err)
	}
}

// TestBadInput: every bad input is one clear line and exit 2, never a report
// that says "no regression".
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	good := writeResults(t, dir, "good.json", resultstest.File(resultstest.Options{Seed: 1}))
	smoke := resultstest.File(resultstest.Options{Seed: 2})
	for i := range smoke.Runs {
		smoke.Runs[i].Profile = "smoke"
	}
	otherProfile := writeResults(t, dir, "smoke.json", smoke)
	otherFidelity := writeResults(t, dir, "per-packet.json", resultstest.File(resultstest.Options{Seed: 2, Fidelity: manifest.FidelityPerPacket}))
	malformed := writeFile(t, dir, "malformed.json", `{"schema_version": 2, "runs": [`)
	newer := writeFile(t, dir, "newer.json", `{"schema_version": 3, "runs": []}`)
	older := writeFile(t, dir, "older.json", `{"schema_version": 1, "runs": []}`)
	empty := resultstest.File(resultstest.Options{Seed: 3})
	empty.Runs[0].Scenarios = nil
	zero := writeResults(t, dir, "zero.json", empty)
	disjoint := writeResults(t, dir, "disjoint.json", resultstest.File(resultstest.Options{Seed: 3, Scenarios: []string{"packet-loss-2-pct"}}))
	onlyOther := writeResults(t, dir, "only-other.json", resultstest.File(resultstest.Options{Seed: 4, Scenarios: []string{"latency-200ms-1s"}}))
	noVersion := writeFile(t, dir, "noversion.json", `{"runs": []}`)

	// A run directory whose manifest is fine, for the Prometheus cases.
	runDir := filepath.Join(dir, "run")
	os.MkdirAll(runDir, 0o755)
	t0 := time.Now().Add(-time.Minute).UTC()
	m := &manifest.Manifest{RunID: "r1", Profile: "pr", Start: t0, Status: manifest.StatusPassed, Scenarios: []manifest.Scenario{{
		Name: "packet-loss-100-pct", Status: manifest.StatusPassed,
		Phases: []manifest.Phase{{Name: "stabilization", Start: t0, End: t0.Add(10 * time.Second)}}}}}
	if err := manifest.Write(filepath.Join(runDir, "manifest.json"), m); err != nil {
		t.Fatal(err)
	}
	// A Prometheus that answers but has no data.
	emptyProm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "query_range") {
			w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
			return
		}
		w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
	}))
	defer emptyProm.Close()

	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"missing baseline", []string{"-compare", filepath.Join(dir, "nope.json"), good}, "no such file"},
		{"malformed baseline", []string{"-compare", malformed, good}, "invalid file"},
		{"newer schema", []string{"-compare", newer, good}, "unsupported schema_version 3"},
		{"old schema baseline", []string{"-compare", older, good}, "re-record it with `make baseline`"},
		{"zero-scenario baseline", []string{"-compare", zero, good}, "holds no scenario"},
		{"nothing in common", []string{"-compare", disjoint, onlyOther}, "no scenario ran on both sides: nothing compared"},
		{"no schema", []string{"-compare", noVersion, good}, "has no schema_version"},
		{"profile mismatch", []string{"-compare", good, otherProfile}, `baseline profile "pr", new profile "smoke"`},
		{"fidelity mismatch", []string{"-compare", good, otherFidelity}, "fault fidelity differs"},
		{"compare one file", []string{"-compare", good}, "needs two results files"},
		{"bad fail-on", []string{"-fail-on", "sometimes", "-compare", good, good}, "-fail-on"},
		{"nothing to do", nil, "give -run-dir"},
		{"missing manifest", []string{"-run-dir", filepath.Join(dir, "nowhere")}, "no such file"},
		{"prometheus unreachable", []string{"-run-dir", runDir, "-prometheus", "http://127.0.0.1:1"}, "is Prometheus running at http://127.0.0.1:1"},
		{"phase with no samples", []string{"-run-dir", runDir, "-prometheus", emptyProm.URL}, "no data for 1 scenario(s): packet-loss-100-pct"},
		{"baseline missing with run", []string{"-run-dir", runDir, "-prometheus", "http://127.0.0.1:1", "-baseline", filepath.Join(dir, "nope.json")}, "Prometheus"},
		// -merge: shards' run directories only, and only shards.
		{"merge nothing", []string{"-merge"}, "needs the shards' run directories"},
		{"merge with compare", []string{"-merge", "-compare", runDir}, "-merge takes the shards' run directories alone"},
		{"merge no results", []string{"-merge", runDir}, "shard " + runDir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-"))
			code, stdout, stderr := runCLI(t, nil, append([]string{"-q", "-out", out}, tc.args...)...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr: %s", code, stderr)
			}
			if !strings.Contains(stderr, tc.msg) {
				t.Errorf("stderr %q, want it to mention %q", stderr, tc.msg)
			}
			if strings.Contains(stdout, "no regression") {
				t.Errorf("stdout says no regression: %q", stdout)
			}
			if _, err := os.Stat(filepath.Join(out, "report.md")); err == nil && tc.name != "nothing in common" {
				t.Error("a report was written for bad input")
			}
		})
	}
}

func TestUpdateBaselineAndAuto(t *testing.T) {
	dir := t.TempDir()
	baseDir := filepath.Join(dir, "baselines")
	old := writeResults(t, dir, "old.json", resultstest.File(resultstest.Options{Seed: 1}))
	newer := writeResults(t, dir, "new.json", resultstest.File(resultstest.Options{Seed: 2}))
	// -update-baseline in compare mode writes the NEW results as baselines/pr.json.
	if code, _, stderr := runCLI(t, nil, "-q", "-update-baseline", "-baseline-dir", baseDir, "-compare", old, newer); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f, err := results.Read(filepath.Join(baseDir, "pr.json"))
	if err != nil || f.Runs[0].RunID != "synthetic-2" {
		t.Fatalf("baseline: %v %v", f, err)
	}
}

// TestCompareKeepsNewReport: -compare without -out never overwrites the
// report.md collect wrote next to NEW's results.
func TestCompareKeepsNewReport(t *testing.T) {
	dir := t.TempDir()
	runDir := filepath.Join(dir, "run")
	os.MkdirAll(runDir, 0o755)
	old := writeResults(t, dir, "old.json", resultstest.File(resultstest.Options{Seed: 1, Scenarios: few}))
	newer := writeResults(t, runDir, "results.json", resultstest.File(resultstest.Options{Seed: 2, Scenarios: few}))
	writeFile(t, runDir, "report.md", "the run's own report\n")
	if code, stdout, stderr := runCLI(t, nil, "-compare", old, newer); code != 0 || !strings.Contains(stdout, filepath.Join(runDir, "compare", "report.md")) {
		t.Fatalf("exit %d, stdout %q: %s", code, stdout, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(runDir, "report.md")); string(b) != "the run's own report\n" {
		t.Errorf("NEW's report.md was overwritten")
	}
}

// TestPolicyFile: a repository's policy file replaces the floors it
// names (a planted change under them is not acted on; a breaker that no
// longer opens at all, "not reached", is beyond any finite floor), shows
// in the report, and a bad file is one clear line and exit 2.
func TestPolicyFile(t *testing.T) {
	dir := t.TempDir()
	planted := writeResults(t, dir, "planted.json", resultstest.File(resultstest.Options{Seed: 9, Paired: true, Planted: true, Scenarios: few}))
	confirm := writeResults(t, dir, "confirm.json", resultstest.File(resultstest.Options{Seed: 10, Paired: true, Planted: true, Scenarios: few}))
	lax := filepath.Join(dir, "lax.yml")
	os.WriteFile(lax, []byte("policy:\n  throughput: {rel: 0.9}\n  error_ratio: {abs: 0.9}\n  latency_p99: {abs: 10}\n  time_to_detect: {abs: 100}\n"), 0o644)
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runCLI(t, nil, "-q", "-out", out, "-policy", lax, "-fail-on", "regression", "-confirm", confirm, "-compare", "-", planted)
	if code != 1 || !strings.Contains(stdout, "\t1 regression, confirmed by a second stage, in 3 scenarios compared: packet-loss-100-pct (time to detect)\n") {
		t.Fatalf("lax policy: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "report.md")); !strings.Contains(string(b), "throughput 90 %") {
		t.Errorf("the report does not show the policy")
	}
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("policy:\n  througput: {rel: 0.1}\n"), 0o644)
	code, _, stderr = runCLI(t, nil, "-q", "-out", out, "-policy", bad, "-compare", "-", planted)
	if code != 2 || !strings.Contains(stderr, `unknown figure "througput"`) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
		t.Errorf("bad policy: exit %d, stderr %q", code, stderr)
	}
}

// TestStoredBaselineOtherHostClass: a stored baseline of another host
// class is compared with a loud warning, and advisory.
func TestStoredBaselineOtherHostClass(t *testing.T) {
	dir := t.TempDir()
	old := writeResults(t, dir, "old.json", resultstest.File(resultstest.Options{Seed: 5, CPUs: 8, Scenarios: few}))
	newer := writeResults(t, dir, "new.json", resultstest.File(resultstest.Options{Seed: 6, Scenarios: few}))
	out := filepath.Join(dir, "out")
	if code, _, stderr := runCLI(t, nil, "-q", "-out", out, "-compare", old, newer); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, _ := os.ReadFile(filepath.Join(out, "report.md"))
	for _, want := range []string{"another host class (linux-amd64-8cpu; this run: linux-amd64-2cpu)", "**ℹ️ Advisory: advisory, against a stored baseline of another day"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report.md does not say %q", want)
		}
	}
}

// TestHistoryCLI: `collect -history DIR` over 12 synthetic runs whose client
// loses its breaker from the 8th run on names that run's commit in the
// summary and the job summary, with a chart; an empty directory is one
// line and exit 2.
func TestHistoryCLI(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 12 {
		f := resultstest.File(resultstest.Options{Seed: uint64(i + 1), Scenarios: few[1:2], Planted: i >= 7, Start: t0.Add(time.Duration(i) * time.Hour)})
		f.Runs[0].GitCommit = fmt.Sprintf("%02d%s", i, strings.Repeat("a", 38))
		os.MkdirAll(filepath.Join(dir, fmt.Sprint(i)), 0o755)
		writeResults(t, filepath.Join(dir, fmt.Sprint(i)), "results.json", f)
	}
	summary := filepath.Join(out, "step-summary.md")
	code, stdout, stderr := runCLI(t, map[string]string{"GITHUB_STEP_SUMMARY": summary}, "-history", dir, "-out", out, "-q")
	if code != 0 || !strings.Contains(stdout, "12 runs") || strings.Contains(stdout, " 0 of ") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	md, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "## Change points on main") || !strings.Contains(string(md), "`07aaaaa`") {
		t.Errorf("job summary does not name commit 07aaaaa:\n%s", md)
	}
	if charts, _ := filepath.Glob(filepath.Join(out, "charts", "*.png")); len(charts) == 0 {
		t.Error("no chart written")
	}
	code, _, stderr = runCLI(t, nil, "-history", t.TempDir())
	if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "no results.json") {
		t.Errorf("empty history: exit %d, stderr %q", code, stderr)
	}
}
