// Package plan defines the run plan: everything a run needs, resolved once
// by bench before anything starts and written as plan.json in the run
// directory. Every process of the run reads it and none rediscovers it:
//
//   - the profile as values (phase lengths, arms, load), not a name to look up;
//   - the selected scenarios, each with its typed faults (package fault);
//   - the sides (client, ref, commit, loadgen flags) and the seed that drew
//     the arms' order;
//   - the arms in that order: key prefix, exporter address, and the name
//     and address of the arm's own proxy to each server.
//
// The stack creates the arms' proxies and Prometheus targets from it, each
// loadgen's argv is built from its Arm, and scenariod runs `-plan
// plan.json`: it applies each fault to the proxies the plan names and
// writes manifest.json as the plan plus what it observed (times, statuses).
//
// The format is JSON with a version; Read refuses unknown fields, other
// versions and plans that do not validate, with an error naming the
// mistake.
package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/mcchaos/mcchaos/internal/atomicfile"
	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/profile"
	"github.com/mcchaos/mcchaos/internal/shard"
)

// Version is the version of the format written by this package; Read
// refuses others.
const Version = 1

// File is the plan's file name in a run directory.
const File = "plan.json"

// Side names. A run has a head side (the code under test) and, when
// paired, a base side (the code it is compared with).
const (
	SideHead = "head"
	SideBase = "base"
)

// Expectations of a scenario: what a good client does under its faults.
const (
	ExpectRideThrough = "ride-through"
	ExpectDetect      = "detect"
)

// Set names a selection accepts besides scenario names; no scenario may
// be called so.
const (
	SetAll      = "all"      // the 14 scenarios of DESIGN.md
	SetExtended = "extended" // the scenarios beyond the 14
)

// Plan is the whole of plan.json.
type Plan struct {
	Version int `json:"version"`
	// Profile gives the phase lengths and the load. Its Name says where
	// the values came from; flags may have changed some of them.
	Profile profile.Profile `json:"profile"`
	// Scenarios run in this order.
	Scenarios []Scenario `json:"scenarios"`
	// Sides are the run's sides, head first. Empty for scenariod run
	// alone: then one head arm, through the servers' own proxies.
	Sides []Side `json:"sides,omitempty"`
	// Seed drew the arms' order.
	Seed uint64 `json:"seed,omitempty"`
	// Arms are every side's arms in the drawn order (their ports, proxies
	// and start order), interleaved across sides.
	Arms []Arm `json:"arms,omitempty"`
	// Shard, when the run is one shard of several (bench -shard i/n),
	// says which, of what selection: Scenarios are its share.
	Shard *shard.Record `json:"shard,omitempty"`
}

// Scenario is one scenario: a fault (or several at once) held for a time
// between a stabilization and a recovery phase.
type Scenario struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Faults      []fault.Fault `json:"faults"`
	// FaultTime is the nominal length of the testing phase.
	FaultTime profile.Duration `json:"fault_time"`
	// Fixed reports whether FaultTime is part of the scenario's identity
	// (stated in its name, as latency-200ms-2m), so that no profile shortens it.
	Fixed bool `json:"fixed,omitempty"`
	// Extended marks scenarios outside the 14 of the contract.
	Extended bool `json:"extended,omitempty"`
	// Source is where the scenario was defined: "builtin" or "file:line".
	Source string `json:"source,omitempty"`
	// Expect is what a good client does, ExpectRideThrough or
	// ExpectDetect; "" derives it from the faults.
	Expect string `json:"expect,omitempty"`
}

// Side is one side of a run: a client build and its flags, run as Arms
// loadgen processes.
type Side struct {
	// Name is SideHead or SideBase.
	Name string `json:"name"`
	// Arms is the number of arms (loadgen processes) of the side.
	Arms int `json:"arms"`
	// Client is loadgen's -client ("ours", "gomemcache").
	Client string `json:"client,omitempty"`
	// Ref is the git ref the side was built from, and Commit its commit.
	Ref    string `json:"ref,omitempty"`
	Commit string `json:"commit,omitempty"`
	// Args are the side's extra loadgen flags.
	Args []string `json:"args,omitempty"`
}

