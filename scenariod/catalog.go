// Package scenariod runs fault scenarios against the memcached servers of a
// mcchaos stack: a catalogue of scenarios (data), a three-phase runner
// (stabilization → testing with the fault on → recovery with the state
// proven clean), fault injection through toxiproxy, netfilter or the local
// stack's processes (package inject), scenario metrics for Prometheus and
// the run manifest that collect reads.
package scenariod

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is a fault kind. Its string is what the manifest, the metrics' kind
// label and scenario files use.
type Kind string

// Fault kinds.
const (
	// KindPacketLoss drops loss_pct percent of the packets (netfilter) or
	// black-holes loss_pct percent of the connections (toxiproxy emulation).
	KindPacketLoss Kind = "packet_loss"
	// KindLatency delays every response by latency_ms ± jitter_ms.
	KindLatency Kind = "latency"
	// KindServerDown disables the proxy: new connections are refused and
	// open ones are closed.
	KindServerDown Kind = "server_down"
	// KindConnectionReset resets a connection (TCP RST) timeout_ms after it
	// sends data (toxiproxy reset_peer).
	KindConnectionReset Kind = "connection_reset"
	// KindBlackhole accepts connections and requests but never answers
	// (toxiproxy timeout toxic with timeout 0).
	KindBlackhole Kind = "blackhole"
	// KindBandwidth limits responses to rate_kbps kilobytes per second per
	// connection (toxiproxy bandwidth; its unit is KB/s).
	KindBandwidth Kind = "bandwidth"
	// KindSlicer cuts responses into pieces of about average_size_bytes
	// (± size_variation_bytes), delay_us apart (toxiproxy slicer).
	KindSlicer Kind = "slicer"
	// KindProcessKill kills the memcached process with SIGKILL and starts
	// it again when the fault ends: its cache is cold after recovery. Local
	// stack only.
	KindProcessKill Kind = "process_kill"
)

// param is one parameter a fault kind takes; keys carry their unit.
type param struct {
	key      string
	min, max float64
	def      float64 // value when not given
	required bool
}

// kindSpecs lists each kind's parameters, in the order -list prints them.
var kindSpecs = map[Kind][]param{
	KindPacketLoss:      {{key: "loss_pct", min: 0.01, max: 100, required: true}},
	KindLatency:         {{key: "latency_ms", min: 0, max: 3_600_000, required: true}, {key: "jitter_ms", min: 0, max: 3_600_000}},
	KindServerDown:      nil,
	KindConnectionReset: {{key: "timeout_ms", min: 0, max: 3_600_000}},
	KindBlackhole:       nil,
	KindBandwidth:       {{key: "rate_kbps", min: 1, max: 10_000_000, required: true}},
	KindSlicer:          {{key: "average_size_bytes", min: 1, max: 1 << 20, def: 1}, {key: "size_variation_bytes", min: 0, max: 1 << 20}, {key: "delay_us", min: 0, max: 10_000_000, def: 100}},
	KindProcessKill:     nil,
}

// Kinds returns the known fault kinds, sorted.
func Kinds() []Kind { return slices.Sorted(maps.Keys(kindSpecs)) }

// Servers are the server names faults may target: the toxiproxy proxy names
// of every stack and the server label of every metric.
var Servers = []string{"mc1", "mc2", "mc3"}

// Fault is one fault of a scenario.
type Fault struct {
	Kind Kind
	// Targets are server names ("mc1"). Single-server faults hit mc1 and
	// two-server faults mc1 and mc2, by convention.
	Targets []string
	// Params are the kind's parameters, units in the key ("loss_pct").
	// Missing optional parameters take their defaults (see Validate).
	Params map[string]float64
}

