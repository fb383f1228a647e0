package scenariod

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/profile"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The 14 names of DESIGN.md are a contract.
var contract = []string{
	"packet-loss-2-pct", "packet-loss-5-pct", "packet-loss-10-pct", "packet-loss-20-pct", "packet-loss-50-pct", "packet-loss-100-pct",
	"latency-200ms-100ms", "latency-200ms-1s", "latency-200ms-5s", "latency-200ms-10s", "latency-200ms-40s", "latency-200ms-2m",
	"multi-failure-2-servers-packet-loss", "multi-failure-2-servers-latency",
}

func names(ss []Scenario) []string {
	var n []string
	for _, s := range ss {
		n = append(n, s.Name)
	}
	return n
}

func TestCatalogue(t *testing.T) {
	all, err := Select(Builtin(), SetAll)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(all); !slices.Equal(got, contract) {
		t.Errorf("all = %v, want the 14 of DESIGN.md", got)
	}
	for _, s := range Builtin() {
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
	// Every profile's default selection names real scenarios.
	for _, n := range profile.Names() {
		p, _ := profile.Get(n)
		if p.Scenarios != nil {
			if _, err := Select(Builtin(), strings.Join(p.Scenarios, ",")); err != nil {
				t.Errorf("profile %s: %v", n, err)
			}
		}
	}
}

func TestPhaseLengths(t *testing.T) {
	pr, _ := profile.Get("pr")
	for _, tc := range []struct {
		name string
		want time.Duration
	}{
		{"packet-loss-10-pct", 30 * time.Second},                  // 1 min capped by pr's MaxFault
		{"latency-200ms-2m", 2 * time.Minute},                     // named: never capped
		{"latency-200ms-100ms", 100 * time.Millisecond},           // named
		{"multi-failure-2-servers-latency", 30 * time.Second},     // capped
		{"multi-failure-2-servers-packet-loss", 30 * time.Second}, // capped
	} {
		ss, err := Select(Builtin(), tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if got := pr.FaultTime(time.Duration(ss[0].FaultTime), ss[0].Fixed); got != tc.want {
			t.Errorf("%s under pr: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSelect(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want []string // nil: error
	}{
		{"latency-200ms-1s,packet-loss-2-pct", []string{"latency-200ms-1s", "packet-loss-2-pct"}}, // order kept
		{"latency-200ms-1s,latency-200ms-1s", []string{"latency-200ms-1s"}},                       // once
		{"extended", []string{"server-down", "connection-reset", "blackhole", "bandwidth-limit", "response-slicing", "latency-jitter", "process-restart"}},
		{"nope", nil},
		{"", nil},
	} {
		got, err := Select(Builtin(), tc.spec)
		if tc.want == nil {
			if !errors.Is(err, ErrUnknownScenario) {
				t.Errorf("%q: err %v, want ErrUnknownScenario", tc.spec, err)
			}
			continue
		}
		if err != nil || !slices.Equal(names(got), tc.want) {
			t.Errorf("%q: %v %v, want %v", tc.spec, names(got), err, tc.want)
		}
	}
}

func TestParseFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"unknown kind", `
scenarios:
  - name: a
    fault_time: 1s
    faults:
      - kind: earthquake
        targets: [mc1]
`, `f.yaml:6: unknown fault kind "earthquake"`},
		{"negative duration", `
scenarios:
  - name: a
    fault_time: -5s
    faults:
      - kind: latency
        targets: [mc1]
        params: {latency_ms: 200}
`, "f.yaml:4: fault_time -5s: must be positive"},
		{"unknown server", `
scenarios:
  - name: a
    fault_time: 1s
    faults:
      - kind: latency
        targets: [mc1, mc9]
        params: {latency_ms: 200}
`, `f.yaml:7: fault latency: unknown server "mc9"`},
		{"loss above 100 %", `
scenarios:
  - name: a
    fault_time: 1s
    faults:
      - kind: packet_loss
        targets: [mc1]
        params:
          loss_pct: 150
`, "f.yaml:9: fault packet_loss: loss_pct = 150 out of range [0.01, 100]"},
		{"missing parameter", `
scenarios:
  - name: a
    fault_time: 1s
    faults:
      - kind: packet_loss
        targets: [mc1]
`, "f.yaml:6: fault packet_loss: missing parameter loss_pct"},
		{"unknown key", `
scenarios:
  - name: a
    fault_tme: 1s
`, `f.yaml:4: unknown key "fault_tme"`},
		{"not a number", `
scenarios:
  - name: a
    fault_time: 1s
    faults:
      - kind: latency
        targets: [mc1]
        params: {latency_ms: lots}
`, `f.yaml:8: latency_ms: want a number, got "lots"`},
		{"built-in name", `
scenarios:
  - name: packet-loss-2-pct
    fault_time: 1s
    faults: [{kind: server_down, targets: [mc1]}]
`, "f.yaml:3: scenario name \"packet-loss-2-pct\" is a built-in scenario"},
		{"syntax", "scenarios:\n  - name: a\n    description: \"open\n", "f.yaml:3: found unexpected end of stream"},
		{"json", `{"scenarios": [
  {"name": "a", "fault_time": "1s",
   "faults": [{"kind": "latency", "targets": ["mc4"], "params": {"latency_ms": 1}}]}]}`, `f.yaml:3: fault latency: unknown server "mc4"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFile("f.yaml", []byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant %q", err, tc.want)
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Errorf("%T is not a *FileError", err)
			}
		})
	}
}

func TestParseFile(t *testing.T) {
	ss, err := ParseFile("ok.yaml", []byte(`
scenarios:
  - name: slow-mc2
    description: +300 ms on mc2
    fault_time: 20s
    fixed: true
    faults:
      - kind: latency
        targets: [mc2]
        params: {latency_ms: 300}
      - kind: server_down
        targets: [mc3]
`))
	if err != nil {
		t.Fatal(err)
	}
	s := ss[0]
	if s.Name != "slow-mc2" || s.FaultTime != profile.Duration(20*time.Second) || !s.Fixed || len(s.Faults) != 2 || s.Source != "ok.yaml:3" {
		t.Errorf("%+v", s)
	}
	if got := s.Faults[0].Params.(*fault.Latency); got.LatencyMS != 300 || got.JitterMS != 0 {
		t.Errorf("params %v (jitter_ms defaults to 0)", got)
	}
}

func TestMetricsLint(t *testing.T) {
	reg, m := NewRegistry()
	m.Phase.WithLabelValues("x").Set(PhaseTesting)
	m.PhaseDuration.WithLabelValues("x", "testing").Set(1.5)
	m.Runs.WithLabelValues("x", "passed").Inc()
	m.FaultActive.WithLabelValues("mc1", "latency", "toxiproxy").Set(1)
	m.FaultValue.WithLabelValues("mc1", "latency", "latency_ms").Set(200)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	if n := testutil.CollectAndCount(m.FaultValue); n != 1 {
		t.Errorf("fault_value series %d", n)
	}
}

// TestExampleFile keeps the documented example valid.
func TestExampleFile(t *testing.T) {
	ss, err := LoadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(ss); !slices.Equal(got, []string{"slow-and-lossy", "two-servers-down"}) {
		t.Errorf("%v", got)
	}
}
