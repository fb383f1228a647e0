package collect

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// phaseQuerier serves scenariod's metrics for two scenarios: A with three
// phases of 8, 10 and 8 s and a netfilter loss fault on mc1; B whose 100 ms
// testing phase falls between two 1 s steps, cut short in recovery.
type phaseQuerier struct{ t0 time.Time }

func (p phaseQuerier) QueryRange(context.Context, string, v1.Range, ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	return model.Matrix{}, nil, nil, nil
}

// Query answers range selectors (sel[d]) with raw scrapes every second, at
// .5 s past each second of t0: transitions land halfway, on whole seconds.
func (p phaseQuerier) Query(_ context.Context, q string, ts time.Time, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	d, err := time.ParseDuration(q[strings.Index(q, "[")+1 : len(q)-1])
	if err != nil {
		return nil, nil, nil, err
	}
	r := v1.Range{Start: ts.Add(-d).Truncate(time.Second).Add(500 * time.Millisecond), End: ts}
	series := func(m model.Metric, f func(s int) (float64, bool)) *model.SampleStream {
		ss := &model.SampleStream{Metric: m}
		for t := r.Start; !t.After(r.End); t = t.Add(time.Second) {
			if v, ok := f(int(math.Floor(t.Sub(p.t0).Seconds()))); ok {
				ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(t.UnixNano()), Value: model.SampleValue(v)})
			}
		}
		return ss
	}
	step := func(bounds ...int) func(s int) (float64, bool) { // phase k from bounds[k-1] to bounds[k]
		return func(s int) (float64, bool) {
			for k := len(bounds) - 1; k >= 0; k-- {
				if s >= bounds[k] {
					if k == len(bounds)-1 && len(bounds) == 4 {
						return 0, true
					}
					return float64(k + 1), true
				}
			}
			return 0, true
		}
	}
	switch {
	case strings.Contains(q, mScenarioPhase):
		return model.Matrix{
			series(model.Metric{"scenario": "a"}, step(0, 8, 18, 26)),
			series(model.Metric{"scenario": "b"}, func(s int) (float64, bool) {
				switch {
				case s < 27:
					return 0, true
				case s < 35:
					return 1, true
				}
				return 3, true // testing lasted 100 ms: never sampled; still in recovery at the end
			}),
		}, nil, nil, nil
	case strings.Contains(q, mFaultActive):
		if r.Start.Before(p.t0.Add(25 * time.Second)) {
			return model.Matrix{series(model.Metric{"server": "mc1", "kind": "packet_loss", "injector": "netfilter"}, func(s int) (float64, bool) { return 1, s >= 8 && s < 18 })}, nil, nil, nil
		}
	case strings.Contains(q, mFaultValue):
		if r.Start.Before(p.t0.Add(25 * time.Second)) {
			return model.Matrix{series(model.Metric{"server": "mc1", "kind": "packet_loss", "param": "loss_pct"}, func(s int) (float64, bool) { return 100, s >= 8 && s < 18 })}, nil, nil, nil
		}
	}
	return model.Matrix{}, nil, nil, nil
}

func TestRebuild(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	m, err := Rebuild(context.Background(), phaseQuerier{t0}, "run-x", "smoke", t0.Add(-10*time.Second), t0.Add(40*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Scenarios) != 2 || m.Scenarios[0].Name != "a" || m.Scenarios[1].Name != "b" {
		t.Fatalf("scenarios %+v", m.Scenarios)
	}
	a := m.Scenarios[0]
	want := [][2]int{{0, 8}, {8, 18}, {18, 26}}
	for i, p := range a.Phases {
		if p.Name != manifest.Phases[i] || !p.Start.Equal(t0.Add(time.Duration(want[i][0])*time.Second)) || !p.End.Equal(t0.Add(time.Duration(want[i][1])*time.Second)) {
			t.Errorf("a phase %d: %+v, want %s %v", i, p, manifest.Phases[i], want[i])
		}
	}
	if a.Status != manifest.StatusPassed || len(a.Faults) != 1 || a.Faults[0].Fidelity != manifest.FidelityPerPacket || a.Faults[0].Params.(*fault.PacketLoss).LossPct != 100 || a.Faults[0].Targets[0] != "mc1" {
		t.Errorf("a: status %s faults %+v", a.Status, a.Faults)
	}
	b := m.Scenarios[1]
	if len(b.Phases) != 3 || !b.Phases[1].Start.Equal(b.Phases[1].End) || !b.Phases[2].End.IsZero() || b.Status != manifest.StatusInterrupted {
		t.Errorf("b: %+v, want an empty testing phase and an unfinished recovery", b)
	}
	if m.Status != manifest.StatusInterrupted {
		t.Errorf("run status %s", m.Status)
	}
	// Nothing to rebuild from: a clear error.
	if _, err := Rebuild(context.Background(), phaseQuerier{t0}, "run-x", "smoke", t0.Add(time.Hour), t0.Add(2*time.Hour)); err == nil || !strings.Contains(err.Error(), "widen -since") {
		t.Errorf("err = %v", err)
	}
}
