package collect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fakeQuerier answers every query with deterministic values derived from
// the query text, with the label sets the query groups by. It stands for
// Prometheus in tests of how results are assembled; the numbers mean
// nothing (the real-Prometheus test checks the numbers).
type fakeQuerier struct {
	err   error // returned by every call
	empty bool  // range queries return no series
}

func labelSets(q string) []model.Metric {
	switch {
	case strings.Contains(q, "by (class)"):
		return []model.Metric{{"class": "timeout"}, {"class": "circuit_open"}}
	case strings.Contains(q, "by (server)"), strings.Contains(q, "by (le, server)"):
		return []model.Metric{{"server": "mc1"}, {"server": "mc2"}, {"server": "mc3"}}
	case strings.Contains(q, "by (le, op)"):
		return []model.Metric{{"op": "get"}, {"op": "set"}}
	case strings.Contains(q, "loadgen_info"):
		return []model.Metric{{"client": "mcchaos", "client_version": "v1.2.3", "workload": "mixed", "mode": "closed"}}
	}
	return []model.Metric{{}}
}

func hashValue(q string, m model.Metric, i int64) model.SampleValue {
	h := fnv.New32a()
	h.Write([]byte(q + m.String()))
	base := float64(h.Sum32()%1000) / 1000
	if strings.Contains(q, mIntegrity) {
		return 0 // no violations: TestRunRepeatedRuns expects a passing run
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
	if f.empty {
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
		Scenarios: []manifest.Scenario{
			{Name: "packet-loss-100-pct", Status: manifest.StatusPassed, Phases: ph(0, 8*s, 18*s, 26*s),
				Faults: []manifest.Fault{{Kind: "packet_loss", Targets: []string{"mc1"}, Params: map[string]float64{"loss_pct": 100}, Injector: manifest.InjectorNetfilter, Fidelity: manifest.FidelityPerPacket, Applied: t0.Add(8 * s), Removed: t0.Add(18 * s)}}},
			{Name: "latency-200ms-100ms", Status: manifest.StatusPassed, Phases: ph(27*s, 35*s, 35*s+100*time.Millisecond, 43*s+100*time.Millisecond),
				Faults: []manifest.Fault{{Kind: "latency", Targets: []string{"mc2"}, Params: map[string]float64{"latency_ms": 200}, Injector: manifest.InjectorToxiproxy, Fidelity: manifest.FidelityExact}}},
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
	if run.Client != "mcchaos" || run.ClientVersion != "v1.2.3" || sc.Fidelity != "per-packet" {
		t.Errorf("client %q %q fidelity %q", run.Client, run.ClientVersion, sc.Fidelity)
	}
	// Every DESIGN.md error class has a row, zero when absent.
	p, _ := sc.Phase("testing")
	for _, c := range ErrorClasses {
		if _, ok := p.Metric("error_ratio{class=" + c + "}"); !ok {
			t.Errorf("no error_ratio for class %s", c)
		}
	}
	if m, _ := p.Metric("error_ratio{class=protocol}"); m.Value != 0 || len(m.Samples) == 0 {
		t.Errorf("absent class: value %g, %d samples; want 0 with samples", m.Value, len(m.Samples))
	}
	// 10 s testing phase → 1 s blocks (10/6 = 1): 10 samples.
	if m, _ := p.Metric("throughput"); len(m.Samples) != 10 || p.BlockSeconds != 1 {
		t.Errorf("testing: %d samples of %d s blocks, want 10 of 1 s", len(m.Samples), p.BlockSeconds)
	}
	short, _ := run.Scenarios[1].Phase("testing")
	if !short.Extended || short.WindowEnd.Sub(short.WindowStart) != DefaultMinWindow {
		t.Errorf("100 ms phase: extended %v, window %s", short.Extended, short.WindowEnd.Sub(short.WindowStart))
	}
	if d, ok := sc.Figure(FigTimeToDetect); !ok || d.Value == nil {
		t.Errorf("time to detect missing: %+v", d)
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
		{"no samples", fakeQuerier{empty: true}, m, ErrNoSamples, "phase stabilization"},
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

func TestBlockSeconds(t *testing.T) {
	c := &collector{}
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{
		{5 * time.Second, 1},   // minimum window: raw seconds
		{10 * time.Second, 1},  // smoke testing phase
		{15 * time.Second, 2},  // pr recovery
		{30 * time.Second, 5},  // pr testing: 6 blocks of 5 s
		{120 * time.Second, 5}, // capped
	} {
		if got := c.blockSeconds(tc.d); got != tc.want {
			t.Errorf("blockSeconds(%s) = %d, want %d", tc.d, got, tc.want)
		}
	}
}
