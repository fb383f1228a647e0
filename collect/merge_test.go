package collect

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcchaos/mcchaos/collect/compare"
	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/collect/results/resultstest"
	"github.com/mcchaos/mcchaos/internal/shard"
)

// writeShard writes f's runs cut to share as shard i of n of selected into
// dir/results.json, as bench -shard i/n would leave them.
func writeShard(t *testing.T, dir string, f *results.File, i, n int, selected, share []string) string {
	t.Helper()
	out := &results.File{SchemaVersion: results.SchemaVersion}
	for _, r := range f.Runs {
		r.RunID += "-shard" + string(rune('0'+i))
		r.Shard = &shard.Record{Index: i, Count: n, Selected: selected, Scenarios: share}
		r.Scenarios = slices.DeleteFunc(slices.Clone(r.Scenarios), func(s results.Scenario) bool { return !slices.Contains(share, s.Name) })
		out.Runs = append(out.Runs, r)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := results.Write(filepath.Join(dir, ResultsFile), out); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkDiffFile checks that diff.json in dir holds d's verdict and
// gating family.
func checkDiffFile(t *testing.T, dir string, d *compare.Diff) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, DiffFile))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Verdict         string  `json:"verdict"`
		GatingRows      int     `json:"gating_rows"`
		FalseAlarmBound float64 `json:"false_alarm_bound"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Verdict != string(d.Verdict) || got.GatingRows != d.GatingRows || got.FalseAlarmBound != d.FalseAlarmBound {
		t.Errorf("diff.json says %+v, the comparison %s, %d gating rows, bound %g", got, d.Verdict, d.GatingRows, d.FalseAlarmBound)
	}
}

// sameVerdict checks that two diffs say the same: verdict, counts, the
// gating family's size and bound, and every scenario's rows.
func sameVerdict(t *testing.T, merged, union *compare.Diff) {
	t.Helper()
	if merged.Verdict != union.Verdict || merged.Compared != union.Compared || merged.Regressions != union.Regressions ||
		merged.Candidates != union.Candidates || merged.GatingRows != union.GatingRows || merged.FalseAlarmBound != union.FalseAlarmBound {
		t.Errorf("merged: %s (%d compared, %d candidates, %d regressions, %d gating rows, bound %g)\nunion:  %s (%d, %d, %d, %d, %g)",
			merged.Verdict, merged.Compared, merged.Candidates, merged.Regressions, merged.GatingRows, merged.FalseAlarmBound,
			union.Verdict, union.Compared, union.Candidates, union.Regressions, union.GatingRows, union.FalseAlarmBound)
	}
	if len(merged.Scenarios) != len(union.Scenarios) {
		t.Fatalf("merged has %d scenarios, union %d", len(merged.Scenarios), len(union.Scenarios))
	}
	for i, s := range merged.Scenarios {
		u := union.Scenarios[i]
		mj, _ := json.Marshal(s.Rows)
		uj, _ := json.Marshal(u.Rows)
		if s.Name != u.Name || string(mj) != string(uj) {
			t.Errorf("scenario %d: merged %s differs from union %s", i, s.Name, u.Name)
		}
	}
	hm, _ := json.Marshal(merged.Healthy)
	hu, _ := json.Marshal(union.Healthy)
	if string(hm) != string(hu) {
		t.Errorf("healthy path differs:\nmerged %s\nunion  %s", hm, hu)
	}
}

// TestMergeRecorded: a real A/A smoke run (recorded from bench -aa, three
// scenarios, 5 arms a side) cut into two shards and merged gives the
// verdict, gating family and false-alarm bound of the whole run compared
// at once, and one results.json, diff.json, report.md and charts.
func TestMergeRecorded(t *testing.T) {
	whole, err := results.Read(filepath.Join("compare", "testdata", "recorded", "aa-smoke-3.json"))
	if err != nil {
		t.Fatal(err)
	}
	names := whole.ScenarioNames()
	if len(names) != 3 {
		t.Fatalf("recorded run has %v", names)
	}
	dir := t.TempDir()
	s1 := writeShard(t, filepath.Join(dir, "s1"), whole, 1, 2, names, names[:1])
	s2 := writeShard(t, filepath.Join(dir, "s2"), whole, 2, 2, names, names[1:])
	out := filepath.Join(dir, "merged")
	o, err := Merge(context.Background(), []string{s2, s1}, Options{OutDir: out})
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	for _, f := range []string{ResultsFile, DiffFile, ReportFile, SummaryFile, ChartsDir} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("merged run: %v", err)
		}
	}
	m, err := results.Read(filepath.Join(out, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.ScenarioNames(); len(m.Runs) != 1 || !slices.Equal(got, names) || m.Runs[0].Shard != nil {
		t.Errorf("merged results.json: %d run(s), scenarios %v, shard %v; want one run of %v in the selection's order", len(m.Runs), got, m.Runs[0].Shard, names)
	}
	u := filepath.Join(dir, "union")
	uo, err := Run(context.Background(), Options{CompareNew: []string{filepath.Join("compare", "testdata", "recorded", "aa-smoke-3.json")}, OutDir: u})
	if err != nil {
		t.Fatalf("the union: %v", err)
	}
	if o.Diff.Compared != 3 || o.Diff.GatingRows == 0 {
		t.Errorf("merged: %s, %d gating rows", o.Verdict, o.Diff.GatingRows)
	}
	checkDiffFile(t, out, o.Diff)
	sameVerdict(t, o.Diff, uo.Diff)
	report, _ := os.ReadFile(filepath.Join(out, ReportFile))
	if !strings.Contains(string(report), names[0]) || !strings.Contains(string(report), names[2]) {
		t.Errorf("report.md does not cover both shards' scenarios")
	}
}

// TestMergeConfirmedInShard2: a planted regression (the head side's
// breaker disabled) flags candidates in shard 2's loss scenarios; shard 2's
// confirmation stage confirms them, shard 1 had none. The merged verdict
// is the regression, confirmed, and equals the union's comparison with
// the joined confirmation stage.
func TestMergeConfirmedInShard2(t *testing.T) {
	sel := resultstest.Scenarios
	loss := slices.DeleteFunc(slices.Clone(sel), func(s string) bool { return !strings.Contains(s, "packet-loss") })
	rest := slices.DeleteFunc(slices.Clone(sel), func(s string) bool { return strings.Contains(s, "packet-loss") })
	whole := resultstest.File(resultstest.Options{RunID: "planted", Seed: 1, Paired: true, Planted: true})
	dir := t.TempDir()
	s1 := writeShard(t, filepath.Join(dir, "s1"), whole, 1, 2, sel, rest)
	s2 := writeShard(t, filepath.Join(dir, "s2"), whole, 2, 2, sel, loss)

	// Shard 2's own first stage, as its bench compared it, has candidates
	// in loss scenarios: it ran its confirmation stage on them.
	first, err := compare.Compare(nil, readFile(t, filepath.Join(s2, ResultsFile)), compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cands, _ := first.CandidateScenarios()
	if len(cands) == 0 {
		t.Fatalf("shard 2 has no candidate: %s", first.Verdict)
	}
	confirm := resultstest.File(resultstest.Options{RunID: "planted-confirm", Seed: 2, Paired: true, Planted: true, Scenarios: cands})
	if err := os.MkdirAll(filepath.Join(s2, ConfirmDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := results.Write(filepath.Join(s2, ConfirmDir, ResultsFile), confirm); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(dir, "merged")
	o, err := Merge(context.Background(), []string{s1, s2}, Options{OutDir: out, FailOn: FailOnRegression})
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("Merge: %v, want ErrFailed (a confirmed regression)", err)
	}
	d := o.Diff
	if d.Verdict != compare.VerdictRegression || d.Confirmation == nil || d.Confirmation.Confirmed == 0 {
		t.Fatalf("merged verdict %s, confirmation %+v: want a regression confirmed by shard 2's stage", o.Verdict, d.Confirmation)
	}
	if !strings.Contains(o.Verdict, cands[0]) {
		t.Errorf("the verdict %q does not name %s", o.Verdict, cands[0])
	}
	if _, err := os.Stat(filepath.Join(out, ConfirmDir, ResultsFile)); err != nil {
		t.Errorf("merged confirmation stage: %v", err)
	}
	// The union: the whole run compared at once, with the confirmation.
	u, err := compare.Compare(nil, whole, compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	u2, err := compare.Compare(nil, confirm, compare.Config{})
	if err != nil {
		t.Fatal(err)
	}
	checkDiffFile(t, out, d)
	sameVerdict(t, d, compare.Confirm(u, u2))
	if d.GatingRows <= first.GatingRows {
		t.Errorf("merged gating family %d rows, shard 2 alone %d: the family must span both shards", d.GatingRows, first.GatingRows)
	}
}

// TestMergeRefuses: what is not a complete set of shards of one run is
// refused with what is wrong, before anything is written.
func TestMergeRefuses(t *testing.T) {
	whole := resultstest.File(resultstest.Options{RunID: "r", Seed: 1, Paired: true, Scenarios: resultstest.Scenarios[:3]})
	sel := resultstest.Scenarios[:3]
	dir := t.TempDir()
	s1 := writeShard(t, filepath.Join(dir, "s1"), whole, 1, 3, sel, sel[:1])
	s2 := writeShard(t, filepath.Join(dir, "s2"), whole, 2, 3, sel, sel[1:2])
	s3 := writeShard(t, filepath.Join(dir, "s3"), whole, 3, 3, sel, sel[2:])
	other := resultstest.File(resultstest.Options{RunID: "other", Seed: 9, Paired: true, Scenarios: sel})
	o3 := writeShard(t, filepath.Join(dir, "o3"), other, 3, 3, sel, sel[2:])
	whole2 := filepath.Join(dir, "whole")
	os.MkdirAll(whole2, 0o755)
	results.Write(filepath.Join(whole2, ResultsFile), whole)
	for _, tc := range []struct {
		name string
		dirs []string
		out  string
		want string
	}{
		// Shard 2 of 3 never arrived.
		{"missing", []string{s1, s3}, "", "shard 2/3 missing"},
		// The same shard twice (a re-run uploaded beside the first).
		{"duplicate", []string{s1, s2, s2, s3}, "", "shard 2/3 given twice"},
		// Shard 3 of another build: other commits.
		{"other run", []string{s1, s2, o3}, "", "differ in their sides"},
		// A whole run is not a shard.
		{"not a shard", []string{s1, s2, whole2}, "", "is not a shard"},
		// The output is one of the shards.
		{"out is a shard", []string{s1, s2, s3}, s1, "is one of the shards"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.out
			if out == "" {
				out = filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-"))
			}
			_, err := Merge(context.Background(), tc.dirs, Options{OutDir: out})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !(errors.Is(err, ErrInput) || errors.Is(err, ErrUsage)) {
				t.Fatalf("Merge: %v, want a usage or input error saying %q", err, tc.want)
			}
			if tc.out == "" {
				if _, err := os.Stat(filepath.Join(out, DiffFile)); err == nil {
					t.Error("a refused merge wrote diff.json")
				}
			}
		})
	}
}

func readFile(t *testing.T, p string) *results.File {
	t.Helper()
	f, err := results.Read(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