// Scenario is one scenario: a fault (or several at once) held for a time
// between a stabilization and a recovery phase.
type Scenario struct {
	Name        string
	Description string
	Faults      []Fault
	// FaultTime is the nominal length of the testing phase.
	FaultTime time.Duration
	// Fixed reports whether FaultTime is part of the scenario's identity
	// (stated in its name, as latency-200ms-2m), so that no profile shortens it.
	Fixed bool
	// Extended marks scenarios outside the 14 of the contract.
	Extended bool
	// Source is where the scenario was defined: "builtin" or "file:line".
	Source string
	// Expect is what a good client does, ExpectRideThrough or
	// ExpectDetect; "" derives it from the faults (Expectation).
	Expect string
}

// Set names accepted by Select besides scenario names.
const (
	SetAll      = "all"      // the 14 scenarios of DESIGN.md
	SetExtended = "extended" // the scenarios beyond the 14
)

func lossScenario(pct int) Scenario {
	return Scenario{
		Name:        fmt.Sprintf("packet-loss-%d-pct", pct),
		Description: fmt.Sprintf("%d %% packet loss on one server for 1 min", pct),
		Faults:      []Fault{{Kind: KindPacketLoss, Targets: []string{"mc1"}, Params: map[string]float64{"loss_pct": float64(pct)}}},
		FaultTime:   time.Minute,
	}
}

func latencyScenario(d time.Duration, suffix string) Scenario {
	return Scenario{
		Name:        "latency-200ms-" + suffix,
		Description: "+200 ms latency on one server for " + suffix,
		Faults:      []Fault{{Kind: KindLatency, Targets: []string{"mc1"}, Params: map[string]float64{"latency_ms": 200}}},
		FaultTime:   d,
		Fixed:       true,
	}
}

func extended(name, desc string, f Fault) Scenario {
	f.Targets = []string{"mc1"}
	return Scenario{Name: name, Description: desc, Faults: []Fault{f}, FaultTime: time.Minute, Extended: true}
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
		Faults:      []Fault{{Kind: KindPacketLoss, Targets: []string{"mc1", "mc2"}, Params: map[string]float64{"loss_pct": 100}}},
		FaultTime:   time.Minute,
	},
	{
		Name:        "multi-failure-2-servers-latency",
		Description: "+500 ms latency on 2 of 3 servers for 1 min",
		Faults:      []Fault{{Kind: KindLatency, Targets: []string{"mc1", "mc2"}, Params: map[string]float64{"latency_ms": 500}}},
		FaultTime:   time.Minute,
	},
	extended("server-down", "server down for 1 min: proxy disabled, connections refused", Fault{Kind: KindServerDown}),
	extended("connection-reset", "every connection reset (TCP RST) as soon as it sends a request, for 1 min", Fault{Kind: KindConnectionReset, Params: map[string]float64{"timeout_ms": 0}}),
	extended("blackhole", "server answers nothing for 1 min: requests accepted, responses dropped", Fault{Kind: KindBlackhole}),
	extended("bandwidth-limit", "responses limited to 10 KB/s per connection for 1 min", Fault{Kind: KindBandwidth, Params: map[string]float64{"rate_kbps": 10}}),
	extended("response-slicing", "responses cut into 1-byte pieces 100 µs apart for 1 min", Fault{Kind: KindSlicer, Params: map[string]float64{"average_size_bytes": 1, "size_variation_bytes": 0, "delay_us": 100}}),
	extended("latency-jitter", "+200 ms ± 100 ms latency on one server for 1 min", Fault{Kind: KindLatency, Params: map[string]float64{"latency_ms": 200, "jitter_ms": 100}}),
	extended("process-restart", "memcached killed (SIGKILL) for 1 min, then restarted with a cold cache (local stack only)", Fault{Kind: KindProcessKill}),
}

// Builtin returns the built-in catalogue: the 14 scenarios, then the
// extended set. The result is a copy.
func Builtin() []Scenario {
	out := make([]Scenario, len(builtin))
	for i, s := range builtin {
		s.Source = "builtin"
		out[i] = s.clone()
	}
	return out
}

func (s Scenario) clone() Scenario {
	s.Faults = slices.Clone(s.Faults)
	for i, f := range s.Faults {
		f.Targets = slices.Clone(f.Targets)
		f.Params = maps.Clone(f.Params)
		s.Faults[i] = f
	}
	return s
}

