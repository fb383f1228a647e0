// Package scenariod runs fault scenarios against the memcached servers of a
// mcchaos stack: a catalogue of scenarios (data; each fault an
// internal/fault type), a three-phase runner (stabilization → testing with
// the fault on → recovery with the state proven clean), fault injection
// through toxiproxy, netfilter or the local stack's processes (package
// inject), scenario metrics for Prometheus and the run manifest that
// collect reads.
//
// What to run is a plan (internal/plan): bench writes one and scenariod
// runs `-plan plan.json`; run alone, scenariod builds one from its flags
// (Options.Resolve). A fault on a server goes on the server's own proxy and
// on every proxy the plan gives an arm to that server, and the manifest is
// the plan plus the times observed.
package scenariod

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/plan"
	"github.com/mcchaos/mcchaos/internal/profile"
)

// Servers are the server names faults may target (fault.Servers).
var Servers = fault.Servers

// Scenario is one scenario (plan.Scenario): the catalogue's entries are
// what a plan holds.
type Scenario = plan.Scenario

// Set names accepted by Select besides scenario names.
const (
	SetAll      = plan.SetAll
	SetExtended = plan.SetExtended
)

// minute is the nominal fault time of most scenarios.
const minute = profile.Duration(time.Minute)

func lossScenario(pct int) Scenario {
	return Scenario{
		Name:        fmt.Sprintf("packet-loss-%d-pct", pct),
		Description: fmt.Sprintf("%d %% packet loss on one server for 1 min", pct),
		Faults:      []fault.Fault{fault.On(&fault.PacketLoss{LossPct: float64(pct)}, "mc1")},
		FaultTime:   minute,
	}
}

func latencyScenario(d time.Duration, suffix string) Scenario {
	return Scenario{
		Name:        "latency-200ms-" + suffix,
		Description: "+200 ms latency on one server for " + suffix,
		Faults:      []fault.Fault{fault.On(&fault.Latency{LatencyMS: 200}, "mc1")},
		FaultTime:   profile.Duration(d),
		Fixed:       true,
	}
}

func extended(name, desc string, p fault.Params) Scenario {
	return Scenario{Name: name, Description: desc, Faults: []fault.Fault{fault.On(p, "mc1")}, FaultTime: minute, Extended: true}
}

// builtin is the catalogue: the 14 scenarios of DESIGN.md (names are part
// of the contract), then the extended set.
var builtin = []Scenario{
	lossScenario(2), lossScenario(5), lossScenario(10), lossScenario(20), lossScenario(50), lossScenario(100),
	latencyScenario(100*time.Millisecond, "100ms"),
	latencyScenario(time.Second, "1s"),
	latencyScenario(5*time.Second, "5s"),
	latencyScenario(10*time.Second, "10s"),
	latencyScenario(40*time.Second, "40s"),
	latencyScenario(2*time.Minute, "2m"),
	{
		Name:        "multi-failure-2-servers-packet-loss",
		Description: "100 % packet loss on 2 of 3 servers for 1 min",
		Faults:      []fault.Fault{fault.On(&fault.PacketLoss{LossPct: 100}, "mc1", "mc2")},
		FaultTime:   minute,
	},
	{
		Name:        "multi-failure-2-servers-latency",
		Description: "+500 ms latency on 2 of 3 servers for 1 min",
		Faults:      []fault.Fault{fault.On(&fault.Latency{LatencyMS: 500}, "mc1", "mc2")},
		FaultTime:   minute,
	},
	extended("server-down", "server down for 1 min: proxy disabled, connections refused", &fault.ServerDown{}),
	extended("connection-reset", "every connection reset (TCP RST) as soon as it sends a request, for 1 min", &fault.ConnectionReset{TimeoutMS: 0}),
	extended("blackhole", "server answers nothing for 1 min: requests accepted, responses dropped", &fault.Blackhole{}),
	extended("bandwidth-limit", "responses limited to 10 KB/s per connection for 1 min", &fault.Bandwidth{RateKBps: 10}),
	extended("response-slicing", "responses cut into 1-byte pieces 100 µs apart for 1 min", &fault.Slicer{AverageSizeBytes: 1, SizeVariationBytes: 0, DelayUS: 100}),
	extended("latency-jitter", "+200 ms ± 100 ms latency on one server for 1 min", &fault.Latency{LatencyMS: 200, JitterMS: 100}),
	extended("process-restart", "memcached killed (SIGKILL) for 1 min, then restarted with a cold cache (local stack only)", &fault.ProcessKill{}),
}

// Builtin returns the built-in catalogue: the 14 scenarios, then the
// extended set. The result is a copy.
func Builtin() []Scenario {
	out := make([]Scenario, len(builtin))
	for i, s := range builtin {
		s.Source = "builtin"
		out[i] = s.Clone()
	}
	return out
}

// ErrUnknownScenario is returned (wrapped) by Select for a name that is
// neither a scenario nor a set.
var ErrUnknownScenario = fmt.Errorf("unknown scenario")

// Select returns the scenarios of catalogue named by spec, a comma-separated
// list of names and the sets "all" (the 14 of DESIGN.md) and "extended",
// in the order given, each at most once.
func Select(catalogue []Scenario, spec string) ([]Scenario, error) {
	var out []Scenario
	seen := map[string]bool{}
	add := func(s Scenario) {
		if !seen[s.Name] {
			seen[s.Name] = true
			out = append(out, s.Clone())
		}
	}
	for _, name := range strings.Split(spec, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case "":
			continue
		case SetAll, SetExtended:
			for _, s := range catalogue {
				if s.Source == "builtin" && s.Extended == (name == SetExtended) {
					add(s)
				}
			}
			continue
		}
		i := slices.IndexFunc(catalogue, func(s Scenario) bool { return s.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("%w %q: run scenariod -list to see the names (or use all, extended)", ErrUnknownScenario, name)
		}
		add(catalogue[i])
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no scenario selected by %q", ErrUnknownScenario, spec)
	}
	return out, nil
}
