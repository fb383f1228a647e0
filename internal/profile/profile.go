// Package profile holds the run profiles of mcchaos: how long each phase of a
// scenario lasts and how much load is offered. Profiles are data, kept here in
// one place, and read by scenariod (phase lengths), cmd/bench (load settings)
// and collect (to refuse comparing runs of different profiles).
package profile

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Profile sets phase lengths and load for a run. The zero value is not useful;
// use Get or one of the named profiles.
type Profile struct {
	// Name is the profile's name as given on the command line.
	Name string `json:"name"`
	// Description says what the profile is for, in one line.
	Description string `json:"description"`
	// Stabilization is the length of the phase before the fault.
	Stabilization time.Duration `json:"stabilization"`
	// Recovery is the length of the phase after the fault is removed.
	Recovery time.Duration `json:"recovery"`
	// MaxFault caps the fault time of scenarios whose name does not state
	// their duration (packet loss and multi-failure, nominally 1 min).
	// Scenarios named by their duration (latency-200ms-2m) always run as
	// named. If zero, no cap.
	MaxFault time.Duration `json:"max_fault,omitempty"`
	// Scenarios is the default selection of scenario names. If nil, all 14.
	Scenarios []string `json:"scenarios,omitempty"`
	// Arms is the number of arms (client instances, one loadgen each) per
	// side. Each arm's figure over a phase is one sample of the comparison.
	Arms int `json:"arms"`
	// Rate is each arm's open-loop rate in operations per second. If zero,
	// loadgen runs closed-loop with Concurrency workers.
	Rate float64 `json:"rate"`
	// Concurrency is each arm's closed-loop worker count, or its in-flight
	// cap in open-loop mode. In open loop it must be well above Rate × the
	// client's timeout (a single 2000/s loadgen with a cap of 100 dropped
	// 38 % of all operations under a +200 ms fault on one server, healthy
	// servers starved behind the slow one; with 1000, 2 %, the client's own
	// doing). Here it is 2 × Rate × 500 ms.
	Concurrency int `json:"concurrency"`
}

// Default is the profile used when none is given.
const Default = "pr"

var profiles = map[string]Profile{
	"full": {
		Name:          "full",
		Description:   "the timings of ORIGIN.md: 30s stabilization, the scenario's fault time, 60s recovery",
		Stabilization: 30 * time.Second,
		Recovery:      60 * time.Second,
		Arms:          5,
		Rate:          200,
		Concurrency:   200,
	},
	"pr": {
		Name:          "pr",
		Description:   "all 14 scenarios in about 15 minutes: 10s stabilization, faults of 1 min cut to 30s, 15s recovery",
		Stabilization: 10 * time.Second,
		Recovery:      15 * time.Second,
		MaxFault:      30 * time.Second,
		Arms:          5,
		Rate:          200,
		Concurrency:   200,
	},
	"smoke": {
		Name:          "smoke",
		Description:   "three scenarios in about 2 minutes, for tests: 8s stabilization, faults cut to 10s, 8s recovery",
		Stabilization: 8 * time.Second,
		Recovery:      8 * time.Second,
		MaxFault:      10 * time.Second,
		Scenarios:     []string{"packet-loss-100-pct", "latency-200ms-1s", "multi-failure-2-servers-latency"},
		Arms:          5,
		Rate:          200,
		Concurrency:   200,
	},
}

// Get returns the named profile, or an error listing the known ones.
func Get(name string) (Profile, error) {
	p, ok := profiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("unknown profile %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	p.Scenarios = slices.Clone(p.Scenarios)
	return p, nil
}

// Names returns the known profile names, sorted.
func Names() []string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// FaultTime returns how long a fault of nominal length d lasts under p.
// named reports whether the scenario's name states its duration, in which
// case it is never shortened.
func (p Profile) FaultTime(d time.Duration, named bool) time.Duration {
	if named || p.MaxFault == 0 || d <= p.MaxFault {
		return d
	}
	return p.MaxFault
}
