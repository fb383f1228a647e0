// Package collect turns a run of mcchaos into numbers: it reads the run's
// manifest.json (which scenarios ran, the exact phase windows, the sides
// and their arms), asks Prometheus for the client's metrics over each
// window, one query per figure grouped by side and arm, and builds the
// results (collect/results) that are compared (collect/compare) and
// reported (collect/report, collect/grafana).
//
// collect knows loadgen and scenariod only through the metric names of
// DESIGN.md and the manifest; it never imports them.
package collect

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// Defaults of Config.
const (
	// DefaultMinWindow is the shortest phase evaluated as a phase: rates
	// need several scrapes. A shorter testing phase (the 100 ms and 1 s
	// faults) has no phase figures; its fault is measured by the event
	// figures instead, over [fault start, fault start + DefaultEventWindow].
	DefaultMinWindow = 5 * time.Second
	// DefaultEventWindow is how long after a short fault's start its event
	// figures look (failed operations, peak p99), cut at the scenario's end.
	DefaultEventWindow = 5 * time.Second
	// DefaultLookback is the irate range of the per-second series: irate
	// uses the last two scrapes inside it, so a point covers one scrape
	// interval (Prometheus scrapes every second), never more.
	DefaultLookback = 3 * time.Second
	// DefaultRecoverHold is how long the error ratio and throughput must
	// stay inside the stabilization band to count as recovered.
	DefaultRecoverHold = 5 * time.Second
	// DefaultLeakTail is the end of the recovery phase over which
	// goroutines and open connections are averaged and set against
	// stabilization's (goroutine_growth, connection_growth).
	DefaultLeakTail = 5 * time.Second
)

// Querier is the part of the Prometheus HTTP API that collect uses.
// v1.API satisfies it; tests fake it.
type Querier interface {
	Query(ctx context.Context, query string, ts time.Time, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error)
	QueryRange(ctx context.Context, query string, r v1.Range, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error)
}

// Errors of collection, checked with errors.Is. All of them mean the run
// could not be collected, or not completely (exit code 2).
var (
	// ErrPrometheus: Prometheus could not be queried.
	ErrPrometheus = errors.New("collect: prometheus")
	// ErrNoSamples: a scenario has no samples at all.
	ErrNoSamples = errors.New("collect: no samples")
	// ErrManifest: the manifest has nothing to collect.
	ErrManifest = errors.New("collect: manifest")
)

// MissingError lists the scenarios of a run that have no data at all.
// Collect still returns the results of the others with it.
type MissingError struct {
	RunID     string
	Scenarios []string
	Reason    string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("run %s: no data for %d scenario(s): %s (%s)", e.RunID, len(e.Scenarios), strings.Join(e.Scenarios, ", "), e.Reason)
}

// Unwrap makes a MissingError match ErrNoSamples.
func (e *MissingError) Unwrap() error { return ErrNoSamples }

// Config says how to collect. The zero value uses the documented defaults.
type Config struct {
	// MinWindow: see DefaultMinWindow. If zero, DefaultMinWindow.
	MinWindow time.Duration
	// EventWindow: see DefaultEventWindow. If zero, DefaultEventWindow.
	EventWindow time.Duration
	// Lookback is the irate range of the per-second series. If zero,
	// DefaultLookback.
	Lookback time.Duration
	// RecoverHold: see DefaultRecoverHold. If zero, DefaultRecoverHold.
	RecoverHold time.Duration
	// LeakTail: see DefaultLeakTail. If zero, DefaultLeakTail.
	LeakTail time.Duration
	// GitCommit, Stack fill the run metadata. If Stack is empty, the
	// manifest's stack is used.
	GitCommit, Stack string
	// Host describes the machine. If nil, the current one.
	Host *results.Host
	// Now gives the collection time. If nil, time.Now.
	Now func() time.Time
	// Progress receives one line per scenario. If nil, nothing is printed.
	Progress io.Writer
}

