package history

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/mcchaos/mcchaos/collect/compare"
	"github.com/mcchaos/mcchaos/collect/internal/robust"
	"github.com/mcchaos/mcchaos/collect/results"
)

// ErrInput is returned (wrapped) for a history that cannot be analysed: no
// results files, or runs of several profiles.
var ErrInput = errors.New("history: bad input")

// ResultsName is the file name Load looks for.
const ResultsName = "results.json"

// Point is one run of a history.
type Point struct {
	RunID  string
	Commit string
	Start  time.Time
	Run    *results.Run
}

// Load reads every results.json under dir (at any depth, as fetched
// artifacts unpack) and returns their runs ordered by start time, oldest
// first. The runs must share a profile. A file of another schema version
// is skipped, and said in skipped: a history spans months, and one
// schema change must not stop it until the older artifacts expire.
func Load(dir string) (pts []Point, skipped []string, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != ResultsName {
			return nil
		}
		f, err := results.Read(path)
		if errors.Is(err, results.ErrSchema) {
			skipped = append(skipped, err.Error())
			return nil
		}
		if err != nil {
			return err
		}
		for i := range f.Runs {
			r := &f.Runs[i]
			commit := r.GitCommit
			if s, ok := r.Side(results.SideHead); ok && commit == "" {
				commit = s.Commit
			}
			pts = append(pts, Point{RunID: r.RunID, Commit: commit, Start: r.Start, Run: r})
		}
		return nil
	})
	if err != nil {
		return nil, skipped, fmt.Errorf("history: %w", err)
	}
	if len(pts) == 0 {
		return nil, skipped, fmt.Errorf("%w: no %s under %s that this build reads", ErrInput, ResultsName, dir)
	}
	slices.SortStableFunc(pts, func(a, b Point) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.RunID, b.RunID))
	})
	for _, p := range pts[1:] {
		if p.Run.Profile != pts[0].Run.Profile {
			return nil, skipped, fmt.Errorf("%w: runs of profiles %s (%s) and %s (%s); give one profile's history", ErrInput, pts[0].Run.Profile, pts[0].RunID, p.Run.Profile, p.RunID)
		}
	}
	return pts, skipped, nil
}

// Series is one gating figure of one scenario over the history (or of
// the run-level healthy path, Scenario HealthyPath): the median over the
// head side's arms of each run that has it.
type Series struct {
	Scenario string
	Key      compare.Key
	Gate     compare.Gate
	Unit     string
	// Direction says which way is better.
	Direction results.Direction
	// Runs index the history's points; Values[i] is run Runs[i]'s median.
	// +Inf is "not reached" (see Analysis.Plot).
	Runs   []int
	Values []float64
}

// HealthyPath is the Scenario of the run-level healthy-path series.
const HealthyPath = "healthy path"

// Gating returns the series of every gating figure of the history, as
// compare.GatingFigures gives them per run (cfg's families): per scenario
// the figures of its expectation, then the healthy path; in first-seen
// order. A run without the figure, whose arms have no value, or whose
// scenario was invalid or unsteady (faults not in effect as asked, or no
// steady state before them), is not in that series.
func Gating(pts []Point, cfg compare.Config) []Series {
	type id struct {
		scenario string
		key      compare.Key
	}
	var order []id
	series := map[id]*Series{}
	for i, p := range pts {
		for _, f := range compare.GatingFigures(p.Run, results.SideHead, cfg) {
			sc := cmp.Or(f.Scenario, HealthyPath)
			k := id{sc, f.Key}
			s, ok := series[k]
			if !ok {
				s = &Series{Scenario: sc, Key: f.Key, Gate: f.Gate}
				series[k] = s
				order = append(order, k)
			}
			v := robust.Median(f.Arms.Defined())
			if math.IsNaN(v) {
				continue
			}
			s.Unit, s.Direction = f.Unit, f.Direction
			s.Runs = append(s.Runs, i)
			s.Values = append(s.Values, v)
		}
	}
	var out []Series
	for _, k := range order {
		if s := series[k]; len(s.Runs) > 0 {
			out = append(out, *s)
		}
	}
	return out
}

