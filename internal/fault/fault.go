// Package fault defines the faults of mcchaos once, for every package that
// handles them: the scenario catalogue and scenario files, the injectors,
// the efficacy oracle, the run plan and the manifest.
//
// A Fault is a kind, the servers it targets and the kind's parameters. Each
// kind's parameters are a Go type of their own with JSON-tagged fields whose
// unit is in the name and the comment, as toxiproxy's toxics are
// (LatencyToxic{Latency, Jitter}): Latency{LatencyMS, JitterMS}. Their JSON
// is the shape scenario files, plan.json and manifest.json have always used:
//
//	{"kind": "latency", "targets": ["mc1"], "params": {"latency_ms": 200, "jitter_ms": 0}}
//
// Decoding is strict: an unknown kind, an unknown parameter, a value out
// of range or a missing required parameter is an error naming it.
//
// To add a fault kind, add a file like latency.go (its Kind constant, its
// parameter type with Kind, fields and, when toxiproxy makes it, Toxic)
// and its line in the kinds table below.
package fault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/mcchaos/mcchaos/internal/toxiproxy"
)

// Kind is a fault kind. Its string is what manifests, the metrics' kind
// label and scenario files use.
type Kind string

// Params are the parameters of one fault kind: one of the types of this
// package (*PacketLoss, *Latency, ...), always a pointer.
type Params interface {
	// Kind is the kind these parameters belong to.
	Kind() Kind
	// fields lists the parameters, each with a pointer to its field, in
	// the order they are printed.
	fields() []field
}

// Param describes one parameter of a kind.
type Param struct {
	// Key is the JSON key; its unit is in the name ("latency_ms").
	Key      string
	Min, Max float64
	// Default is the value when the parameter is not given; a Required
	// one must be given.
	Default  float64
	Required bool
}

type field struct {
	Param
	v *float64
}

// kinds is the closed set of fault kinds: each makes its zero parameters.
var kinds = map[Kind]func() Params{
	KindPacketLoss:      func() Params { return &PacketLoss{} },
	KindLatency:         func() Params { return &Latency{} },
	KindServerDown:      func() Params { return &ServerDown{} },
	KindConnectionReset: func() Params { return &ConnectionReset{} },
	KindBlackhole:       func() Params { return &Blackhole{} },
	KindBandwidth:       func() Params { return &Bandwidth{} },
	KindSlicer:          func() Params { return &Slicer{} },
	KindProcessKill:     func() Params { return &ProcessKill{} },
}

// Kinds returns the known fault kinds, sorted.
func Kinds() []Kind { return slices.Sorted(maps.Keys(kinds)) }

// KindNames returns the known kinds as one comma-separated string.
func KindNames() string {
	var s []string
	for _, k := range Kinds() {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

// Servers are the server names faults may target: the toxiproxy proxy
// names of every stack and the server label of every metric.
var Servers = []string{"mc1", "mc2", "mc3"}

// ErrUnknownKind is returned (wrapped) for a kind not in Kinds.
var ErrUnknownKind = errors.New("unknown fault kind")

// New returns k's parameters with every optional one at its default.
func New(k Kind) (Params, error) {
	mk, ok := kinds[k]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownKind, k, KindNames())
	}
	p := mk()
	for _, f := range p.fields() {
		*f.v = f.Default
	}
	return p, nil
}

// Spec returns k's parameters in print order; nil for an unknown kind.
func Spec(k Kind) []Param {
	mk, ok := kinds[k]
	if !ok {
		return nil
	}
	var out []Param
	for _, f := range mk().fields() {
		out = append(out, f.Param)
	}
	return out
}

// Set sets the parameter key of p to v, checking that p's kind has it
// and that v is in its range.
func Set(p Params, key string, v float64) error {
	fs := p.fields()
	i := slices.IndexFunc(fs, func(f field) bool { return f.Key == key })
	if i < 0 {
		return fmt.Errorf("fault %s: unknown parameter %q (known: %s)", p.Kind(), key, keys(fs))
	}
	if f := fs[i]; v < f.Min || v > f.Max {
		return fmt.Errorf("fault %s: %s = %v out of range [%v, %v]", p.Kind(), key, v, f.Min, f.Max)
	}
	*fs[i].v = v
	return nil
}

// FromMap builds k's parameters from key/value pairs (a scenario file's
// params mapping, or metric labels): unknown keys and values out of range
// are errors, a missing required parameter too, missing optional ones take
// their defaults.
func FromMap(k Kind, m map[string]float64) (Params, error) {
	p, err := New(k)
	if err != nil {
		return nil, err
	}
	for _, key := range slices.Sorted(maps.Keys(m)) {
		if err := Set(p, key, m[key]); err != nil {
			return nil, err
		}
	}
	for _, f := range p.fields() {
		if _, ok := m[f.Key]; !ok && f.Required {
			return nil, fmt.Errorf("fault %s: missing parameter %s", k, f.Key)
		}
	}
	return p, nil
}

