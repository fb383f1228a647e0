// Package collect turns a run of mcchaos into numbers: it reads the run's
// manifest.json (which scenarios ran and the exact phase windows), asks
// Prometheus for the client's metrics over each window, and builds the
// results (collect/results) that are compared with a baseline
// (collect/compare) and reported (collect/report, collect/grafana).
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
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// Defaults of Config.
const (
	// DefaultMinWindow is the shortest window a phase is evaluated over: a
	// shorter phase (latency-200ms-100ms has a 100 ms testing phase) is
	// evaluated over [phase start, phase start + DefaultMinWindow], so that
	// it covers several scrapes and the effect of the fault.
	DefaultMinWindow = 5 * time.Second
	// DefaultLookback is the irate range of the per-second series; it must
	// hold at least two scrapes (Prometheus scrapes every second).
	DefaultLookback = 5 * time.Second
	// DefaultRecoverHold is how long the error ratio and throughput must
	// stay inside the stabilization band to count as recovered.
	DefaultRecoverHold = 5 * time.Second
	// MaxBlockSeconds caps the adaptive block length of the samples.
	MaxBlockSeconds = 5
	// MinBlocks is the number of blocks the adaptive block length aims for.
	MinBlocks = 6
)

// Querier is the part of the Prometheus HTTP API that collect uses.
// v1.API satisfies it; tests fake it.
type Querier interface {
	Query(ctx context.Context, query string, ts time.Time, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error)
	QueryRange(ctx context.Context, query string, r v1.Range, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error)
}

// Errors of collection, checked with errors.Is. All of them mean the run
// could not be collected (exit code 2).
var (
	// ErrPrometheus: Prometheus could not be queried.
	ErrPrometheus = errors.New("collect: prometheus")
	// ErrNoSamples: a phase has no samples at all.
	ErrNoSamples = errors.New("collect: no samples")
	// ErrManifest: the manifest has nothing to collect.
	ErrManifest = errors.New("collect: manifest")
)

