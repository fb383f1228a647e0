package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/plan"
	"github.com/mcchaos/mcchaos/internal/profile"
)

func sample() *Manifest {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.UTC)
	return &Manifest{
		RunID: "r1", Profile: "smoke", Start: t0, Status: StatusRunning,
		Scenarios: []Scenario{{
			Name: "packet-loss-100-pct",
			Faults: []Fault{{Fault: fault.On(&fault.PacketLoss{LossPct: 100}, "mc1"),
				Made: Made{Injector: InjectorNetfilter, Fidelity: FidelityPerPacket, Nominal: Duration(time.Minute)}}},
			Phases: []Phase{
				{Name: PhaseStabilization, Start: t0, End: t0.Add(time.Second)},
				{Name: PhaseTesting, Start: t0.Add(time.Second)},
			},
			Status: StatusRunning,
		}},
	}
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "manifest.json")
	m := sample()
	if err := Write(path, m); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Scenarios[0].Phases[0].Start.Equal(m.Start) || got.Scenarios[0].Faults[0].Nominal != Duration(time.Minute) {
		t.Errorf("round trip lost data: %+v", got.Scenarios[0])
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "12:00:00.123456789Z") {
		t.Errorf("timestamps not written with nanoseconds:\n%s", b)
	}
}

func TestReadRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Manifest)
		want   string
	}{
		// A newer writer's file.
		{"schema", func(m *Manifest) { m.SchemaVersion = 4 }, "schema_version 4"},
		// Phases out of order.
		{"order", func(m *Manifest) { m.Scenarios[0].Phases[0].Name = PhaseTesting }, `want "stabilization"`},
		// A phase ending before it starts.
		{"end before start", func(m *Manifest) {
			p := &m.Scenarios[0].Phases[0]
			p.End = p.Start.Add(-time.Second)
		}, "ends before it starts"},
		// A middle phase without an end.
		{"open middle phase", func(m *Manifest) {
			m.Scenarios[0].Phases[0].End = time.Time{}
		}, "has no end but is not the last"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := sample()
			m.SchemaVersion = SchemaVersion
			tc.mutate(m)
			path := filepath.Join(t.TempDir(), "manifest.json")
			if err := Write(path, m); err != nil {
				t.Fatal(err)
			}
			_, err := Read(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
			if tc.name == "schema" && !errors.Is(err, ErrSchema) {
				t.Errorf("err does not wrap ErrSchema")
			}
		})
	}
}

// TestPlanInManifest: the manifest carries the plan it ran, typed faults
// and all, and reads back the same.
func TestPlanInManifest(t *testing.T) {
	m := sample()
	m.Plan = &plan.Plan{Version: plan.Version, Profile: profile.Profile{Name: "smoke", Stabilization: time.Second, Recovery: time.Second},
		Scenarios: []plan.Scenario{{Name: "packet-loss-100-pct", FaultTime: profile.Duration(time.Minute), Faults: []fault.Fault{fault.On(&fault.PacketLoss{LossPct: 100}, "mc1")}}}}
	path := filepath.Join(t.TempDir(), "manifest.json")
	if err := Write(path, m); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Plan == nil || got.Plan.Profile.Stabilization != time.Second || got.Plan.Scenarios[0].Faults[0].Params.(*fault.PacketLoss).LossPct != 100 {
		t.Errorf("plan read back as %+v", got.Plan)
	}
	if f := got.Scenarios[0].Faults[0]; f.Injector != InjectorNetfilter || f.Params.(*fault.PacketLoss).LossPct != 100 {
		t.Errorf("fault read back as %+v", f)
	}
}
