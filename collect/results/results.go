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
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/internal/atomicfile"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// SchemaVersion is the version of the format written by this package. Read
// refuses any other version, older or newer.
const SchemaVersion = 1

// ErrSchema is returned (wrapped) by Read for a file of another schema version.
var ErrSchema = errors.New("results: unsupported schema_version")

// ErrInvalid is returned (wrapped) by Read and Merge for a file that does not
// parse or is inconsistent.
var ErrInvalid = errors.New("results: invalid file")

// Direction says which way a metric is better.
type Direction string

// Directions.
const (
	HigherIsBetter Direction = "higher"
	LowerIsBetter  Direction = "lower"
	// Informational metrics are shown and compared, never a regression.
	Informational Direction = "none"
)

// File is the whole of results.json.
type File struct {
	SchemaVersion int   `json:"schema_version"`
	Runs          []Run `json:"runs"`
}

// Run is one run of the benchmark: its metadata and its scenarios.
type Run struct {
	RunID         string    `json:"run_id"`
	GitCommit     string    `json:"git_commit,omitempty"`
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
	// IntegrityViolations counts the violations over the whole run, between
	// scenarios too. Any is a failure.
	IntegrityViolations float64 `json:"integrity_violations"`
	// Notes say what was unusual in collecting the run (e.g. no manifest).
	Notes     []string   `json:"notes,omitempty"`
	Scenarios []Scenario `json:"scenarios"`
}

// Host describes the machine collect ran on (the benchmark's host).
type Host struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os,omitempty"`
	Arch      string `json:"arch,omitempty"`
}

// Scenario is one scenario of a run.
type Scenario struct {
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	Status      string           `json:"status,omitempty"`
	Fidelity    string           `json:"fidelity"`
	Faults      []manifest.Fault `json:"faults,omitempty"`
	Phases      []Phase          `json:"phases"`
	Resilience  []Figure         `json:"resilience,omitempty"`
	// Series are the per-second series over the whole scenario, kept for
	// charts: throughput, error_ratio, latency_p99.
	Series []Series `json:"series,omitempty"`
	// Notes say what was unusual in collecting this scenario.
	Notes []string `json:"notes,omitempty"`
}

// Phase is one phase of a scenario.
type Phase struct {
	Name string `json:"name"`
	// Start and End are the phase as the manifest gives it.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// WindowStart and WindowEnd are the window the figures were computed
	// over: the phase itself, or a longer one when the phase was shorter
	// than collect's minimum window (see Extended).
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// Extended is true when the window is longer than the phase.
	Extended bool `json:"extended,omitempty"`
	// BlockSeconds is the block length of the samples: each sample is the
	// mean of this many consecutive per-second values.
	BlockSeconds int      `json:"block_seconds"`
	Metrics      []Metric `json:"metrics"`
}

// Metric is one figure of a phase.
type Metric struct {
	Name      string            `json:"name"`
	Labels    map[string]string `json:"labels,omitempty"`
	Unit      string            `json:"unit"`
	Direction Direction         `json:"direction"`
	// Value is the figure over the whole window.
	Value float64 `json:"value"`
	// Samples are block means of the per-second series over the window.
	Samples Values `json:"samples"`
}

// Key names the metric with its labels, e.g. "latency_p99{op=get}".
func (m Metric) Key() string { return Key(m.Name, m.Labels) }

// Key formats a metric name and labels as Metric.Key does.
func Key(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	ks := make([]string, 0, len(labels))
	for k := range labels {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range ks {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

// Figure is a derived resilience figure of a scenario. Value is nil when the
// event did not happen (the breaker never opened, the client did not
// recover within the recovery phase); Note says why.
type Figure struct {
	Name      string    `json:"name"`
	Unit      string    `json:"unit"`
	Direction Direction `json:"direction"`
	Value     *float64  `json:"value"`
	Note      string    `json:"note,omitempty"`
}

// Series is a per-second series. Values[i] is the value at Start+i*Step;
// NaN (null in JSON) where the value is undefined (no operations).
type Series struct {
	Name   string    `json:"name"`
	Unit   string    `json:"unit"`
	Start  time.Time `json:"start"`
	StepS  float64   `json:"step_seconds"`
	Values Values    `json:"values"`
}

// Values is a list of numbers written to JSON with NaN as null.
type Values []float64

// MarshalJSON writes NaN and ±Inf as null.
func (v Values) MarshalJSON() ([]byte, error) {
	if v == nil {
		return []byte("[]"), nil
	}
	out := make([]*float64, len(v))
	for i := range v {
		if !math.IsNaN(v[i]) && !math.IsInf(v[i], 0) {
			out[i] = &v[i]
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads null as NaN.
func (v *Values) UnmarshalJSON(b []byte) error {
	var in []*float64
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	out := make(Values, len(in))
	for i, p := range in {
		if p == nil {
			out[i] = math.NaN()
		} else {
			out[i] = *p
		}
	}
	*v = out
	return nil
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
func (s *Scenario) Figure(name string) (*Figure, bool) {
	for i := range s.Resilience {
		if s.Resilience[i].Name == name {
			return &s.Resilience[i], true
		}
	}
	return nil, false
}

// Validate checks that f is usable: the current schema version, at least
// one run, every run of the same profile, scenarios with phases.
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
	if *probe.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%w %d in %s (this build reads %d; regenerate it with this collect)", ErrSchema, *probe.SchemaVersion, path, SchemaVersion)
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

// Median returns the median of vs, NaN for none.
func Median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BlockMeans returns the means of consecutive blocks of b values. A last,
// partial block is kept when it holds at least half a block.
func BlockMeans(vs []float64, b int) Values {
	b = max(b, 1)
	out := Values{}
	for i := 0; i < len(vs); i += b {
		j := min(i+b, len(vs))
		if j-i < (b+1)/2 {
			break
		}
		sum := 0.0
		for _, v := range vs[i:j] {
			sum += v
		}
		out = append(out, sum/float64(j-i))
	}
	return out
}
