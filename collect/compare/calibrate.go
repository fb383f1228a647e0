package compare

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/mcchaos/mcchaos/collect/internal/robust"
	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/internal/atomicfile"
)

// CalibrationSchema is the version of the calibration file format.
const CalibrationSchema = 1

// DefaultMultiple is how many spreads a gating figure's change must exceed
// (see Calibrate). Under a normal model 4 spreads is exceeded by an A/A
// effect about once in 16 000 figures, so a run of ~100 gating figures
// false-alarms about 0.6 % of the time; heavier tails make it more, which
// is why the rate is measured, not assumed.
const DefaultMultiple = 4.0

// madToSigma scales a median absolute value to a standard deviation under
// a normal model.
const madToSigma = 1.4826

// ErrCalibration is returned (wrapped) for calibration input that cannot
// be used.
var ErrCalibration = errors.New("compare: calibration")

// Calibration is the measured A/A spread of every gating figure of one
// profile on one host class, and the floors derived from it. It is data:
// baselines/calibration/<profile>-<host class>.json.
type Calibration struct {
	SchemaVersion int      `json:"schema_version"`
	Profile       string   `json:"profile"`
	HostClass     string   `json:"host_class"`
	Runs          []string `json:"runs"`
	ArmsPerSide   int      `json:"arms_per_side"`
	Alpha         float64  `json:"alpha"`
	Multiple      float64  `json:"multiple"`
	// Rule states how the floors derive from the spreads.
	Rule        string      `json:"rule"`
	Figures     []CalFigure `json:"figures"`
	FalseAlarms FalseAlarms `json:"false_alarms"`
}

// CalFigure is the calibration of one gating figure of one scenario.
type CalFigure struct {
	Scenario string `json:"scenario"`
	Key      Key    `json:"key"`
	Unit     string `json:"unit"`
	// Effects are the A/A effects (Hodges–Lehmann, head − base), one per
	// run; ±Inf when one side reached the event and the other did not.
	Effects []Num `json:"effects"`
	// Between is 1.4826 × the median absolute finite A/A effect: the
	// standard deviation of the effect across runs under a normal model,
	// robustly. It holds what differs between the sides of one run
	// (ordering, ports, the machine's moods).
	Between Num `json:"between_runs"`
	// Within is the standard deviation the effect would have from the
	// spread of the arms alone: a robust pooled standard deviation of the
	// arm values around their side's median (robust.PooledScale over each
	// side of each run, so one outlying arm does not inflate it), ×
	// sqrt(π/3 × 2/k), the Hodges–Lehmann shift's standard error for k
	// arms a side. It rests on every arm value of every run, so it is far
	// steadier than Between.
	Within Num `json:"within_runs"`
	// Spread is the larger of Between and Within.
	Spread Num `json:"spread"`
	// MaxAbs is the largest finite |A/A effect| seen: a change no larger
	// than what A/A runs showed is never trusted, however small the spread
	// (a figure that is 0 in most runs has a spread of 0).
	MaxAbs Num `json:"max_abs_effect"`
	// Floor is max(Multiple × Spread, MaxAbs, the gate's resolution): the
	// smallest change this figure can flag. +Inf when no A/A effect was
	// finite.
	Floor Num `json:"floor"`
}

// FalseAlarms is the measured false-alarm rate of the floors: the share of
// A/A runs that would have flagged any gating regression, each judged with
// floors fitted on the other runs only (leave-one-out).
type FalseAlarms struct {
	Method  string  `json:"method"`
	Runs    int     `json:"runs"`
	Flagged int     `json:"flagged"`
	Rate    float64 `json:"rate"`
	// Changed counts the runs with any gating change flagged, improvements
	// included.
	Changed int      `json:"changed"`
	Flags   []string `json:"flags,omitempty"`
}

// Floor returns the calibrated floor of a scenario's gating figure.
func (c *Calibration) Floor(scenario string, k Key) (float64, bool) {
	for _, f := range c.Figures {
		if f.Scenario == scenario && f.Key == k {
			return float64(f.Floor), true
		}
	}
	return 0, false
}

