package profile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration written in JSON as a Go duration string
// ("1m30s"), as plan.json and manifest.json hold phase and fault lengths.
type Duration time.Duration

// MarshalJSON writes d as a string such as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// profileJSON is Profile with its lengths as duration strings.
type profileJSON struct {
	Name          string   `json:"name"`
	Description   string   `json:"description"`
	Stabilization Duration `json:"stabilization"`
	Recovery      Duration `json:"recovery"`
	MaxFault      Duration `json:"max_fault,omitempty"`
	Scenarios     []string `json:"scenarios,omitempty"`
	Arms          int      `json:"arms"`
	Rate          float64  `json:"rate"`
	Concurrency   int      `json:"concurrency"`
}

// MarshalJSON writes p with its lengths as duration strings ("10s").
func (p Profile) MarshalJSON() ([]byte, error) {
	return json.Marshal(profileJSON{p.Name, p.Description, Duration(p.Stabilization), Duration(p.Recovery), Duration(p.MaxFault), p.Scenarios, p.Arms, p.Rate, p.Concurrency})
}

// UnmarshalJSON reads what MarshalJSON writes; unknown keys are refused.
func (p *Profile) UnmarshalJSON(b []byte) error {
	var j profileJSON
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&j); err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	*p = Profile{j.Name, j.Description, time.Duration(j.Stabilization), time.Duration(j.Recovery), time.Duration(j.MaxFault), j.Scenarios, j.Arms, j.Rate, j.Concurrency}
	return nil
}

// Validate checks that p's values can drive a run.
func (p Profile) Validate() error {
	switch {
	case p.Name == "":
		return fmt.Errorf("profile has no name")
	case p.Stabilization <= 0 || p.Recovery <= 0:
		return fmt.Errorf("profile %s: stabilization %v and recovery %v must be positive", p.Name, p.Stabilization, p.Recovery)
	case p.MaxFault < 0:
		return fmt.Errorf("profile %s: max_fault %v is negative", p.Name, p.MaxFault)
	case p.Arms < 0 || p.Rate < 0 || p.Concurrency < 0:
		return fmt.Errorf("profile %s: arms, rate and concurrency must not be negative", p.Name)
	}
	return nil
}
