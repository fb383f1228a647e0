package collect

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/collect/compare"
	"github.com/mcchaos/mcchaos/collect/report"
	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// TestRunRepeatedRuns: two run directories make one results.json with two
// runs; -update-baseline stores it; -baseline auto then finds it.
func TestRunRepeatedRuns(t *testing.T) {
	dir := t.TempDir()
	var dirs []string
	for _, id := range []string{"r1", "r2"} {
		m := testManifest()
		m.RunID = id
		d := filepath.Join(dir, id)
		os.MkdirAll(d, 0o755)
		if err := manifest.Write(filepath.Join(d, "manifest.json"), m); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	out := filepath.Join(dir, "out")
	base := filepath.Join(dir, "baselines")
	opt := Options{RunDirs: dirs, OutDir: out, UpdateBaseline: true, BaselineDir: base, Collect: fixedConfig(), querier: fakeQuerier{}}
	// The fake has 4 arms a side, whose smallest p (0.029) is above the
	// default alpha: this test is about baselines, not that warning.
	opt.Compare.Alpha = 0.05
	o, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if o.Diff.Verdict != compare.VerdictOK || o.Diff.Mode != compare.ModePaired || o.Verdict != "no regression in 2 scenarios compared" {
		t.Errorf("verdict %q (%s): %s", o.Diff.Verdict, o.Diff.Mode, o.Verdict)
	}
	f, err := results.Read(filepath.Join(out, ResultsFile))
	if err != nil || len(f.Runs) != 2 {
		t.Fatalf("results.json: %v runs, %v", f, err)
	}
	for _, name := range []string{ReportFile, SummaryFile, DiffFile, "charts/packet-loss-100-pct.png", "charts/latency-200ms-100ms.png"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(base, "smoke.json")); err != nil {
		t.Fatalf("baseline not written: %v", err)
	}
	opt.UpdateBaseline, opt.Baselines = false, []string{BaselineAuto}
	o, err = Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if o.Diff.Base == nil || o.Diff.Verdict != compare.VerdictOK || len(o.Diff.Warnings) != 0 {
		t.Errorf("with -baseline auto: base %v, verdict %q, warnings %q (a paired run needs no stored baseline)", o.Diff.Base != nil, o.Diff.Verdict, report.Issues(o.Diff.Warnings))
	}
	// An explicit stored baseline with a paired run: compared within the
	// run, and said so.
	opt.Baselines = []string{filepath.Join(base, "smoke.json")}
	if o, err = Run(context.Background(), opt); err != nil || len(o.Diff.Warnings) == 0 {
		t.Errorf("explicit baseline with a paired run: err %v, warnings %q", err, report.Issues(o.Diff.Warnings))
	}
	opt.Baselines = []string{BaselineAuto}
	// Failing on regressions with a run whose integrity is fine: no error.
	opt.FailOn = FailOnRegression
	if _, err := Run(context.Background(), opt); errors.Is(err, ErrFailed) {
		t.Errorf("err = %v", err)
	}
}

// TestRunReportsWhatItHas: a scenario without data is left out, the others
// are collected and reported, and Run then fails naming what is missing
// (exit 2), never "no regression".
func TestRunReportsWhatItHas(t *testing.T) {
	dir := t.TempDir()
	m := testManifest()
	if err := manifest.Write(filepath.Join(dir, "manifest.json"), m); err != nil {
		t.Fatal(err)
	}
	q := fakeQuerier{emptyFrom: m.Scenarios[1].Phases[0].Start.Add(-time.Second)}
	o, err := Run(context.Background(), Options{RunDirs: []string{dir}, Collect: fixedConfig(), querier: q})
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "no data for 1 scenario(s): latency-200ms-100ms") {
		t.Fatalf("err = %v, want ErrInput naming latency-200ms-100ms", err)
	}
	if o == nil || o.Diff.Compared != 1 {
		t.Fatalf("outcome %+v, want the other scenario compared", o)
	}
	f, err := results.Read(filepath.Join(dir, ResultsFile))
	if err != nil || len(f.Runs[0].Scenarios) != 1 || f.Runs[0].Scenarios[0].Name != "packet-loss-100-pct" {
		t.Fatalf("results.json: %v, %v", f, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, ReportFile)); err != nil || !strings.Contains(string(b), "packet-loss-100-pct") {
		t.Errorf("report.md: %v", err)
	}
}
