package compare

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Floor is the smallest change worth acting on of one figure: a change
// counts only when it is at least max(Rel × |base median|, Abs).
type Floor struct {
	Rel float64 `json:"rel" yaml:"rel"`
	Abs float64 `json:"abs" yaml:"abs"`
}

// Of returns the floor for a base median m (NaN or ±Inf count as 0).
func (f Floor) Of(m float64) float64 {
	if math.IsNaN(m) || math.IsInf(m, 0) {
		m = 0
	}
	return max(f.Rel*math.Abs(m), f.Abs)
}

// Policy is the smallest change worth acting on per gating figure, by
// figure name (healthy-path figures are prefixed "healthy_"). It is a
// declared policy, not a measurement: A/A runs measure the false-alarm
// rate, the test and the confirmation stage bound it, and the policy only
// says which real changes are too small to matter.
type Policy map[string]Floor

// DefaultPolicy is the committed policy. Each value is a change a
// maintainer would act on, set from what the figure means, never from an
// A/A spread:
//   - throughput: 5 % of the base or 2 ops/s (a 200 ops/s arm loses 10);
//   - error ratio: 0.5 percentage points (1 in 200 operations);
//   - p99 and peak p99: 10 % or 1 ms (5 ms peak);
//   - time to detect (detect scenarios): 20 % or 0.5 s;
//   - false ejection (ride-through scenarios): the breaker open 1 s longer;
//   - time to recover: 25 % or 1 s (the series is per second);
//   - failed operations of a short fault: 25 % or 20 operations;
//   - the healthy path: p50 10 % or 50 µs, p99 10 % or 0.2 ms, goodput
//     0.5 percentage points of the offered load, error ratio 0.1 points.
var DefaultPolicy = Policy{
	"throughput":          {Rel: 0.05, Abs: 2},
	"error_ratio":         {Abs: 0.005},
	"latency_p99":         {Rel: 0.10, Abs: 0.001},
	"time_to_detect":      {Rel: 0.20, Abs: 0.5},
	"false_ejection":      {Abs: 1},
	"time_to_recover":     {Rel: 0.25, Abs: 1},
	"failed_operations":   {Rel: 0.25, Abs: 20},
	"peak_latency_p99":    {Rel: 0.10, Abs: 0.005},
	"healthy_latency_p50": {Rel: 0.10, Abs: 0.00005},
	"healthy_latency_p99": {Rel: 0.10, Abs: 0.0002},
	"healthy_goodput":     {Abs: 0.005},
	"healthy_error_ratio": {Abs: 0.001},
}

// PolicyFile is the per-repository override of DefaultPolicy, at the
// repository's root:
//
//	# mcchaos.yml
//	policy:
//	  latency_p99: {rel: 0.2, abs: 0.002}
//	  healthy_latency_p50: {rel: 0.05}
//
// A figure it names replaces the default entry (both fields: an omitted
// field is 0); unknown figures and keys are errors.
const PolicyFile = "mcchaos.yml"

// ErrPolicy marks a bad policy file.
var ErrPolicy = errors.New("policy")

// LoadPolicy returns DefaultPolicy with the overrides of the file at path;
// a missing file is DefaultPolicy.
func LoadPolicy(path string) (Policy, error) {
	p := maps.Clone(DefaultPolicy)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	var doc struct {
		Policy map[string]Floor `yaml:"policy"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrPolicy, path, err)
	}
	for name, f := range doc.Policy {
		if _, ok := DefaultPolicy[name]; !ok {
			return nil, fmt.Errorf("%w: %s: unknown figure %q (known: %s)", ErrPolicy, path, name, strings.Join(slices.Sorted(maps.Keys(DefaultPolicy)), ", "))
		}
		if f.Rel < 0 || f.Abs < 0 || math.IsNaN(f.Rel) || math.IsNaN(f.Abs) {
			return nil, fmt.Errorf("%w: %s: %s: rel and abs must be 0 or more", ErrPolicy, path, name)
		}
		p[name] = f
	}
	return p, nil
}

// MarshalJSON writes the policy sorted by name (stable diff.json).
func (p Policy) MarshalJSON() ([]byte, error) {
	type entry struct {
		Figure string `json:"figure"`
		Floor
	}
	var es []entry
	for _, n := range slices.Sorted(maps.Keys(p)) {
		es = append(es, entry{n, p[n]})
	}
	return json.Marshal(es)
}
