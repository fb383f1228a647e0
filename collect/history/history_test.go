package history

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/collect/compare"
	"github.com/mcchaos/mcchaos/collect/results"
)

// noiseSource is a recorded pr run with 5 arms a side (an A/A run): every
// per-arm value of a figure, both sides, is one draw of that figure's
// noise on this host class.
const noiseSource = "../../baselines/pr.json"

// planted is a step added to one figure from one run on.
type planted struct {
	scenario string
	key      compare.Key
	from     int
	factor   float64
}

// synthHistory writes n runs into dir as run-<i>/results.json, each a copy
// of the recorded run whose head side has, for every gating figure, 5 arms
// drawn with replacement from that figure's 10 recorded arm values (noise
// taken from a real run), times the planted factor from its run on. Run i
// has commit c<i> and starts i hours after the first; the directories are
// written newest first, so that only the metadata orders them.
func synthHistory(t *testing.T, dir string, n int, seed uint64, steps ...planted) {
	t.Helper()
	src, err := results.Read(noiseSource)
	if err != nil {
		t.Fatal(err)
	}
	base := src.Runs[0]
	for i := range base.Scenarios {
		base.Scenarios[i].Series = nil
	}
	rng := rand.New(rand.NewPCG(seed, 42))
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := n - 1; i >= 0; i-- {
		run := base
		run.RunID = fmt.Sprintf("main-%02d", i)
		run.GitCommit = fmt.Sprintf("c%02d%s", i, strings.Repeat("0", 38))
		run.Start = t0.Add(time.Duration(i) * time.Hour)
		run.Sides = []results.Side{{Name: results.SideHead, Arms: 5}}
		run.Scenarios = make([]results.Scenario, len(base.Scenarios))
		for j, sc := range base.Scenarios {
			sc.Phases = slices.Clone(sc.Phases)
			for p := range sc.Phases {
				sc.Phases[p].Metrics = redraw(rng, sc.Name, sc.Phases[p].Name, sc.Phases[p].Metrics, i, steps)
			}
			if sc.Event != nil {
				ev := *sc.Event
				ev.Metrics = redraw(rng, sc.Name, compare.PhaseEvent, ev.Metrics, i, steps)
				sc.Event = &ev
			}
			sc.Resilience = redraw(rng, sc.Name, compare.PhaseResilience, sc.Resilience, i, steps)
			run.Scenarios[j] = sc
		}
		path := filepath.Join(dir, fmt.Sprintf("run-%02d", n-1-i), ResultsName)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := results.Write(path, &results.File{Runs: []results.Run{run}}); err != nil {
			t.Fatal(err)
		}
	}
}

// redraw returns the metrics of one phase with head arms resampled from
// both sides' recorded arms.
func redraw(rng *rand.Rand, scenario, phase string, ms []results.Metric, run int, steps []planted) []results.Metric {
	var out []results.Metric
	for _, m := range ms {
		k := compare.Key{Phase: phase, Name: m.Name, Labels: results.LabelString(m.Labels)}
		pool := append(slices.Clone(m.Arms[results.SideHead]), m.Arms[results.SideBase]...)
		arms := make(results.Values, 5)
		for a := range arms {
			arms[a] = pool[rng.IntN(len(pool))]
			for _, s := range steps {
				if s.scenario == scenario && s.key == k && run >= s.from {
					arms[a] *= s.factor
				}
			}
		}
		m.Arms = map[string]results.Values{results.SideHead: arms}
		out = append(out, m)
	}
	return out
}

var (
	p99     = compare.Key{Phase: "testing", Name: "latency_p99", Labels: "op=all"}
	thrput  = compare.Key{Phase: "testing", Name: "throughput"}
	history = 24
)