// Change is a change point of a series, with the runs around it.
type Change struct {
	ChangePoint
	// Run is the first run after the step, Prev the last one before: the
	// step began with a commit in (Prev.Commit, Run.Commit].
	Run, Prev Point
	// Worse says the step goes the worse way of the figure.
	Worse bool
}

// Analysis is the outcome for one series.
type Analysis struct {
	Series
	// Plot are the values analysed: Values with "not reached" drawn above
	// every reached value (see notReached).
	Plot    []float64
	Changes []Change
	// Note says why the series was not analysed ("" when it was).
	Note string
}

// Result is the outcome over a history.
type Result struct {
	Points []Point
	// Skipped says which files Load skipped, and why.
	Skipped    []string
	Profile    string
	Config     Config
	MinHistory int
	Series     []Analysis
}

// Changed returns the analyses with at least one change point.
func (r *Result) Changed() []Analysis {
	var out []Analysis
	for _, a := range r.Series {
		if len(a.Changes) > 0 {
			out = append(out, a)
		}
	}
	return out
}

// Analyze finds the change points of every gating figure of the history.
// Each series gets its own permutations seeded from cfg.Seed and its
// position, and its floor in cfg.Policy unless cfg.Floor is set.
func Analyze(pts []Point, cfg Config) *Result {
	cfg = cfg.withDefaults()
	res := &Result{Points: pts, Config: cfg, MinHistory: MinHistory(cfg)}
	if len(pts) > 0 {
		res.Profile = pts[0].Run.Profile
	}
	for i, s := range Gating(pts, compare.Config{Policy: cfg.Policy}) {
		a := Analysis{Series: s, Plot: notReached(s.Values)}
		c := cfg
		c.Seed = cfg.Seed + uint64(i)
		if c.Floor == nil {
			c.Floor = FloorOf(s.Gate, cfg.Policy)
		}
		switch {
		case len(s.Values) < res.MinHistory:
			a.Note = fmt.Sprintf("%d runs, fewer than the %d needed", len(s.Values), res.MinHistory)
		default:
			for _, cp := range Detect(a.Plot, c) {
				ch := Change{ChangePoint: cp, Run: pts[s.Runs[cp.Index]], Prev: pts[s.Runs[cp.Index-1]]}
				switch s.Direction {
				case results.HigherIsBetter:
					ch.Worse = cp.After < cp.Before
				case results.LowerIsBetter:
					ch.Worse = cp.After > cp.Before
				}
				a.Changes = append(a.Changes, ch)
			}
		}
		res.Series = append(res.Series, a)
	}
	return res
}

// FloorOf returns the smallest step worth reporting on a gating figure:
// its floor in policy (compare.DefaultPolicy when nil), the same smallest
// change worth acting on as a pull request's gate.
func FloorOf(g compare.Gate, policy compare.Policy) func(before float64) float64 {
	if policy == nil {
		policy = compare.DefaultPolicy
	}
	return policy[cmp.Or(g.Policy, g.Key.Name)].Of
}

// notReached returns xs with +Inf ("not reached", worse than any value
// reached) replaced by a finite stand-in above every reached value: the
// largest reached value plus the range of the reached values (at least 1
// and at least that largest value), so that E-divisive's distances stay
// finite and a change between reached and not reached is a large step.
// A series of only +Inf becomes all zeros: there is nothing to find.
func notReached(xs []float64) []float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		if !math.IsInf(x, 0) {
			lo, hi = min(lo, x), max(hi, x)
		}
	}
	out := slices.Clone(xs)
	if math.IsInf(hi, -1) {
		for i := range out {
			out[i] = 0
		}
		return out
	}
	stand := hi + max(hi-lo, math.Abs(hi), 1)
	for i, x := range out {
		if math.IsInf(x, 0) {
			out[i] = stand
		}
	}
	return out
}