// Calibrate measures, from paired A/A runs (the same binary on both sides),
// the spread of every gating figure per scenario and derives its floor:
// Multiple × spread, never below the largest A/A effect seen nor the gate's
// resolution. It then measures
// the false-alarm rate of the whole procedure honestly: each run is judged
// with floors fitted on the other runs (leave-one-out), so the rate is not
// tested on what was fitted. cfg.Calibration is ignored; multiple 0 means
// DefaultMultiple.
func Calibrate(files []*results.File, cfg Config, multiple float64) (*Calibration, error) {
	cfg = cfg.withDefaults()
	cfg.Calibration = nil
	multiple = cmp.Or(multiple, DefaultMultiple)
	var reps []*results.File
	for _, f := range files {
		for _, r := range f.Runs {
			if !r.Paired() {
				return nil, fmt.Errorf("%w: run %s has no base side: calibration needs paired A/A runs (bench -aa)", ErrCalibration, r.RunID)
			}
			reps = append(reps, &results.File{SchemaVersion: results.SchemaVersion, Runs: []results.Run{r}})
		}
	}
	if len(reps) < 3 {
		return nil, fmt.Errorf("%w: %d A/A run(s): need at least 3 (10 or more for a useful false-alarm rate)", ErrCalibration, len(reps))
	}
	r0 := reps[0].Runs[0]
	for _, r := range reps[1:] {
		if r.Runs[0].Profile != r0.Profile || r.Runs[0].Host.Class() != r0.Host.Class() {
			return nil, fmt.Errorf("%w: runs %s (%s, %s) and %s (%s, %s): calibrate one profile on one host class at a time", ErrCalibration,
				r0.RunID, r0.Profile, r0.Host.Class(), r.Runs[0].RunID, r.Runs[0].Profile, r.Runs[0].Host.Class())
		}
	}
	cal := fit(reps, cfg, multiple)
	cal.FalseAlarms = FalseAlarms{Method: "leave-one-out: each A/A run judged with floors fitted on the others", Runs: len(reps)}
	for i, rep := range reps {
		others := slices.Concat(reps[:i], reps[i+1:])
		c := cfg
		c.Calibration = fit(others, cfg, multiple)
		d, err := Compare(nil, rep, c)
		if err != nil {
			return nil, err
		}
		changed := false
		for _, s := range d.Scenarios {
			for _, r := range s.Rows {
				switch r.Verdict {
				case Regression:
					cal.FalseAlarms.Flags = append(cal.FalseAlarms.Flags, fmt.Sprintf("%s: %s: %s", rep.Runs[0].RunID, s.Name, r.Reason))
					changed = true
				case Improvement:
					changed = true
				}
			}
		}
		if d.Regressions > 0 {
			cal.FalseAlarms.Flagged++
		}
		if changed {
			cal.FalseAlarms.Changed++
		}
	}
	cal.FalseAlarms.Rate = float64(cal.FalseAlarms.Flagged) / float64(len(reps))
	return cal, nil
}