// Validate checks s and fills in the defaults of optional parameters.
func (s *Scenario) Validate() error {
	if s.Name == "" {
		return fmt.Errorf("scenario has no name")
	}
	if s.Name == SetAll || s.Name == SetExtended || strings.ContainsAny(s.Name, ", \t") {
		return fmt.Errorf("scenario name %q: reserved or contains a comma or space", s.Name)
	}
	if s.FaultTime <= 0 {
		return fmt.Errorf("scenario %s: fault time %v must be positive", s.Name, s.FaultTime)
	}
	if len(s.Faults) == 0 {
		return fmt.Errorf("scenario %s: no faults", s.Name)
	}
	if err := checkExpect(s.Expect); err != nil {
		return fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	seen := map[string]bool{}
	for i := range s.Faults {
		f := &s.Faults[i]
		if err := f.validate(); err != nil {
			return fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		for _, t := range f.Targets {
			// One fault of a kind per server: they would share a toxic or rule.
			if key := string(f.Kind) + "/" + t; seen[key] {
				return fmt.Errorf("scenario %s: two %s faults on %s", s.Name, f.Kind, t)
			} else {
				seen[key] = true
			}
		}
	}
	return nil
}

func (f *Fault) validate() error {
	if err := checkKind(f.Kind); err != nil {
		return err
	}
	if len(f.Targets) == 0 {
		return fmt.Errorf("fault %s: no target servers", f.Kind)
	}
	for _, t := range f.Targets {
		if err := checkTarget(f.Kind, t); err != nil {
			return err
		}
	}
	for k, v := range f.Params {
		if err := checkParam(f.Kind, k, v); err != nil {
			return err
		}
	}
	return f.fillDefaults()
}

func checkKind(k Kind) error {
	if _, ok := kindSpecs[k]; !ok {
		return fmt.Errorf("unknown fault kind %q (known: %s)", k, joinKinds())
	}
	return nil
}

func checkTarget(k Kind, server string) error {
	if !slices.Contains(Servers, server) {
		return fmt.Errorf("fault %s: unknown server %q (known: %s)", k, server, strings.Join(Servers, ", "))
	}
	return nil
}

func checkParam(k Kind, key string, v float64) error {
	spec := kindSpecs[k]
	i := slices.IndexFunc(spec, func(p param) bool { return p.key == key })
	if i < 0 {
		return fmt.Errorf("fault %s: unknown parameter %q (known: %s)", k, key, paramKeys(spec))
	}
	if p := spec[i]; v < p.min || v > p.max {
		return fmt.Errorf("fault %s: %s = %v out of range [%v, %v]", k, key, v, p.min, p.max)
	}
	return nil
}

// fillDefaults sets missing optional parameters and reports a missing required one.
func (f *Fault) fillDefaults() error {
	if f.Params == nil {
		f.Params = map[string]float64{}
	}
	for _, p := range kindSpecs[f.Kind] {
		if _, ok := f.Params[p.key]; ok {
			continue
		}
		if p.required {
			return fmt.Errorf("fault %s: missing parameter %s", f.Kind, p.key)
		}
		f.Params[p.key] = p.def
	}
	return nil
}

func joinKinds() string {
	var s []string
	for _, k := range Kinds() {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

func paramKeys(spec []param) string {
	if len(spec) == 0 {
		return "none"
	}
	var s []string
	for _, p := range spec {
		s = append(s, p.key)
	}
	return strings.Join(s, ", ")
}

// String describes f in one line: "packet_loss loss_pct=10".
func (f Fault) String() string {
	var b strings.Builder
	b.WriteString(string(f.Kind))
	for _, p := range kindSpecs[f.Kind] {
		if v, ok := f.Params[p.key]; ok {
			b.WriteString(" " + p.key + "=" + strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	return b.String()
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
			out = append(out, s.clone())
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
