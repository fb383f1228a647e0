package collect

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcchaos/mcchaos/collect/compare"
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
	if o.Diff.Base == nil || o.Diff.Verdict != compare.VerdictOK || len(o.Diff.Warnings) == 0 {
		t.Errorf("with -baseline auto: base %v, verdict %q, warnings %q (a paired run ignores the stored baseline, and says so)", o.Diff.Base != nil, o.Diff.Verdict, o.Diff.Warnings)
	}
	// Failing on regressions with a run whose integrity is fine: no error.
	opt.FailOn = FailOnRegression
	if _, err := Run(context.Background(), opt); errors.Is(err, ErrFailed) {
		t.Errorf("err = %v", err)
	}
}