// TestPlantedSteps: a 24-run history with recorded noise and two planted
// regressions (p99 of packet-loss-20-pct +60 % from run 12, beyond its
// floor of 100 ms; throughput of latency-200ms-40s −15 % from run 17) finds
// exactly those two, each at the first commit after its step, and nothing
// in the other gating series.
func TestPlantedSteps(t *testing.T) {
	dir := t.TempDir()
	steps := []planted{
		{"packet-loss-20-pct", p99, 12, 1.6},
		{"latency-200ms-40s", thrput, 17, 0.85},
	}
	synthHistory(t, dir, history, 1, steps...)
	out := t.TempDir()
	summary, res, err := Run(context.Background(), Options{Dir: dir, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Points) != history || res.Points[0].RunID != "main-00" || res.Points[history-1].RunID != "main-23" {
		t.Fatalf("runs not ordered by start time: %d runs, first %s", len(res.Points), res.Points[0].RunID)
	}
	found := 0
	for _, a := range res.Series {
		if a.Note != "" {
			t.Errorf("%s not analysed: %s", a.Title(), a.Note)
		}
		i := slices.IndexFunc(steps, func(s planted) bool { return s.scenario == a.Scenario && s.key == a.Key })
		if i < 0 {
			for _, ch := range a.Changes {
				t.Errorf("%s: change point at run %s (p %.3f, %g → %g), none planted", a.Title(), ch.Run.RunID, ch.P, ch.Before, ch.After)
			}
			continue
		}
		found++
		want := fmt.Sprintf("c%02d", steps[i].from)
		if len(a.Changes) != 1 || !strings.HasPrefix(a.Changes[0].Run.Commit, want) || !a.Changes[0].Worse {
			t.Errorf("%s: changes %+v, want one, worse, at commit %s…", a.Title(), a.Changes, want)
			continue
		}
		t.Logf("%s: step at %s, %g → %g, p %.4f", a.Title(), short(a.Changes[0].Run.Commit), a.Changes[0].Before, a.Changes[0].After, a.Changes[0].P)
	}
	if found != len(steps) {
		t.Errorf("%d planted series analysed, want %d", found, len(steps))
	}
	md, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"**2 change point(s)**", "`c12000", "`c17000", "Minimum history: 12 runs", "packet-loss-20-pct_testing_latency_p99-op-all.png"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("summary lacks %q:\n%s", s, md)
		}
	}
	for _, f := range []string{"packet-loss-20-pct_testing_latency_p99-op-all.png", "latency-200ms-40s_testing_throughput.png"} {
		if st, err := os.Stat(filepath.Join(out, "charts", f)); err != nil || st.Size() < 1000 {
			t.Errorf("chart %s: %v", f, err)
		}
	}
}

// TestAASeries: the same history without a planted step finds nothing in
// any gating series (the healthy path's included), for three draws of the
// noise.
func TestAASeries(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		dir := t.TempDir()
		synthHistory(t, dir, history, seed)
		pts, _, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		res := Analyze(pts, Config{Seed: seed})
		n := 0
		for _, a := range res.Series {
			n++
			for _, ch := range a.Changes {
				t.Errorf("noise draw %d: %s: change point at %s (p %.3f, %g → %g) in an A/A history", seed, a.Title(), ch.Run.RunID, ch.P, ch.Before, ch.After)
			}
		}
		if n < 50 {
			t.Errorf("noise draw %d: %d series analysed, want every gating figure of 14 scenarios", seed, n)
		}
		if !slices.ContainsFunc(res.Series, func(a Analysis) bool { return a.Scenario == HealthyPath && a.Note == "" }) {
			t.Errorf("noise draw %d: no healthy-path series analysed", seed)
		}
	}
}

// TestLoadErrors: an empty directory and mixed profiles are one clear
// error; a file of another schema is skipped.
func TestLoadErrors(t *testing.T) {
	if _, _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no results.json") {
		t.Errorf("empty dir: %v", err)
	}
	dir := t.TempDir()
	synthHistory(t, dir, 2, 1)
	f, err := results.Read(filepath.Join(dir, "run-00", ResultsName))
	if err != nil {
		t.Fatal(err)
	}
	f.Runs[0].Profile = "smoke"
	if err := results.Write(filepath.Join(dir, "run-00", ResultsName), f); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "profiles") {
		t.Errorf("mixed profiles: %v", err)
	}
	// A file of an older schema is skipped and said; the rest is read.
	if err := os.WriteFile(filepath.Join(dir, "run-00", ResultsName), []byte(`{"schema_version": 1, "runs": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	pts, skipped, err := Load(dir)
	if err != nil || len(pts) != 1 || len(skipped) != 1 || !strings.Contains(skipped[0], "schema_version 1") {
		t.Errorf("older schema: %d runs, skipped %q, %v", len(pts), skipped, err)
	}
}

// TestGatingSkipsInvalid: a scenario marked invalid in a run (its faults
// not in effect, or no steady state) leaves that run out of its series.
func TestGatingSkipsInvalid(t *testing.T) {
	dir := t.TempDir()
	synthHistory(t, dir, 3, 1)
	pts, _, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := pts[1].Run.Scenario("packet-loss-20-pct")
	sc.Status = "invalid"
	for _, s := range Gating(pts, compare.Config{}) {
		want := []int{0, 1, 2}
		if s.Scenario == "packet-loss-20-pct" {
			want = []int{0, 2}
		}
		if s.Key == p99 && !slices.Equal(s.Runs, want) {
			t.Errorf("%s: runs %v, want %v", s.Title(), s.Runs, want)
		}
	}
}
