// Package results defines results.json, what collect writes for a run and
// reads back as a baseline: per scenario, per phase, per metric the summary
// value, its unit, its direction and the samples it came from, and per
// scenario the derived resilience figures. A baseline is a results.json.
//
// A File holds one or more runs of the same profile: one normally, several
// when a benchmark was repeated (bench -count N) or when files were merged
// with Merge; the comparison then uses the per-run values as samples.
package results

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/collect/internal/robust"
	"github.com/mcchaos/mcchaos/internal/atomicfile"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/internal/shard"
)

// SchemaVersion is the version of the format written by this package. Read
// refuses any other version, older or newer. Version 2 holds one value per
// arm of each side (issue 10): a run has a head side and, when paired, a
// base side, each with k arms.
const SchemaVersion = 2

// ErrSchema is returned (wrapped) by Read for a file of another schema version.
var ErrSchema = errors.New("results: unsupported schema_version")

// ErrInvalid is returned (wrapped) by Read and Merge for a file that does not
// parse or is inconsistent.
var ErrInvalid = errors.New("results: invalid file")

// Side names, as in the manifest and the Prometheus label side.
const (
	SideHead = manifest.SideHead
	SideBase = manifest.SideBase
)

// Direction says which way a metric is better.
type Direction string

// Directions.
const (
	HigherIsBetter Direction = "higher"
	LowerIsBetter  Direction = "lower"
	// Informational metrics are shown and compared, never better or worse.
	Informational Direction = "none"
)

// File is the whole of results.json.
type File struct {
	SchemaVersion int   `json:"schema_version"`
	Runs          []Run `json:"runs"`
}

// Run is one run of the benchmark: its metadata and its scenarios.
type Run struct {
	RunID     string `json:"run_id"`
	GitCommit string `json:"git_commit,omitempty"`
	// Client and ClientVersion are the head side's (see Sides).
	Client        string    `json:"client,omitempty"`
	ClientVersion string    `json:"client_version,omitempty"`
	Workload      string    `json:"workload,omitempty"`
	Mode          string    `json:"mode,omitempty"`
	Profile       string    `json:"profile"`
	Stack         string    `json:"stack,omitempty"`
	Host          Host      `json:"host"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end,omitzero"`
	CollectedAt   time.Time `json:"collected_at"`
	// Status is the manifest's run status (passed, failed, interrupted).
	Status string `json:"status,omitempty"`
	// Sides are the run's sides, head first: one (head) for a run compared
	// with a stored baseline, two for a paired run.
	Sides []Side `json:"sides"`
	// IntegrityViolations counts, per side and arm, the violations over the
	// whole run, between scenarios too. Any is a failure.
	IntegrityViolations map[string]Values `json:"integrity_violations"`
	// Shard, when the run is one shard of several, is the manifest's
	// record of it (which shard, of what selection); JoinShards joins them.
	Shard *shard.Record `json:"shard,omitempty"`
	// Notes say what was unusual in collecting the run (e.g. no manifest).
	Notes     []string   `json:"notes,omitempty"`
	Scenarios []Scenario `json:"scenarios"`
}

// Side is one side of a run: a client build run as Arms loadgen processes.
type Side struct {
	Name          string   `json:"name"`
	Arms          int      `json:"arms"`
	Client        string   `json:"client,omitempty"`
	ClientVersion string   `json:"client_version,omitempty"`
	Ref           string   `json:"ref,omitempty"`
	Commit        string   `json:"commit,omitempty"`
	Args          []string `json:"args,omitempty"`
}

// Side returns the run's side of that name.
func (r *Run) Side(name string) (Side, bool) {
	for _, s := range r.Sides {
		if s.Name == name {
			return s, true
		}
	}
	return Side{}, false
}

// Paired reports whether the run has both sides.
func (r *Run) Paired() bool {
	_, ok := r.Side(SideBase)
	return ok
}

// Host describes the machine collect ran on (the benchmark's host).
type Host struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os,omitempty"`
	Arch      string `json:"arch,omitempty"`
}

// Class names the host class calibrations are kept per: "linux-amd64-2cpu".
func (h Host) Class() string {
	return fmt.Sprintf("%s-%s-%dcpu", cmp.Or(h.OS, "unknown"), cmp.Or(h.Arch, "unknown"), h.CPUs)
}

