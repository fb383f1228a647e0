// Package manifest defines manifest.json, the record of a run that scenariod
// writes and collect reads: which scenarios ran, with which faults, and the
// exact start and end of each phase. It is the only thing besides metric names
// that collect knows about scenariod, so the format lives here, once.
//
// scenariod rewrites the file after every phase (atomically, through a
// temporary file and rename), so a run cut short still leaves a valid manifest.
package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mcchaos/mcchaos/internal/atomicfile"
	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/plan"
	"github.com/mcchaos/mcchaos/internal/profile"
	"github.com/mcchaos/mcchaos/internal/shard"
)

// SchemaVersion is the version of the format written by this package.
// Read refuses other versions. Version 2 added sides, arms and per-arm
// fault times; version 3 the plan.
const SchemaVersion = 3

// Side names (plan.SideHead, plan.SideBase).
const (
	SideHead = plan.SideHead
	SideBase = plan.SideBase
)

// Phase names, in the order they run.
const (
	PhaseStabilization = "stabilization"
	PhaseTesting       = "testing"
	PhaseRecovery      = "recovery"
)

// Phases lists the phase names in order.
var Phases = []string{PhaseStabilization, PhaseTesting, PhaseRecovery}

// Status values of a scenario and of a run.
const (
	StatusRunning     = "running"
	StatusPassed      = "passed"
	StatusFailed      = "failed"
	StatusInterrupted = "interrupted"
	// StatusInvalid: the scenario ran, but its faults were not in effect as
	// requested (absent, leaked, lingering): its figures measure something
	// else, so it is excluded from verdicts.
	StatusInvalid = "invalid"
)

// Injectors and their fidelity.
const (
	InjectorToxiproxy = "toxiproxy"
	InjectorNetfilter = "netfilter"
	InjectorProcess   = "process"

	// FidelityPerPacket: each packet is dropped with the given probability
	// (netfilter numgen random), as on a real lossy network.
	FidelityPerPacket = "per-packet"
	// FidelityPerConnection: toxiproxy draws a toxic's toxicity once per
	// connection, so "10 % loss" means 10 % of connections lose everything.
	FidelityPerConnection = "per-connection"
	// FidelityExact: the fault is what it says (latency, server down).
	FidelityExact = "exact"
)

// Manifest is the whole of manifest.json.
type Manifest struct {
	SchemaVersion int    `json:"schema_version"`
	RunID         string `json:"run_id"`
	// Plan is the plan scenariod ran (version 3 on): the profile's
	// values, the scenarios, sides and arms. Profile, Sides, Seed and
	// ArmOrder below are taken from it, for the readers of every version.
	Plan    *plan.Plan `json:"plan,omitempty"`
	Profile string     `json:"profile"`
	Stack   string     `json:"stack,omitempty"`
	Start   time.Time  `json:"start"`
	End     time.Time  `json:"end,omitzero"`
	Status  string     `json:"status"`
	// Sides are the run's sides, head first. Every loadgen series carries
	// the Prometheus target labels side and arm ("1".."Arms").
	Sides []Side `json:"sides"`
	// Seed drew the arms' order and ArmOrder is that order ("base-2",
	// "head-1", ...): their ports, proxies and start order, interleaved
	// across sides so that neither side has the first or last places.
	Seed     uint64   `json:"seed,omitempty"`
	ArmOrder []string `json:"arm_order,omitempty"`
	// Shard, when the run is one shard of several (bench -shard i/n), says
	// which, of what selection (the plan's): collect -merge checks the
	// shards by it.
	Shard     *shard.Record `json:"shard,omitempty"`
	Scenarios []Scenario    `json:"scenarios"`
}

// Side is one side of a run (plan.Side).
type Side = plan.Side

// Side returns the side of that name, and whether the run has it.
func (m *Manifest) Side(name string) (Side, bool) {
	for _, s := range m.Sides {
		if s.Name == name {
			return s, true
		}
	}
	return Side{}, false
}

// Scenario is one scenario as it ran.
type Scenario struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Faults      []Fault `json:"faults"`
	Phases      []Phase `json:"phases"`
	Status      string  `json:"status"`
	Error       string  `json:"error,omitempty"`
	// Efficacy is the efficacy oracle's line: requested vs measured per
	// server ("mc1: requested 10 % loss, measured 9.7 % of 5230 packets
	// lost; elsewhere mc2 0.0 % ..."). efficacy.json has the checks.
	Efficacy string `json:"efficacy,omitempty"`
	// Expect is what a good client does under the faults (ExpectRideThrough,
	// ExpectDetect) and ExpectWhy the physics it was derived from.
	Expect    string `json:"expect,omitempty"`
	ExpectWhy string `json:"expect_why,omitempty"`
}

// Expectations of a scenario (scenariod derives them; collect judges time
// to detect and breaker openings by them).
const (
	ExpectRideThrough = plan.ExpectRideThrough
	ExpectDetect      = plan.ExpectDetect
)

// Fault is one fault of a scenario as it was made: the fault as requested
// (fault.Fault: kind, targets, typed parameters) and how and when it was
// put in place. Its JSON is the fault's keys and the record's side by side.
type Fault struct {
	fault.Fault
	Made
}

