package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// TestShards runs a paired A/A smoke run of two scenarios as two real
// shards, one after the other (bench -shard 1/2, 2/2: one scenario each,
// balanced by duration), and joins them with collect -merge: one
// results.json, diff.json and report.md covering both scenarios, with the
// verdict collect gives the union (collect -compare on the merged
// results.json), and each shard's manifest naming its share of the
// selection.
func TestShards(t *testing.T) {
	requireStack(t)
	reports := t.TempDir()
	sel := []string{"latency-200ms-1s", "packet-loss-100-pct"}
	for _, i := range []string{"1", "2"} {
		cmd := startBench(t, reports, "-profile", "smoke", "-aa", "-scenarios", strings.Join(sel, ","), "-shard", i+"/2", "-run-id", "shard"+i)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bench -shard %s/2: %v\n%s", i, err, out)
		}
		if !bytes.Contains(out, []byte("in 1 scenario compared")) {
			t.Errorf("shard %s/2 did not compare its one scenario:\n%s", i, out)
		}
	}
	// Longest first: packet-loss-100-pct (8 s + 10 s + 8 s) is shard 1's,
	// latency-200ms-1s (8 s + 1 s + 8 s) shard 2's.
	for i, want := range []string{"packet-loss-100-pct", "latency-200ms-1s"} {
		m, err := manifest.Read(filepath.Join(reports, "shard"+string(rune('1'+i)), "manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		if m.Shard == nil || m.Shard.Index != i+1 || m.Shard.Count != 2 || !slices.Equal(m.Shard.Selected, sel) || !slices.Equal(m.Shard.Scenarios, []string{want}) {
			t.Errorf("shard %d/2's manifest records %+v, want shard %d/2 of %v with %s", i+1, m.Shard, i+1, sel, want)
		}
		if len(m.Scenarios) != 1 || m.Scenarios[0].Name != want {
			t.Errorf("shard %d/2 ran %+v, want %s", i+1, m.Scenarios, want)
		}
	}

	merged := filepath.Join(reports, "merged")
	out, err := exec.Command(filepath.Join(binDir, "collect"), "-merge", "-out", merged, filepath.Join(reports, "shard2"), filepath.Join(reports, "shard1")).CombinedOutput()
	if err != nil {
		t.Fatalf("collect -merge: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("no regression in 2 scenarios compared")) {
		t.Errorf("collect -merge did not give one verdict over both shards:\n%s", out)
	}
	f, err := results.Read(filepath.Join(merged, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Runs) != 1 || !slices.Equal(f.ScenarioNames(), sel) {
		t.Errorf("merged results.json: %d runs of %v, want one of %v", len(f.Runs), f.ScenarioNames(), sel)
	}
	for _, name := range []string{"report.md", "diff.json", "charts"} {
		if _, err := os.Stat(filepath.Join(merged, name)); err != nil {
			t.Errorf("merged run: %v", err)
		}
	}
	// The union: the merged results.json compared as one paired run (with
	// the joined confirmation stage, when a shard had one).
	args := []string{"-q", "-compare", "-", filepath.Join(merged, "results.json"), "-out", filepath.Join(reports, "union")}
	if _, err := os.Stat(filepath.Join(merged, "confirm", "results.json")); err == nil {
		args = append(args, "-confirm", filepath.Join(merged, "confirm", "results.json"))
	}
	if out, err := exec.Command(filepath.Join(binDir, "collect"), args...).CombinedOutput(); err != nil {
		t.Fatalf("collect -compare of the union: %v\n%s", err, out)
	}
	m, u := gating(t, filepath.Join(merged, "diff.json")), gating(t, filepath.Join(reports, "union", "diff.json"))
	t.Logf("merged: %+v", m)
	if m != u || m.Rows == 0 || m.Compared != 2 {
		t.Errorf("merged diff.json %+v, union %+v: want the same verdict and gating family over 2 scenarios", m, u)
	}
}

type verdict struct {
	Verdict  string  `json:"verdict"`
	Compared int     `json:"scenarios_compared"`
	Rows     int     `json:"gating_rows"`
	Bound    float64 `json:"false_alarm_bound"`
}

func gating(t *testing.T, path string) verdict {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v verdict
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}