// Scenario is one scenario of a run.
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Status      string `json:"status,omitempty"`
	// Efficacy is what the faults measurably did, requested vs measured
	// per server (scenariod's efficacy oracle); Error says why a scenario
	// failed or is invalid.
	Efficacy string `json:"efficacy,omitempty"`
	Error    string `json:"error,omitempty"`
	Fidelity string `json:"fidelity"`
	// Expect is what a good client does (manifest.ExpectRideThrough,
	// manifest.ExpectDetect; "" in runs recorded before expectations) and
	// ExpectWhy why.
	Expect    string           `json:"expect,omitempty"`
	ExpectWhy string           `json:"expect_why,omitempty"`
	Faults    []manifest.Fault `json:"faults,omitempty"`
	Phases    []Phase          `json:"phases"`
	// Event holds the figures of a short fault (a testing phase shorter
	// than collect's minimum window): from the fault's start to a few
	// seconds after it, never past the scenario's end. Nil for long faults.
	Event *Phase `json:"event,omitempty"`
	// Resilience are the derived figures (time to detect, to recover, ...).
	Resilience []Metric `json:"resilience,omitempty"`
	// Series are the per-second series over the whole scenario, per side
	// and arm, kept for charts: throughput, errors, error_ratio, latency_p99.
	Series []Series `json:"series,omitempty"`
	// Notes say what was unusual in collecting this scenario.
	Notes []string `json:"notes,omitempty"`
}

// Phase is one phase of a scenario (or a short fault's event window).
type Phase struct {
	Name string `json:"name"`
	// Start and End are the phase as the manifest gives it.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// WindowStart and WindowEnd are the window the figures were computed
	// over: the phase itself, or for the event the fault's start to a few
	// seconds after.
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	Metrics     []Metric  `json:"metrics"`
}

// Metric is one figure of a phase (or a resilience figure) with one value
// per arm of each side.
type Metric struct {
	Name      string            `json:"name"`
	Labels    map[string]string `json:"labels,omitempty"`
	Unit      string            `json:"unit"`
	Direction Direction         `json:"direction"`
	// Arms holds per side one value per arm, arm i at index i-1. NaN
	// (null in JSON) is no data; +Inf ("not reached") is an event that did
	// not happen within the window, worse than any value reached.
	Arms map[string]Values `json:"arms"`
	// Notes say why values are missing or not reached.
	Notes []string `json:"notes,omitempty"`
}

// Key names the metric with its labels, e.g. "latency_p99{op=get}".
func (m Metric) Key() string { return Key(m.Name, m.Labels) }

// Side returns the values of one side (nil when absent).
func (m Metric) Side(side string) Values { return m.Arms[side] }

// Median returns the median over the arms of one side that have a value
// (+Inf when most were not reached), NaN for none.
func (m Metric) Median(side string) float64 { return robust.Median(m.Arms[side].Defined()) }

// Key formats a metric name and labels as Metric.Key does.
func Key(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	return name + "{" + LabelString(labels) + "}"
}

// LabelString formats labels canonically: "k1=v1,k2=v2", sorted by name.
func LabelString(labels map[string]string) string {
	ks := make([]string, 0, len(labels))
	for k := range labels {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	for i, k := range ks {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + labels[k])
	}
	return b.String()
}

// Series is a per-second series per side and arm. Arms[side][i][j] is arm
// i+1's value at Start+j*Step; NaN (null in JSON) where undefined.
type Series struct {
	Name  string              `json:"name"`
	Unit  string              `json:"unit"`
	Start time.Time           `json:"start"`
	StepS float64             `json:"step_seconds"`
	Arms  map[string][]Values `json:"arms"`
}

// NotReached is how +Inf is written in JSON: an event that did not happen
// within its window (a breaker that never opened, a client that never
// recovered).
const NotReached = "not reached"

// Values is a list of numbers written to JSON with NaN as null and +Inf as
// "not reached".
type Values []float64