// Made is how and when a fault was put in place.
type Made struct {
	// Injector is how the fault was made: InjectorToxiproxy, InjectorNetfilter, InjectorProcess.
	Injector string `json:"injector"`
	// Fidelity says how faithful the injection is: FidelityPerPacket, FidelityPerConnection, FidelityExact.
	Fidelity string `json:"fidelity"`
	// Nominal is the fault time the scenario's definition gives; the
	// testing phase may be shorter under a profile that caps it.
	Nominal Duration `json:"nominal"`
	// Applied and Removed are when the fault was put in place and taken away.
	Applied time.Time `json:"applied,omitzero"`
	Removed time.Time `json:"removed,omitzero"`
	// Arms are the fault's times on each arm's path: the spread of their
	// Applied (and Removed) times is how far from "the same instant" the
	// arms were faulted. Empty when the run has no arm proxies.
	Arms []ArmFault `json:"arms,omitempty"`
}

// MarshalJSON writes the fault's keys and the record's in one object.
func (f Fault) MarshalJSON() ([]byte, error) {
	a, err := json.Marshal(f.Fault)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(f.Made)
	if err != nil {
		return nil, err
	}
	return append(append(a[:len(a)-1], ','), b[1:]...), nil
}

// UnmarshalJSON reads the fault's keys strictly (fault.Fault) and the
// record's beside them.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	req := map[string]json.RawMessage{}
	for _, k := range []string{"kind", "targets", "params"} {
		if v, ok := all[k]; ok {
			req[k] = v
		}
	}
	rb, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(rb, &f.Fault); err != nil {
		return err
	}
	return json.Unmarshal(b, &f.Made)
}

// ArmFault is when one arm's path got a fault and lost it again.
type ArmFault struct {
	Side    string    `json:"side"`
	Arm     int       `json:"arm"`
	Applied time.Time `json:"applied,omitzero"`
	Removed time.Time `json:"removed,omitzero"`
}

// Spread returns the largest difference between the arms' applied times
// and between their removed times; zero with fewer than two arms.
func (f *Fault) Spread() (applied, removed time.Duration) {
	span := func(get func(ArmFault) time.Time) time.Duration {
		var lo, hi time.Time
		for _, a := range f.Arms {
			t := get(a)
			if t.IsZero() {
				continue
			}
			if lo.IsZero() || t.Before(lo) {
				lo = t
			}
			if hi.IsZero() || t.After(hi) {
				hi = t
			}
		}
		return hi.Sub(lo)
	}
	return span(func(a ArmFault) time.Time { return a.Applied }), span(func(a ArmFault) time.Time { return a.Removed })
}

// Phase is one phase of a scenario with its exact start and end. End is zero
// while the phase runs or when the run was cut short during it.
type Phase struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
}

// Duration is a time.Duration written as a Go duration string ("1m0s").
type Duration = profile.Duration

// Phase returns the scenario's phase of that name, and whether it exists.
func (s *Scenario) Phase(name string) (Phase, bool) {
	for _, p := range s.Phases {
		if p.Name == name {
			return p, true
		}
	}
	return Phase{}, false
}

// ErrSchema is returned (wrapped) by Read for a manifest of another schema version.
var ErrSchema = errors.New("manifest: unsupported schema_version")

// Write writes m to path atomically: a reader sees the old file or the new
// one, never a torn one.
func Write(path string, m *Manifest) error {
	if m.SchemaVersion == 0 {
		m.SchemaVersion = SchemaVersion
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("manifest: encode: %w", err)
	}
	if err := atomicfile.Write(path, append(b, '\n')); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	return nil
}

// Read reads and validates the manifest at path.
func Read(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest: %s: %w", path, err)
	}
	switch m.SchemaVersion {
	case SchemaVersion, 2:
	case 1:
		// Before arms: one loadgen, whose series carry no side or arm label.
		m.Sides = []Side{{Name: SideHead, Arms: 1}}
	default:
		return nil, fmt.Errorf("%w %d in %s (this build reads 1 to %d)", ErrSchema, m.SchemaVersion, path, SchemaVersion)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("manifest: %s: %w", path, err)
	}
	return &m, nil
}

// Validate checks that m is internally consistent: known phase names in
// order, each phase starting no earlier than the one before ended, ends not
// before starts.
func (m *Manifest) Validate() error {
	if m.RunID == "" {
		return errors.New("run_id is empty")
	}
	if m.Start.IsZero() {
		return errors.New("start is missing")
	}
	for i, s := range m.Scenarios {
		if s.Name == "" {
			return fmt.Errorf("scenario %d has no name", i)
		}
		if len(s.Phases) > len(Phases) {
			return fmt.Errorf("scenario %s: %d phases, want at most %d", s.Name, len(s.Phases), len(Phases))
		}
		var prevEnd time.Time
		for j, p := range s.Phases {
			if p.Name != Phases[j] {
				return fmt.Errorf("scenario %s: phase %d is %q, want %q", s.Name, j, p.Name, Phases[j])
			}
			if p.Start.IsZero() {
				return fmt.Errorf("scenario %s: phase %s has no start", s.Name, p.Name)
			}
			if !prevEnd.IsZero() && p.Start.Before(prevEnd) {
				return fmt.Errorf("scenario %s: phase %s starts before the previous phase ended", s.Name, p.Name)
			}
			if !p.End.IsZero() && p.End.Before(p.Start) {
				return fmt.Errorf("scenario %s: phase %s ends before it starts", s.Name, p.Name)
			}
			if p.End.IsZero() && j < len(s.Phases)-1 {
				return fmt.Errorf("scenario %s: phase %s has no end but is not the last", s.Name, p.Name)
			}
			prevEnd = p.End
		}
	}
	return nil
}
