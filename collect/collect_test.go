package collect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fakeQuerier answers every query with deterministic values derived from
// the query text, with the label sets the query groups by. It stands for
// Prometheus in tests of how results are assembled; the numbers mean
// nothing (the real-Prometheus test checks the numbers).
type fakeQuerier struct {
	err   error // returned by every call
	empty bool  // queries return no series
	// emptyFrom: queries about times from it on return no series (the
	// data of the later scenarios is gone).
	emptyFrom time.Time
}

// fakeArms are the arms the fake querier answers for: 2 per side.
var fakeArms = []model.Metric{{"side": "head", "arm": "1"}, {"side": "head", "arm": "2"}, {"side": "base", "arm": "1"}, {"side": "base", "arm": "2"}}

func labelSets(q string) []model.Metric {
	var sets []model.Metric
	switch {
	case strings.Contains(q, "arm, class)"):
		sets = []model.Metric{{"class": "timeout"}, {"class": "circuit_open"}}
	case strings.Contains(q, "arm, server)"), strings.Contains(q, "arm, le, server)"):
		sets = []model.Metric{{"server": "mc1"}, {"server": "mc2"}, {"server": "mc3"}}
	case strings.Contains(q, "arm, le, op)"):
		sets = []model.Metric{{"op": "get"}, {"op": "set"}}
	case strings.Contains(q, "loadgen_info"):
		sets = []model.Metric{{"client": "mcchaos", "client_version": "v1.2.3", "workload": "mixed", "mode": "closed"}}
	default:
		sets = []model.Metric{{}}
	}
	var out []model.Metric
	for _, a := range fakeArms {
		for _, s := range sets {
			m := s.Clone()
			m["side"], m["arm"] = a["side"], a["arm"]
			out = append(out, m)
		}
	}
	return out
}

// hashValue depends on the query, the labels other than the side and on
// the arm, not on the side: both sides of the fake run are equal.
func hashValue(q string, m model.Metric, i int64) model.SampleValue {
	h := fnv.New32a()
	l := m.Clone()
	delete(l, "side")
	h.Write([]byte(q + l.String()))
	base := float64(h.Sum32()%1000) / 1000
	if strings.Contains(q, mIntegrity) {
		return 0 // no violations: TestRunRepeatedRuns expects a passing run
	}
	if strings.Contains(q, mErrors) {
		base /= 100 // error ratios of a healthy run (the steady state before a fault holds)
	}
	if strings.Contains(q, mLastTransit) {
		return model.SampleValue(float64(i) - 1.5) // a breaker opened 1.5 s before this step
	}
	return model.SampleValue(base + float64(i%3)*0.01)
}

func (f fakeQuerier) Query(_ context.Context, q string, ts time.Time, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	if f.err != nil {
		return nil, nil, nil, f.err
	}
	if (f.empty || (!f.emptyFrom.IsZero() && !ts.Before(f.emptyFrom))) && q != "vector(1)" {
		return model.Vector{}, nil, nil, nil
	}
	var vec model.Vector
	for _, m := range labelSets(q) {
		vec = append(vec, &model.Sample{Metric: m, Value: hashValue(q, m, ts.Unix()), Timestamp: model.TimeFromUnixNano(ts.UnixNano())})
	}
	return vec, nil, nil, nil
}

func (f fakeQuerier) QueryRange(_ context.Context, q string, r v1.Range, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	if f.err != nil {
		return nil, nil, nil, f.err
	}
	if f.empty || (!f.emptyFrom.IsZero() && !r.Start.Before(f.emptyFrom)) {
		return model.Matrix{}, nil, nil, nil
	}
	var mat model.Matrix
	for _, m := range labelSets(q) {
		ss := &model.SampleStream{Metric: m}
		for t := r.Start; !t.After(r.End); t = t.Add(r.Step) {
			ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(t.UnixNano()), Value: hashValue(q, m, t.Unix())})
		}
		mat = append(mat, ss)
	}
	return mat, nil, nil, nil
}

func testManifest() *manifest.Manifest {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ph := func(a, b, c, d time.Duration) []manifest.Phase {
		return []manifest.Phase{{Name: "stabilization", Start: t0.Add(a), End: t0.Add(b)}, {Name: "testing", Start: t0.Add(b), End: t0.Add(c)}, {Name: "recovery", Start: t0.Add(c), End: t0.Add(d)}}
	}
	s := time.Second
	return &manifest.Manifest{SchemaVersion: manifest.SchemaVersion, RunID: "golden", Profile: "smoke", Stack: "local", Start: t0, End: t0.Add(60 * s), Status: manifest.StatusPassed,
		Sides: []manifest.Side{{Name: manifest.SideHead, Arms: 2, Client: "ours"}, {Name: manifest.SideBase, Arms: 2, Client: "ours", Ref: "HEAD~1"}},
		Scenarios: []manifest.Scenario{
			{Name: "packet-loss-100-pct", Status: manifest.StatusPassed, Expect: manifest.ExpectDetect, ExpectWhy: "100 % loss: (1 − p²)² = 0.00 of requests answered within 500ms", Phases: ph(0, 8*s, 18*s, 26*s),
				Faults: []manifest.Fault{{Fault: fault.On(&fault.PacketLoss{LossPct: 100}, "mc1"), Made: manifest.Made{Injector: manifest.InjectorNetfilter, Fidelity: manifest.FidelityPerPacket, Applied: t0.Add(8 * s), Removed: t0.Add(18 * s),
					Arms: []manifest.ArmFault{{Side: "head", Arm: 1, Applied: t0.Add(8 * s), Removed: t0.Add(18 * s)}, {Side: "head", Arm: 2, Applied: t0.Add(8*s + 3*time.Millisecond), Removed: t0.Add(18*s + 2*time.Millisecond)},
						{Side: "base", Arm: 1, Applied: t0.Add(8*s + time.Millisecond), Removed: t0.Add(18 * s)}, {Side: "base", Arm: 2, Applied: t0.Add(8*s + 2*time.Millisecond), Removed: t0.Add(18*s + time.Millisecond)}}}}}},
			{Name: "latency-200ms-100ms", Status: manifest.StatusPassed, Expect: manifest.ExpectRideThrough, ExpectWhy: "+200ms < timeout 500ms: every request answered", Phases: ph(27*s, 35*s, 35*s+100*time.Millisecond, 43*s+100*time.Millisecond),
				Faults: []manifest.Fault{{Fault: fault.On(&fault.Latency{LatencyMS: 200}, "mc2"), Made: manifest.Made{Injector: manifest.InjectorToxiproxy, Fidelity: manifest.FidelityExact}}}},
			// Cut short during stabilization: skipped.
			{Name: "latency-200ms-1s", Status: manifest.StatusInterrupted, Phases: []manifest.Phase{{Name: "stabilization", Start: t0.Add(44 * s)}}},
		}}
}