// Config says how to collect. The zero value uses the documented defaults.
type Config struct {
	// MinWindow is the shortest evaluation window of a phase. If zero,
	// DefaultMinWindow.
	MinWindow time.Duration
	// Lookback is the irate range of the per-second series. If zero,
	// DefaultLookback.
	Lookback time.Duration
	// BlockSeconds is the block length of the samples. If zero, it adapts
	// to the window: window/MinBlocks seconds, between 1 and MaxBlockSeconds.
	BlockSeconds int
	// RecoverHold: see DefaultRecoverHold. If zero, DefaultRecoverHold.
	RecoverHold time.Duration
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
	if c.MinWindow == 0 {
		c.MinWindow = DefaultMinWindow
	}
	if c.Lookback == 0 {
		c.Lookback = DefaultLookback
	}
	if c.RecoverHold == 0 {
		c.RecoverHold = DefaultRecoverHold
	}
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
// its stabilization phase and returns the run's results. Scenarios cut short
// before that are skipped; if none is left, the error wraps ErrManifest. A
// phase without any sample is an error wrapping ErrNoSamples, never a figure.
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
	for i, s := range done {
		fmt.Fprintf(cfg.Progress, "collect: scenario %d/%d %s\n", i+1, len(done), s.Name)
		rs, err := c.scenario(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		run.Scenarios = append(run.Scenarios, *rs)
	}
	if err := c.info(ctx, run, done); err != nil {
		return nil, err
	}
	// Integrity over the whole run, between scenarios too: any violation
	// fails the run, wherever it falls.
	first, last := done[0].Phases[0].Start, run.Scenarios[len(run.Scenarios)-1].Phases
	end := last[len(last)-1].WindowEnd
	iv, _, err := c.scalar(ctx, countDelta(mIntegrity, "", end.Sub(first)+c.cfg.Lookback), end)
	if err != nil {
		return nil, err
	}
	run.IntegrityViolations = math.Round(iv)
	return run, nil
}

type collector struct {
	q   Querier
	cfg Config
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

func (c *collector) scenario(ctx context.Context, s manifest.Scenario) (*results.Scenario, error) {
	rs := &results.Scenario{
		Name:        s.Name,
		Description: s.Description,
		Status:      s.Status,
		Fidelity:    Fidelity(s.Faults),
		Faults:      s.Faults,
	}
	var wins []window
	for _, p := range s.Phases {
		if p.End.IsZero() {
			rs.Notes = append(rs.Notes, fmt.Sprintf("phase %s did not finish (run cut short): not collected", p.Name))
			continue
		}
		w := window{p.Start, p.End}
		extended := false
		if w.dur() < c.cfg.MinWindow {
			w.end = w.start.Add(c.cfg.MinWindow)
			extended = true
			rs.Notes = append(rs.Notes, fmt.Sprintf("phase %s lasted %s, shorter than the minimum window: evaluated over its first %s (from the phase start)",
				p.Name, p.End.Sub(p.Start).Round(time.Millisecond), c.cfg.MinWindow))
		}
		wins = append(wins, w)
		rs.Phases = append(rs.Phases, results.Phase{
			Name: p.Name, Start: p.Start, End: p.End,
			WindowStart: w.start, WindowEnd: w.end, Extended: extended,
			BlockSeconds: c.blockSeconds(w.dur()),
		})
	}
	span := window{wins[0].start.Truncate(time.Second), wins[0].end}
	for _, w := range wins {
		if w.end.After(span.end) {
			span.end = w.end
		}
	}
	span.end = span.end.Add(time.Second).Truncate(time.Second)

	for _, sp := range specs() {
		series, err := c.series(ctx, sp, span)
		if err != nil {
			return nil, err
		}
		for i := range rs.Phases {
			ms, err := c.phaseMetrics(ctx, sp, wins[i], rs.Phases[i].BlockSeconds, series)
			if err != nil {
				return nil, fmt.Errorf("phase %s: %w", rs.Phases[i].Name, err)
			}
			if sp.name == "throughput" && (len(ms) == 0 || len(ms[0].Samples) == 0) {
				return nil, fmt.Errorf("%w: phase %s [%s, %s]: Prometheus has no %s samples in the window; was loadgen running and scraped (up{job=\"loadgen\"}), and is the data still retained?",
					ErrNoSamples, rs.Phases[i].Name, wins[i].start.Format(time.RFC3339), wins[i].end.Format(time.RFC3339), mOps)
			}
			rs.Phases[i].Metrics = append(rs.Phases[i].Metrics, ms...)
		}
	}
	for _, sp := range chartSpecs() {
		series, err := c.series(ctx, sp, span)
		if err != nil {
			return nil, err
		}
		rs.Series = append(rs.Series, toSeries(sp, span, series[""]))
	}
	figs, err := c.resilience(ctx, s, rs, wins)
	if err != nil {
		return nil, err
	}
	rs.Resilience = figs
	return rs, nil
}

// blockSeconds is the block length for a window of length d.
func (c *collector) blockSeconds(d time.Duration) int {
	if c.cfg.BlockSeconds > 0 {
		return c.cfg.BlockSeconds
	}
	b := int(math.Round(d.Seconds())) / MinBlocks
	return max(1, min(b, MaxBlockSeconds))
}

// series runs the range query of sp over span and returns the points by
// label value of sp.by ("" for a single series).
func (c *collector) series(ctx context.Context, sp spec, span window) (map[string][]point, error) {
	q := sp.seriesQuery(c.cfg.Lookback)
	v, _, _, err := c.q.QueryRange(ctx, q, v1.Range{Start: span.start, End: span.end, Step: time.Second})
	if err != nil {
		return nil, fmt.Errorf("%w: query_range %s: %v", ErrPrometheus, q, err)
	}
	mat, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("%w: query_range %s: got %s, want a matrix", ErrPrometheus, q, v.Type())
	}
	out := map[string][]point{}
	for _, ss := range mat {
		key := string(ss.Metric[model.LabelName(sp.by)])
		for _, p := range ss.Values {
			out[key] = append(out[key], point{p.Timestamp.Time(), float64(p.Value)})
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

// scalar runs an instant query expected to give at most one value; ok is
// false when it gives none or NaN.
func (c *collector) scalar(ctx context.Context, q string, ts time.Time) (float64, bool, error) {
	vec, err := c.instant(ctx, q, ts)
	if err != nil || len(vec) == 0 {
		return 0, false, err
	}
	v := float64(vec[0].Value)
	return v, !math.IsNaN(v) && !math.IsInf(v, 0), nil
}

// phaseMetrics computes the metrics of sp over w: the value from one
// instant query over the whole window, the samples from the per-second
// series.
func (c *collector) phaseMetrics(ctx context.Context, sp spec, w window, block int, series map[string][]point) ([]results.Metric, error) {
	vec, err := c.instant(ctx, sp.windowQuery(w.dur()), w.end)
	if err != nil {
		return nil, err
	}
	var out []results.Metric
	seen := map[string]bool{}
	for _, s := range vec {
		v := float64(s.Value)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue // undefined: no operations of this kind in the window
		}
		key := string(s.Metric[model.LabelName(sp.by)])
		if sp.by != "" && key == "" {
			continue
		}
		seen[key] = true
		if sp.count {
			v = math.Round(v)
		}
		out = append(out, c.metric(sp, key, v, results.BlockMeans(inWindow(series[key], w), block)))
	}
	if len(out) > 0 || sp.by == "" {
		n := 0
		if len(out) > 0 {
			n = len(out[0].Samples)
		}
		for _, f := range sp.fill {
			if !seen[f] {
				out = append(out, c.metric(sp, f, 0, make(results.Values, n)))
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out, nil
}

func (c *collector) metric(sp spec, key string, v float64, samples results.Values) results.Metric {
	m := results.Metric{Name: sp.name, Unit: sp.unit, Direction: sp.dir, Value: v, Samples: samples}
	switch {
	case sp.by != "":
		m.Labels = map[string]string{sp.by: key}
	case sp.labels != nil:
		m.Labels = sp.labels
	}
	return m
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

func toSeries(sp spec, span window, pts []point) results.Series {
	n := int(span.dur() / time.Second)
	vals := make(results.Values, n+1)
	for i := range vals {
		vals[i] = math.NaN()
	}
	for _, p := range pts {
		i := int(p.t.Sub(span.start).Round(time.Second) / time.Second)
		if i >= 0 && i < len(vals) {
			vals[i] = p.v
		}
	}
	return results.Series{Name: sp.name, Unit: sp.unit, Start: span.start.UTC(), StepS: 1, Values: vals}
}

// info fills the client metadata from loadgen_info.
func (c *collector) info(ctx context.Context, run *results.Run, done []manifest.Scenario) error {
	last := done[len(done)-1].Phases
	end := last[len(last)-1].End
	if end.IsZero() {
		end = last[len(last)-1].Start
	}
	r := end.Sub(done[0].Phases[0].Start) + time.Minute
	vec, err := c.instant(ctx, fmt.Sprintf("last_over_time(%s[%s])", mInfo, promDuration(r)), end)
	if err != nil {
		return err
	}
	if len(vec) == 0 {
		run.Client = "unknown (no loadgen_info)"
		return nil
	}
	l := vec[0].Metric
	run.Client, run.ClientVersion = string(l["client"]), string(l["client_version"])
	run.Workload, run.Mode = string(l["workload"]), string(l["mode"])
	return nil
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