// Arm is one client instance: one loadgen process with its own key
// prefix, exporter and proxies.
type Arm struct {
	Side string `json:"side"`
	Num  int    `json:"num"`
	// KeyPrefix prefixes every key the arm uses ("head1:").
	KeyPrefix string `json:"key_prefix"`
	// Listen is where the arm's exporter listens; Scrape is where
	// Prometheus reaches it (another host name from a container).
	Listen string `json:"listen"`
	Scrape string `json:"scrape"`
	// Proxies are the arm's own proxies, one per server.
	Proxies []Proxy `json:"proxies"`
}

// Proxy is one arm's toxiproxy proxy to one server.
type Proxy struct {
	// Server is the server it leads to ("mc1").
	Server string `json:"server"`
	// Name is the proxy's name in toxiproxy (ArmProxy).
	Name string `json:"name"`
	// Listen is the proxy's listen address ("127.0.0.1:21221"; an
	// unspecified host listens everywhere).
	Listen string `json:"listen"`
}

// Name is the arm's name: "head-1".
func (a Arm) Name() string { return a.Side + "-" + strconv.Itoa(a.Num) }

// Dial returns the address a client on this host dials to reach p: its
// listen address, an unspecified host made the loopback.
func (p Proxy) Dial() string {
	host, port, err := net.SplitHostPort(p.Listen)
	if err != nil {
		return p.Listen
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// Servers is the arm's servers as loadgen's -servers takes them:
// "mc1=127.0.0.1:21221,mc2=...".
func (a Arm) Servers() string {
	var s []string
	for _, p := range a.Proxies {
		s = append(s, p.Server+"="+p.Dial())
	}
	return strings.Join(s, ",")
}

// ArmProxy names the toxiproxy proxy of one arm's path to server:
// "mc1.head.2". Every arm has its own proxies, so a fault on mc1 is the
// same fault on every arm's mc1 path.
func ArmProxy(server, side string, arm int) string {
	return fmt.Sprintf("%s.%s.%d", server, side, arm)
}

// ArmOrder returns the arms' names in the plan's order ("base-2", "head-1", ...).
func (p *Plan) ArmOrder() []string {
	var out []string
	for _, a := range p.Arms {
		out = append(out, a.Name())
	}
	return out
}

// Proxy is what the plan says of a proxy by name: its server and, for an
// arm's proxy, the arm (ok false: not an arm's proxy).
func (p *Plan) Proxy(name string) (Proxy, Arm, bool) {
	for _, a := range p.Arms {
		for _, x := range a.Proxies {
			if x.Name == name {
				return x, a, true
			}
		}
	}
	return Proxy{}, Arm{}, false
}

// Clone returns a copy of s that shares nothing with it.
func (s Scenario) Clone() Scenario {
	s.Faults = slices.Clone(s.Faults)
	for i, f := range s.Faults {
		s.Faults[i] = f.Clone()
	}
	return s
}

// Validate checks s: a plain name, a positive fault time, valid faults and
// at most one fault of a kind per server.
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
	if err := CheckExpect(s.Expect); err != nil {
		return fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	seen := map[string]bool{}
	for _, f := range s.Faults {
		if err := f.Validate(); err != nil {
			return fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		for _, t := range f.Targets {
			// One fault of a kind per server: they would share a toxic or rule.
			key := string(f.Kind) + "/" + t
			if seen[key] {
				return fmt.Errorf("scenario %s: two %s faults on %s", s.Name, f.Kind, t)
			}
			seen[key] = true
		}
	}
	return nil
}

// CheckExpect refuses an expectation other than "", ExpectRideThrough and ExpectDetect.
func CheckExpect(e string) error {
	switch e {
	case "", ExpectRideThrough, ExpectDetect:
		return nil
	}
	return fmt.Errorf("expect %q: want %s or %s", e, ExpectRideThrough, ExpectDetect)
}

// Validate checks that p can drive a run: a valid profile, at least one
// valid scenario (names distinct), sides head first with arms 1..Arms
// each, and every arm with one proxy per server, names and addresses
// distinct.
func (p *Plan) Validate() error {
	if p.Version != Version {
		return fmt.Errorf("version %d (this build reads %d)", p.Version, Version)
	}
	if err := p.Profile.Validate(); err != nil {
		return err
	}
	if len(p.Scenarios) == 0 {
		return errors.New("no scenarios")
	}
	names := map[string]bool{}
	for i := range p.Scenarios {
		s := &p.Scenarios[i]
		if err := s.Validate(); err != nil {
			return err
		}
		if names[s.Name] {
			return fmt.Errorf("scenario %s twice", s.Name)
		}
		names[s.Name] = true
	}
	sides := map[string]int{}
	for i, s := range p.Sides {
		if want := []string{SideHead, SideBase}; i >= len(want) || s.Name != want[i] {
			return fmt.Errorf("side %d is %q: want head, then base", i+1, s.Name)
		}
		if s.Arms < 1 {
			return fmt.Errorf("side %s has %d arms", s.Name, s.Arms)
		}
		sides[s.Name] = s.Arms
	}
	if len(p.Arms) > 0 && len(p.Sides) == 0 {
		return errors.New("arms without sides")
	}
	seen := map[string]bool{}
	used := func(what, v string) error {
		if seen[what+v] {
			return fmt.Errorf("%s %s used twice", what, v)
		}
		seen[what+v] = true
		return nil
	}
	for _, a := range p.Arms {
		k, ok := sides[a.Side]
		if !ok || a.Num < 1 || a.Num > k {
			return fmt.Errorf("arm %s: no such side or number (sides: %v)", a.Name(), sides)
		}
		if err := used("arm", a.Name()); err != nil {
			return err
		}
		if a.KeyPrefix == "" || a.Listen == "" || a.Scrape == "" {
			return fmt.Errorf("arm %s: key_prefix, listen and scrape are required", a.Name())
		}
		if err := used("key prefix", a.KeyPrefix); err != nil {
			return err
		}
		if len(a.Proxies) != len(fault.Servers) {
			return fmt.Errorf("arm %s: %d proxies, want one per server (%s)", a.Name(), len(a.Proxies), strings.Join(fault.Servers, ", "))
		}
		for j, x := range a.Proxies {
			if x.Server != fault.Servers[j] {
				return fmt.Errorf("arm %s: proxy %d leads to %q, want %s", a.Name(), j+1, x.Server, fault.Servers[j])
			}
			if x.Name == "" {
				return fmt.Errorf("arm %s: proxy to %s has no name", a.Name(), x.Server)
			}
			if _, _, err := net.SplitHostPort(x.Listen); err != nil {
				return fmt.Errorf("arm %s: proxy %s: listen %q: %v", a.Name(), x.Name, x.Listen, err)
			}
			if err := errors.Join(used("proxy", x.Name), used("proxy address", x.Listen)); err != nil {
				return err
			}
		}
	}
	n := 0
	for _, k := range sides {
		n += k
	}
	if len(p.Arms) > 0 && len(p.Arms) != n {
		return fmt.Errorf("%d arms, the sides have %d", len(p.Arms), n)
	}
	return nil
}

// ErrPlan marks every error of Read and Decode.
var ErrPlan = errors.New("plan")

// Decode reads a plan strictly (unknown fields refused) and validates it.
func Decode(b []byte) (*Plan, error) {
	var p Plan
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPlan, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPlan, err)
	}
	return &p, nil
}

// Read reads and validates the plan at path.
func Read(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPlan, err)
	}
	p, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return p, nil
}

// Write validates p and writes it to path atomically.
func Write(path string, p *Plan) error {
	if p.Version == 0 {
		p.Version = Version
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrPlan, err)
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: encode: %v", ErrPlan, err)
	}
	if err := atomicfile.Write(path, append(b, '\n')); err != nil {
		return fmt.Errorf("%w: %v", ErrPlan, err)
	}
	return nil
}