func (c Config) withDefaults() Config {
	c.MinWindow = cmp.Or(c.MinWindow, DefaultMinWindow)
	c.EventWindow = cmp.Or(c.EventWindow, DefaultEventWindow)
	c.Lookback = cmp.Or(c.Lookback, DefaultLookback)
	c.RecoverHold = cmp.Or(c.RecoverHold, DefaultRecoverHold)
	c.LeakTail = cmp.Or(c.LeakTail, DefaultLeakTail)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Host == nil {
		c.Host = &results.Host{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// Collect queries Prometheus for every scenario of m that finished at least
// its stabilization phase and returns the run's results, one value per arm
// of each side. Scenarios cut short before that are skipped; if none is
// left, the error wraps ErrManifest. A scenario without any data is left
// out and named in a *MissingError returned with the results of the others;
// a missing value is NaN ("no data") with a note, never an error.
func Collect(ctx context.Context, q Querier, m *manifest.Manifest, cfg Config) (*results.Run, error) {
	cfg = cfg.withDefaults()
	c := &collector{q: q, cfg: cfg}
	if _, err := c.instant(ctx, "vector(1)", cfg.Now()); err != nil {
		return nil, err
	}
	run := &results.Run{
		RunID:       m.RunID,
		GitCommit:   cfg.GitCommit,
		Profile:     m.Profile,
		Stack:       cmp.Or(cfg.Stack, m.Stack),
		Host:        *cfg.Host,
		Start:       m.Start,
		End:         m.End,
		CollectedAt: cfg.Now().UTC(),
		Status:      m.Status,
		Shard:       m.Shard,
	}
	var done []manifest.Scenario
	for _, s := range m.Scenarios {
		if len(s.Phases) > 0 && !s.Phases[0].End.IsZero() {
			done = append(done, s)
		}
	}
	if len(done) == 0 {
		return nil, fmt.Errorf("%w: run %s has no scenario with a finished phase", ErrManifest, m.RunID)
	}
	first, lastPh := done[0].Phases[0].Start, done[len(done)-1].Phases
	end := cmp.Or(lastPh[len(lastPh)-1].End, lastPh[len(lastPh)-1].Start)
	if err := c.sides(ctx, m, run, first, end); err != nil {
		return nil, err
	}
	c.layout = run.Sides
	var missing []string
	for i, s := range done {
		fmt.Fprintf(cfg.Progress, "collect: scenario %d/%d %s\n", i+1, len(done), s.Name)
		rs, err := c.scenario(ctx, s)
		if errors.Is(err, ErrNoSamples) {
			missing = append(missing, s.Name)
			fmt.Fprintf(cfg.Progress, "collect: %s: %v\n", s.Name, err)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		run.Scenarios = append(run.Scenarios, *rs)
	}
	// Integrity over the whole run, between scenarios too: any violation
	// fails the run, wherever it falls.
	iv, err := c.perArm(ctx, countDelta(mIntegrity, "", end.Sub(first)+c.cfg.Lookback), end, "", true)
	if err != nil {
		return nil, err
	}
	run.IntegrityViolations = iv[""]
	if len(missing) > 0 {
		e := &MissingError{RunID: m.RunID, Scenarios: missing,
			Reason: fmt.Sprintf("Prometheus has no %s samples in their windows; was loadgen running and scraped (up{job=\"loadgen\"}), and is the data still retained?", mOps)}
		if len(run.Scenarios) == 0 {
			return nil, e
		}
		return run, e
	}
	return run, nil
}

type collector struct {
	q      Querier
	cfg    Config
	layout []results.Side
}

// point is one value of a per-second series.
type point struct {
	t time.Time
	v float64
}

// window is an evaluation window.
type window struct{ start, end time.Time }

func (w window) dur() time.Duration { return w.end.Sub(w.start) }

func (w window) contains(t time.Time) bool { return t.After(w.start) && !t.After(w.end) }

// armID is one arm of one side.
type armID struct {
	side string
	arm  int
}

func (a armID) String() string { return fmt.Sprintf("%s arm %d", a.side, a.arm) }

// armOf reads the side and arm labels of a series; a series without them
// (a run before arms) is head arm 1.
func armOf(m model.Metric) (armID, bool) {
	side := cmp.Or(string(m[lSide]), results.SideHead)
	n, err := strconv.Atoi(cmp.Or(string(m[lArm]), "1"))
	return armID{side, n}, err == nil && n >= 1
}

// arms lists every arm of the run, head first.
func (c *collector) arms() []armID {
	var out []armID
	for _, s := range c.layout {
		for i := 1; i <= s.Arms; i++ {
			out = append(out, armID{s.Name, i})
		}
	}
	return out
}

// blank returns per side a slice of NaN, one per arm.
func (c *collector) blank() map[string]results.Values {
	out := map[string]results.Values{}
	for _, s := range c.layout {
		v := make(results.Values, s.Arms)
		for i := range v {
			v[i] = math.NaN()
		}
		out[s.Name] = v
	}
	return out
}

// set stores v for arm a in vals when the run has that arm.
func set(vals map[string]results.Values, a armID, v float64) bool {
	vs, ok := vals[a.side]
	if !ok || a.arm > len(vs) {
		return false
	}
	vs[a.arm-1] = v
	return true
}

// sides fills the run's sides from the manifest (or, for a manifest without
// them, from loadgen_info) and each side's client from loadgen_info.
func (c *collector) sides(ctx context.Context, m *manifest.Manifest, run *results.Run, first, end time.Time) error {
	r := end.Sub(first) + time.Minute
	vec, err := c.instant(ctx, fmt.Sprintf("last_over_time(%s[%s])", mInfo, promDuration(r)), end)
	if err != nil {
		return err
	}
	for _, s := range m.Sides {
		run.Sides = append(run.Sides, results.Side{Name: s.Name, Arms: s.Arms, Client: s.Client, Ref: s.Ref, Commit: s.Commit, Args: s.Args})
	}
	if len(run.Sides) == 0 {
		seen := map[string]int{}
		for _, s := range vec {
			if a, ok := armOf(s.Metric); ok {
				seen[a.side] = max(seen[a.side], a.arm)
			}
		}
		for _, name := range []string{results.SideHead, results.SideBase} {
			if seen[name] > 0 {
				run.Sides = append(run.Sides, results.Side{Name: name, Arms: seen[name]})
			}
		}
		if len(run.Sides) == 0 {
			run.Sides = []results.Side{{Name: results.SideHead, Arms: 1}}
		}
	}
	sort.SliceStable(run.Sides, func(i, j int) bool {
		return run.Sides[i].Name == results.SideHead && run.Sides[j].Name != results.SideHead
	})
	// loadgen_info names the client as the process saw it; the manifest's
	// client (the -client flag) is the fallback.
	for i := range run.Sides {
		sd := &run.Sides[i]
		for _, s := range vec {
			if a, ok := armOf(s.Metric); ok && a.side == sd.Name {
				sd.Client = cmp.Or(string(s.Metric["client"]), sd.Client)
				sd.ClientVersion = cmp.Or(string(s.Metric["client_version"]), sd.ClientVersion)
				run.Workload = cmp.Or(run.Workload, string(s.Metric["workload"]))
				run.Mode = cmp.Or(run.Mode, string(s.Metric["mode"]))
			}
		}
	}
	head, _ := run.Side(results.SideHead)
	run.Client, run.ClientVersion = cmp.Or(head.Client, "unknown (no loadgen_info)"), head.ClientVersion
	return nil
}

func (c *collector) scenario(ctx context.Context, s manifest.Scenario) (*results.Scenario, error) {
	rs := &results.Scenario{
		Name:        s.Name,
		Description: s.Description,
		Status:      s.Status,
		Efficacy:    s.Efficacy,
		Error:       s.Error,
		Fidelity:    Fidelity(s.Faults),
		Expect:      s.Expect,
		ExpectWhy:   s.ExpectWhy,
		Faults:      s.Faults,
	}
	var wins []window
	for _, p := range s.Phases {
		if p.End.IsZero() {
			rs.Notes = append(rs.Notes, fmt.Sprintf("phase %s did not finish (run cut short): not collected", p.Name))
			continue
		}
		wins = append(wins, window{p.Start, p.End})
		rs.Phases = append(rs.Phases, results.Phase{Name: p.Name, Start: p.Start, End: p.End, WindowStart: p.Start, WindowEnd: p.End, Metrics: []results.Metric{}})
	}
	span := window{wins[0].start.Truncate(time.Second), wins[len(wins)-1].end.Add(time.Second).Truncate(time.Second)}

	// Which arms ran: an arm without throughput in a phase has no data
	// there, and says so.
	alive := make([]map[armID]bool, len(wins))
	anyData := false
	for i, w := range wins {
		// A phase shorter than MinWindow gets no phase figures, but its
		// operations still show that the arms ran (the fault event figures
		// measure it); two scrapes are the least a rate needs.
		vals, err := c.perArm(ctx, specs()[0].windowQuery(max(w.dur(), 2*time.Second)), w.end, "", false)
		if err != nil {
			return nil, err
		}
		alive[i] = map[armID]bool{}
		for _, a := range c.arms() {
			if v := vals[""][a.side]; a.arm <= len(v) && !math.IsNaN(v[a.arm-1]) {
				alive[i][a] = true
				anyData = true
			}
		}
	}
	if !anyData {
		return nil, fmt.Errorf("%w: scenario %s [%s, %s]: no arm has %s samples", ErrNoSamples, s.Name,
			span.start.Format(time.RFC3339), span.end.Format(time.RFC3339), mOps)
	}
	for i := range rs.Phases {
		ph := &rs.Phases[i]
		w := wins[i]
		if w.dur() < c.cfg.MinWindow {
			note := fmt.Sprintf("phase lasted %s, shorter than the %s minimum window: no phase figures (rates need several scrapes); the fault event figures measure it",
				w.dur().Round(time.Millisecond), c.cfg.MinWindow)
			rs.Notes = append(rs.Notes, "phase "+ph.Name+": "+note)
			continue
		}
		var dead []string
		for _, a := range c.arms() {
			if !alive[i][a] {
				dead = append(dead, a.String())
			}
		}
		for _, sp := range specs() {
			ms, err := c.phaseMetrics(ctx, sp, w, alive[i])
			if err != nil {
				return nil, fmt.Errorf("phase %s: %w", ph.Name, err)
			}
			if len(dead) > 0 {
				for j := range ms {
					ms[j].Notes = append(ms[j].Notes, "no data from "+strings.Join(dead, ", ")+" (no operations in the window: was its loadgen running?)")
				}
			}
			ph.Metrics = append(ph.Metrics, ms...)
		}
	}
	for _, sp := range chartSpecs() {
		series, err := c.series(ctx, sp, span)
		if err != nil {
			return nil, err
		}
		rs.Series = append(rs.Series, c.toSeries(sp, span, series))
	}
	if err := c.event(ctx, s, rs); err != nil {
		return nil, err
	}
	figs, err := c.resilience(ctx, s, rs, wins)
	if err != nil {
		return nil, err
	}
	rs.Resilience = figs
	return rs, nil
}

// series runs the range query of sp over span and returns the points per
// arm ("" key: sp has no by).
func (c *collector) series(ctx context.Context, sp spec, span window) (map[armID][]point, error) {
	q := sp.seriesQuery(c.cfg.Lookback)
	v, _, _, err := c.q.QueryRange(ctx, q, v1.Range{Start: span.start, End: span.end, Step: time.Second})
	if err != nil {
		return nil, fmt.Errorf("%w: query_range %s: %v", ErrPrometheus, q, err)
	}
	mat, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("%w: query_range %s: got %s, want a matrix", ErrPrometheus, q, v.Type())
	}
	out := map[armID][]point{}
	for _, ss := range mat {
		a, ok := armOf(ss.Metric)
		if !ok {
			continue
		}
		for _, p := range ss.Values {
			out[a] = append(out[a], point{p.Timestamp.Time(), float64(p.Value)})
		}
	}
	return out, nil
}

// instant runs an instant query and returns its vector.
func (c *collector) instant(ctx context.Context, q string, ts time.Time) (model.Vector, error) {
	v, _, _, err := c.q.Query(ctx, q, ts)
	if err != nil {
		return nil, fmt.Errorf("%w: query %s: %v", ErrPrometheus, q, err)
	}
	switch v := v.(type) {
	case model.Vector:
		return v, nil
	case *model.Scalar:
		return model.Vector{{Value: v.Value, Timestamp: v.Timestamp}}, nil
	}
	return nil, fmt.Errorf("%w: query %s: got %s, want a vector", ErrPrometheus, q, v.Type())
}

// perArm runs an instant query grouped by side, arm and by, and returns
// the values by label value of by ("" for none), per side, one per arm;
// NaN where the query gave nothing. zero fills every arm with 0 first (a
// count with no series is 0).
func (c *collector) perArm(ctx context.Context, q string, ts time.Time, by string, zero bool) (map[string]map[string]results.Values, error) {
	vec, err := c.instant(ctx, q, ts)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]results.Values{}
	get := func(key string) map[string]results.Values {
		if out[key] == nil {
			out[key] = c.blank()
			if zero {
				for _, vs := range out[key] {
					for i := range vs {
						vs[i] = 0
					}
				}
			}
		}
		return out[key]
	}
	if by == "" {
		get("")
	}
	for _, s := range vec {
		a, ok := armOf(s.Metric)
		if !ok {
			continue
		}
		key := string(s.Metric[model.LabelName(by)])
		if by != "" && key == "" {
			continue
		}
		v := float64(s.Value)
		if math.IsInf(v, 0) {
			v = math.NaN()
		}
		set(get(key), a, v)
	}
	return out, nil
}

// phaseMetrics computes the metrics of sp over w, one value per arm.
func (c *collector) phaseMetrics(ctx context.Context, sp spec, w window, alive map[armID]bool) ([]results.Metric, error) {
	vals, err := c.perArm(ctx, sp.windowQuery(w.dur()), w.end, sp.by, false)
	if err != nil {
		return nil, err
	}
	if sp.count || sp.state {
		// A count or a state with no series on an arm that ran is 0.
		for _, byKey := range vals {
			for side, vs := range byKey {
				for i := range vs {
					if math.IsNaN(vs[i]) && alive[armID{side, i + 1}] {
						vs[i] = 0
					}
				}
			}
		}
	}
	for _, f := range sp.fill {
		if _, ok := vals[f]; !ok {
			vals[f] = c.blank()
		}
		for side, vs := range vals[f] {
			for i := range vs {
				if math.IsNaN(vs[i]) && alive[armID{side, i + 1}] {
					vs[i] = 0
				}
			}
		}
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []results.Metric
	for _, key := range keys {
		byKey := vals[key]
		if sp.count {
			for _, vs := range byKey {
				for i := range vs {
					vs[i] = math.Round(vs[i])
				}
			}
		}
		m := results.Metric{Name: sp.name, Unit: sp.unit, Direction: sp.dir, Arms: byKey}
		switch {
		case sp.by != "":
			m.Labels = map[string]string{sp.by: key}
		case sp.labels != nil:
			m.Labels = sp.labels
		}
		out = append(out, m)
	}
	return out, nil
}

// inWindow returns the defined values of pts inside w.
func inWindow(pts []point, w window) []float64 {
	var out []float64
	for _, p := range pts {
		if w.contains(p.t) && !math.IsNaN(p.v) && !math.IsInf(p.v, 0) {
			out = append(out, p.v)
		}
	}
	return out
}

func (c *collector) toSeries(sp spec, span window, pts map[armID][]point) results.Series {
	n := int(span.dur()/time.Second) + 1
	s := results.Series{Name: sp.name, Unit: sp.unit, Start: span.start.UTC(), StepS: 1, Arms: map[string][]results.Values{}}
	for _, sd := range c.layout {
		for arm := 1; arm <= sd.Arms; arm++ {
			vals := make(results.Values, n)
			for i := range vals {
				vals[i] = math.NaN()
			}
			for _, p := range pts[armID{sd.Name, arm}] {
				i := int(p.t.Sub(span.start).Round(time.Second) / time.Second)
				if i >= 0 && i < n && !math.IsInf(p.v, 0) {
					vals[i] = p.v
				}
			}
			s.Arms[sd.Name] = append(s.Arms[sd.Name], vals)
		}
	}
	return s
}

// Fidelity summarises the fidelity of a scenario's faults: the distinct
// fidelities joined with "+", or "none" without faults.
func Fidelity(faults []manifest.Fault) string {
	var fs []string
	for _, f := range faults {
		if f.Fidelity != "" && !slices.Contains(fs, f.Fidelity) {
			fs = append(fs, f.Fidelity)
		}
	}
	if len(fs) == 0 {
		return "none"
	}
	sort.Strings(fs)
	return strings.Join(fs, "+")
}