// Value is a parameter with its value.
type Value struct {
	Param
	V float64
}

// Values returns p's parameters and their values in print order.
func Values(p Params) []Value {
	if p == nil {
		return nil
	}
	var out []Value
	for _, f := range p.fields() {
		out = append(out, Value{f.Param, *f.v})
	}
	return out
}

// Format writes p as "key=value" pairs in print order: "latency_ms=200 jitter_ms=0".
func Format(p Params) string {
	var s []string
	for _, v := range Values(p) {
		s = append(s, v.Key+"="+strconv.FormatFloat(v.V, 'g', -1, 64))
	}
	return strings.Join(s, " ")
}

// Clone returns a copy of p that shares nothing with it.
func Clone(p Params) Params {
	if p == nil {
		return nil
	}
	q := kinds[p.Kind()]()
	for i, f := range q.fields() {
		*f.v = *p.fields()[i].v
	}
	return q
}

func keys(fs []field) string {
	if len(fs) == 0 {
		return "none"
	}
	var s []string
	for _, f := range fs {
		s = append(s, f.Key)
	}
	return strings.Join(s, ", ")
}

// Fault is one fault: a kind held on one or more servers. The zero value
// is not valid; build one with On or decode it.
type Fault struct {
	// Kind is the fault kind; Params are of that kind.
	Kind Kind `json:"kind"`
	// Targets are server names ("mc1"). Built-in single-server faults hit
	// mc1 and two-server faults mc1 and mc2, by convention.
	Targets []string `json:"targets"`
	// Params are the kind's parameters (never nil in a valid Fault).
	Params Params `json:"params"`
}

// On returns the fault p on targets.
func On(p Params, targets ...string) Fault {
	return Fault{Kind: p.Kind(), Targets: targets, Params: p}
}

// Clone returns a copy of f that shares nothing with it.
func (f Fault) Clone() Fault {
	f.Targets = slices.Clone(f.Targets)
	f.Params = Clone(f.Params)
	return f
}

// Validate checks the kind, the targets and every parameter's range.
func (f Fault) Validate() error {
	if _, ok := kinds[f.Kind]; !ok {
		return fmt.Errorf("%w %q (known: %s)", ErrUnknownKind, f.Kind, KindNames())
	}
	if f.Params == nil || f.Params.Kind() != f.Kind {
		return fmt.Errorf("fault %s: parameters of another kind or none", f.Kind)
	}
	if len(f.Targets) == 0 {
		return fmt.Errorf("fault %s: no target servers", f.Kind)
	}
	for _, t := range f.Targets {
		if err := CheckTarget(f.Kind, t); err != nil {
			return err
		}
	}
	for _, v := range Values(f.Params) {
		if v.V < v.Min || v.V > v.Max {
			return fmt.Errorf("fault %s: %s = %v out of range [%v, %v]", f.Kind, v.Key, v.V, v.Min, v.Max)
		}
	}
	return nil
}

// CheckTarget reports a server name not in Servers.
func CheckTarget(k Kind, server string) error {
	if !slices.Contains(Servers, server) {
		return fmt.Errorf("fault %s: unknown server %q (known: %s)", k, server, strings.Join(Servers, ", "))
	}
	return nil
}

// String describes f in one line: "packet_loss loss_pct=10".
func (f Fault) String() string {
	if s := Format(f.Params); s != "" {
		return string(f.Kind) + " " + s
	}
	return string(f.Kind)
}

// UnmarshalJSON decodes a fault strictly: known keys only (kind, targets,
// params), a known kind, its parameters in range, required ones present.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var raw struct {
		Kind    Kind               `json:"kind"`
		Targets []string           `json:"targets"`
		Params  map[string]float64 `json:"params"`
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&raw); err != nil {
		return fmt.Errorf("fault: %w", err)
	}
	p, err := FromMap(raw.Kind, raw.Params)
	if err != nil {
		return err
	}
	*f = Fault{Kind: raw.Kind, Targets: raw.Targets, Params: p}
	return nil
}

// toxicMaker is a kind toxiproxy makes as a toxic.
type toxicMaker interface {
	toxic() toxiproxy.Toxic
}

// ToxicPrefix begins the name of every toxic mcchaos adds; the rest is
// the kind ("mcchaos_latency").
const ToxicPrefix = "mcchaos_"

// Toxic returns the toxiproxy toxic that makes p, and false for a kind
// that is no toxic (server down, process kill).
func Toxic(p Params) (toxiproxy.Toxic, bool) {
	t, ok := p.(toxicMaker)
	if !ok {
		return toxiproxy.Toxic{}, false
	}
	x := t.toxic()
	x.Name = ToxicPrefix + string(p.Kind())
	if x.Stream == "" {
		x.Stream = "downstream"
	}
	if x.Toxicity == 0 {
		x.Toxicity = 1
	}
	return x, true
}