func fixedConfig() Config {
	return Config{GitCommit: "0123456789abcdef0123456789abcdef01234567", Host: &results.Host{CPUs: 2, GoVersion: "go1.26.0", OS: "linux", Arch: "amd64"},
		Now: func() time.Time { return time.Date(2026, 11, 27, 12, 5, 0, 0, time.UTC) }}
}

// TestResultsGolden: the shape of results.json, from the fake querier.
func TestResultsGolden(t *testing.T) {
	run, err := Collect(context.Background(), fakeQuerier{}, testManifest(), fixedConfig())
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Scenarios) != 2 {
		t.Fatalf("%d scenarios, want 2 (the interrupted one skipped)", len(run.Scenarios))
	}
	f := &results.File{SchemaVersion: results.SchemaVersion, Runs: []results.Run{*run}}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", "results.golden.json")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("results.json differs from %s (run go test -update if intended)", path)
	}
	// And it reads back.
	tmp := filepath.Join(t.TempDir(), "results.json")
	if err := results.Write(tmp, f); err != nil {
		t.Fatal(err)
	}
	if _, err := results.Read(tmp); err != nil {
		t.Fatal(err)
	}
}

func TestCollectFigures(t *testing.T) {
	run, err := Collect(context.Background(), fakeQuerier{}, testManifest(), fixedConfig())
	if err != nil {
		t.Fatal(err)
	}
	sc := run.Scenarios[0]
	if run.Client != "mcchaos" || run.ClientVersion != "v1.2.3" || sc.Fidelity != "per-packet" || len(run.Sides) != 2 || run.Sides[0].Name != "head" {
		t.Errorf("client %q %q fidelity %q sides %+v", run.Client, run.ClientVersion, sc.Fidelity, run.Sides)
	}
	// Every DESIGN.md error class has a row, zero on every arm when absent.
	p, _ := sc.Phase("testing")
	for _, c := range ErrorClasses {
		if _, ok := p.Metric("error_ratio{class=" + c + "}"); !ok {
			t.Errorf("no error_ratio for class %s", c)
		}
	}
	if m, _ := p.Metric("error_ratio{class=protocol}"); len(m.Arms["head"]) != 2 || m.Arms["head"][1] != 0 || m.Arms["base"][0] != 0 {
		t.Errorf("absent class: %v; want 0 on every arm", m.Arms)
	}
	if m, _ := p.Metric("throughput"); len(m.Arms["head"]) != 2 || len(m.Arms["base"]) != 2 || m.Arms["head"][0] != m.Arms["base"][0] {
		t.Errorf("throughput per arm: %v", m.Arms)
	}
	// The 100 ms fault: no testing-phase figures, an event instead.
	short := run.Scenarios[1]
	if tp, _ := short.Phase("testing"); len(tp.Metrics) != 0 {
		t.Errorf("100 ms phase has %d figures, want none", len(tp.Metrics))
	}
	if short.Event == nil || short.Event.WindowEnd.Sub(short.Event.WindowStart) != DefaultEventWindow || len(short.Event.Metrics) != 2 {
		t.Fatalf("100 ms fault event: %+v", short.Event)
	}
	if d, ok := sc.Figure(FigTimeToDetect); !ok || len(d.Arms["head"]) != 2 || math.IsNaN(d.Arms["head"][0]) {
		t.Errorf("time to detect: %+v", d)
	}
}

// TestCollectErrors: bad input and an unusable Prometheus are clear errors.
func TestCollectErrors(t *testing.T) {
	m := testManifest()
	cut := *m
	cut.Scenarios = m.Scenarios[2:]
	for _, tc := range []struct {
		name string
		q    Querier
		m    *manifest.Manifest
		want error
		msg  string
	}{
		{"unreachable", fakeQuerier{err: errors.New("dial tcp 127.0.0.1:1: connect: connection refused")}, m, ErrPrometheus, "connection refused"},
		{"no samples", fakeQuerier{empty: true}, m, ErrNoSamples, "no data for 2 scenario(s): packet-loss-100-pct, latency-200ms-100ms"},
		{"nothing finished", fakeQuerier{}, &cut, ErrManifest, "no scenario with a finished phase"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Collect(context.Background(), tc.q, tc.m, fixedConfig())
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
		})
	}
}
