package results_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/collect/results/resultstest"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// TestJoin: two runs of other scenarios on two machines become one: the
// scenarios in order, the run's span, per arm the integrity violations
// summed (NaN only where neither machine has a value), the worse status;
// a scenario in both, or sides that differ, is refused.
func TestJoin(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	a := resultstest.Run(resultstest.Options{RunID: "a", Seed: 1, Paired: true, Scenarios: resultstest.Scenarios[:2], Start: t0.Add(time.Minute)})
	b := resultstest.Run(resultstest.Options{RunID: "b", Seed: 1, Paired: true, Scenarios: resultstest.Scenarios[2:3], Start: t0})
	a.End, b.End = t0.Add(5*time.Minute), t0.Add(9*time.Minute)
	a.IntegrityViolations[results.SideHead] = results.Values{0, 1, math.NaN(), 0, math.NaN()}
	b.IntegrityViolations[results.SideHead] = results.Values{0, 2, 0, math.NaN(), math.NaN()}
	b.Status = manifest.StatusInterrupted
	j, err := results.Join(a, b)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range j.Scenarios {
		names = append(names, s.Name)
	}
	if j.RunID != "a+b" || !j.Start.Equal(t0) || !j.End.Equal(t0.Add(9*time.Minute)) || j.Status != manifest.StatusInterrupted ||
		strings.Join(names, ",") != strings.Join(resultstest.Scenarios[:3], ",") {
		t.Errorf("joined run %s %v–%v %s %v", j.RunID, j.Start, j.End, j.Status, names)
	}
	got := j.IntegrityViolations[results.SideHead]
	want := []float64{0, 3, 0, 0}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("head integrity violations %v, want %v then NaN", got, want)
		}
	}
	if !math.IsNaN(got[4]) {
		t.Errorf("arm 5 has no value on either machine: %v", got[4])
	}

	if _, err := results.Join(a, a); !errors.Is(err, results.ErrInvalid) || !strings.Contains(err.Error(), "is in runs a and a") {
		t.Errorf("a scenario twice: %v", err)
	}
	c := resultstest.Run(resultstest.Options{RunID: "c", Seed: 1, Paired: true, Arms: 3, Scenarios: resultstest.Scenarios[3:4]})
	if _, err := results.Join(a, c); !errors.Is(err, results.ErrInvalid) || !strings.Contains(err.Error(), "differ in their sides") {
		t.Errorf("other arms: %v", err)
	}
}