// fit computes the spreads and floors from A/A runs.
func fit(reps []*results.File, cfg Config, multiple float64) *Calibration {
	r0 := reps[0].Runs[0]
	sd, _ := r0.Side(results.SideHead)
	cal := &Calibration{SchemaVersion: CalibrationSchema, Profile: r0.Profile, HostClass: r0.Host.Class(), ArmsPerSide: sd.Arms,
		Alpha: cfg.Alpha, Multiple: multiple,
		Rule: fmt.Sprintf("floor = max(%g × spread, the largest |A/A effect| seen, resolution); spread = max(between_runs, within_runs): between_runs = 1.4826 × median |A/A effect| over the runs (the effect: Hodges–Lehmann shift head − base of the per-arm values), within_runs = robust pooled standard deviation of the arms (MAD about each side median, small-sample corrected) × sqrt(π/3 × 2/k)", multiple)}
	type cell struct {
		scenario string
		key      Key
	}
	var order []cell
	effects := map[cell][]Num{}
	groups := map[cell][][]float64{}
	arms := map[cell]int{}
	unit := map[cell]string{}
	for _, rep := range reps {
		cal.Runs = append(cal.Runs, rep.Runs[0].RunID)
		base, head := &source{rep, results.SideBase}, source{rep, results.SideHead}
		for _, name := range rep.ScenarioNames() {
			b, h := gather(base, name), gather(&head, name)
			if b == nil || h == nil || b.invalid() || h.invalid() || (b.unsteady() != "" && h.unsteady() != "") {
				// Not an experiment (Compare excludes it too): its
				// spread would measure a starved machine or an absent fault.
				continue
			}
			for _, g := range cfg.Family {
				bv, hv := b.vals[g.Key].Defined(), h.vals[g.Key].Defined()
				if len(bv) == 0 || len(hv) == 0 {
					continue
				}
				c := cell{name, g.Key}
				if _, ok := effects[c]; !ok {
					order = append(order, c)
					unit[c] = h.meta[g.Key].Unit
				}
				est, _, _ := HodgesLehmann(bv, hv, cfg.Confidence)
				effects[c] = append(effects[c], Num(est))
				for _, side := range [][]float64{bv, hv} {
					var fin []float64
					for _, v := range side {
						if !math.IsInf(v, 0) {
							fin = append(fin, v)
						}
					}
					groups[c] = append(groups[c], fin)
					arms[c] = max(arms[c], len(side))
				}
			}
		}
	}
	for _, c := range order {
		g, _ := cfg.gate(c.key)
		var abs []float64
		for _, e := range effects[c] {
			if !math.IsInf(float64(e), 0) && !math.IsNaN(float64(e)) {
				abs = append(abs, math.Abs(float64(e)))
			}
		}
		f := CalFigure{Scenario: c.scenario, Key: c.key, Unit: unit[c], Effects: effects[c],
			Between: Num(math.Inf(1)), Within: Num(math.NaN()), Spread: Num(math.Inf(1)), MaxAbs: Num(math.NaN()), Floor: Num(math.Inf(1))}
		if sd := robust.PooledScale(groups[c]); !math.IsNaN(sd) {
			f.Within = Num(sd * math.Sqrt(math.Pi/3*2/float64(arms[c])))
		}
		if len(abs) > 0 {
			f.Between = Num(madToSigma * robust.Median(abs))
			spread := float64(f.Between)
			if !math.IsNaN(float64(f.Within)) {
				spread = max(spread, float64(f.Within))
			}
			_, hi := robust.Bounds(abs)
			f.Spread, f.MaxAbs, f.Floor = Num(spread), Num(hi), Num(max(multiple*spread, hi, g.Resolution))
		}
		cal.Figures = append(cal.Figures, f)
	}
	return cal
}

// UnmarshalJSON reads a number, null (NaN) or "+Inf"/"-Inf".
func (n *Num) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null":
		*n = Num(math.NaN())
		return nil
	case `"+Inf"`:
		*n = Num(math.Inf(1))
		return nil
	case `"-Inf"`:
		*n = Num(math.Inf(-1))
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Num(f)
	return nil
}

// ReadCalibration reads a calibration file.
func ReadCalibration(path string) (*Calibration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCalibration, err)
	}
	var c Calibration
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCalibration, path, err)
	}
	if c.SchemaVersion != CalibrationSchema {
		return nil, fmt.Errorf("%w: %s has schema_version %d, this build reads %d: run `make calibrate` again", ErrCalibration, path, c.SchemaVersion, CalibrationSchema)
	}
	return &c, nil
}

// WriteCalibration writes c to path atomically.
func WriteCalibration(path string, c *Calibration) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: encode: %v", ErrCalibration, err)
	}
	return atomicfile.Write(path, append(b, '\n'))
}

// calibrationNote says where the gating floors come from, and warns when
// the calibration is of another host class or profile.
func calibrationNote(cal *Calibration, new *results.File, base *source, warns []string) (string, []string) {
	if cal == nil {
		return "none: gating floors are the uncalibrated defaults (run `make calibrate` on this host class)", warns
	}
	note := fmt.Sprintf("%s on %s: %d A/A runs, floors %g × spread, measured false-alarm rate %d/%d runs (%s)",
		cal.Profile, cal.HostClass, len(cal.Runs), cal.Multiple, cal.FalseAlarms.Flagged, cal.FalseAlarms.Runs, cal.FalseAlarms.Method)
	if cal.Profile != new.Profile() {
		warns = append(warns, fmt.Sprintf("the calibration is of profile %s, this run is %s", cal.Profile, new.Profile()))
	}
	cls := new.Runs[0].Host.Class()
	if base != nil && base.f != new {
		cls = base.f.Runs[0].Host.Class()
	}
	if cal.HostClass != cls && cal.HostClass != new.Runs[0].Host.Class() {
		warns = append(warns, fmt.Sprintf("the calibration is of host class %s, this run is %s", cal.HostClass, new.Runs[0].Host.Class()))
	}
	return note, warns
}