// MarshalJSON writes NaN and -Inf as null, +Inf as "not reached".
func (v Values) MarshalJSON() ([]byte, error) {
	if v == nil {
		return []byte("[]"), nil
	}
	out := make([]any, len(v))
	for i := range v {
		switch {
		case math.IsInf(v[i], 1):
			out[i] = NotReached
		case math.IsNaN(v[i]) || math.IsInf(v[i], 0):
		default:
			out[i] = v[i]
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads null as NaN and "not reached" as +Inf.
func (v *Values) UnmarshalJSON(b []byte) error {
	var in []json.RawMessage
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	out := make(Values, len(in))
	for i, raw := range in {
		switch s := string(raw); s {
		case "null":
			out[i] = math.NaN()
		case `"` + NotReached + `"`:
			out[i] = math.Inf(1)
		default:
			if err := json.Unmarshal(raw, &out[i]); err != nil {
				return fmt.Errorf("value %d: %s: want a number, null or %q", i, s, NotReached)
			}
		}
	}
	*v = out
	return nil
}

// Defined returns the values that are not NaN (+Inf included).
func (v Values) Defined() []float64 {
	var out []float64
	for _, x := range v {
		if !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	return out
}

// Profile returns the profile of the file's runs ("" without runs).
func (f *File) Profile() string {
	if len(f.Runs) == 0 {
		return ""
	}
	return f.Runs[0].Profile
}

// Scenario returns the run's scenario of that name.
func (r *Run) Scenario(name string) (*Scenario, bool) {
	for i := range r.Scenarios {
		if r.Scenarios[i].Name == name {
			return &r.Scenarios[i], true
		}
	}
	return nil, false
}

// Phase returns the scenario's phase of that name.
func (s *Scenario) Phase(name string) (*Phase, bool) {
	for i := range s.Phases {
		if s.Phases[i].Name == name {
			return &s.Phases[i], true
		}
	}
	return nil, false
}

// Metric returns the phase's metric of that key (see Metric.Key).
func (p *Phase) Metric(key string) (*Metric, bool) {
	for i := range p.Metrics {
		if p.Metrics[i].Key() == key {
			return &p.Metrics[i], true
		}
	}
	return nil, false
}

// Figure returns the scenario's resilience figure of that name.
func (s *Scenario) Figure(name string) (*Metric, bool) {
	for i := range s.Resilience {
		if s.Resilience[i].Name == name {
			return &s.Resilience[i], true
		}
	}
	return nil, false
}

// Validate checks that f is usable: the current schema version, at least
// one run, every run of the same profile with a head side, scenarios with
// names.
func (f *File) Validate() error {
	if f.SchemaVersion != SchemaVersion {
		return fmt.Errorf("%w %d (this build reads %d)", ErrSchema, f.SchemaVersion, SchemaVersion)
	}
	if len(f.Runs) == 0 {
		return fmt.Errorf("%w: no runs", ErrInvalid)
	}
	for i, r := range f.Runs {
		if r.RunID == "" {
			return fmt.Errorf("%w: run %d has no run_id", ErrInvalid, i)
		}
		if r.Profile == "" {
			return fmt.Errorf("%w: run %s has no profile", ErrInvalid, r.RunID)
		}
		if _, ok := r.Side(SideHead); !ok {
			return fmt.Errorf("%w: run %s has no head side", ErrInvalid, r.RunID)
		}
		if r.Profile != f.Runs[0].Profile {
			return fmt.Errorf("%w: runs of different profiles (%s, %s) in one file", ErrInvalid, f.Runs[0].Profile, r.Profile)
		}
		for _, s := range r.Scenarios {
			if s.Name == "" {
				return fmt.Errorf("%w: run %s has a scenario without a name", ErrInvalid, r.RunID)
			}
		}
	}
	return nil
}

// Read reads and validates a results file.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	var probe struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
	}
	if probe.SchemaVersion == nil {
		return nil, fmt.Errorf("%w: %s has no schema_version: is it a results.json written by collect?", ErrInvalid, path)
	}
	if v := *probe.SchemaVersion; v != SchemaVersion {
		if v < SchemaVersion {
			return nil, fmt.Errorf("%w %d in %s: it holds one value per run, this build compares one value per arm (schema %d); re-record it with `make baseline` (or bench -update-baseline)", ErrSchema, v, path, SchemaVersion)
		}
		return nil, fmt.Errorf("%w %d in %s (this build reads %d; use a newer collect)", ErrSchema, v, path, SchemaVersion)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

// ReadAll reads several results files and merges them (see Merge).
func ReadAll(paths ...string) (*File, error) {
	files := make([]*File, 0, len(paths))
	for _, p := range paths {
		f, err := Read(p)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return Merge(files...)
}

// Merge returns one file holding the runs of all files, which must share a
// profile. Runs are kept in order; a run id seen twice is an error.
func Merge(files ...*File) (*File, error) {
	out := &File{SchemaVersion: SchemaVersion}
	seen := map[string]bool{}
	for _, f := range files {
		for _, r := range f.Runs {
			if seen[r.RunID] {
				return nil, fmt.Errorf("%w: run %s given twice", ErrInvalid, r.RunID)
			}
			seen[r.RunID] = true
			out.Runs = append(out.Runs, r)
		}
	}
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// Write writes f to path atomically, with a trailing newline.
func Write(path string, f *File) error {
	if f.SchemaVersion == 0 {
		f.SchemaVersion = SchemaVersion
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("results: encode: %w", err)
	}
	return atomicfile.Write(path, append(b, '\n'))
}

// ScenarioNames returns the names of the scenarios in any run of f, in
// first-seen order.
func (f *File) ScenarioNames() []string {
	var names []string
	for _, r := range f.Runs {
		for _, s := range r.Scenarios {
			if !slices.Contains(names, s.Name) {
				names = append(names, s.Name)
			}
		}
	}
	return names
}
