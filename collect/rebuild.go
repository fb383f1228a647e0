package collect

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/common/model"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// scenariod's metric names, as DESIGN.md fixes them.
const (
	mScenarioPhase = "scenario_phase"
	mFaultActive   = "fault_active"
	mFaultValue    = "fault_value"
)

// RebuildNote is the note a rebuilt manifest carries into the report.
const RebuildNote = "no manifest.json: phases rebuilt from the raw scrapes of scenario_phase (boundaries within about ±0.5 s, so time to detect is only as good), faults from fault_active and fault_value"

// Rebuild reconstructs a manifest from scenariod's metrics in [from, to]
// when manifest.json is missing: phases from the raw scrapes of
// scenario_phase (0 idle, 1 stabilization, 2 testing, 3 recovery), each
// boundary placed halfway between the last scrape before the change and the
// first after it; faults from fault_active and fault_value likewise. A
// scenario that did not reach the end of recovery is marked interrupted.
func Rebuild(ctx context.Context, q Querier, runID, profile string, from, to time.Time) (*manifest.Manifest, error) {
	mat, err := raw(ctx, q, mScenarioPhase, from, to)
	if err != nil {
		return nil, err
	}
	m := &manifest.Manifest{SchemaVersion: manifest.SchemaVersion, RunID: runID, Profile: profile, Status: manifest.StatusPassed}
	seen := map[string]bool{}
	for _, ss := range mat {
		name := string(ss.Metric["scenario"])
		if seen[name] {
			continue // the same scenario from another target
		}
		seen[name] = true
		s := manifest.Scenario{Name: name, Status: manifest.StatusPassed}
		cur, curStart := 0, time.Time{}
		for i, p := range ss.Values {
			v := int(math.Round(float64(p.Value)))
			if v == cur {
				continue
			}
			at := p.Timestamp.Time().UTC()
			if i > 0 {
				at = mid(ss.Values[i-1].Timestamp.Time(), at)
			}
			if cur >= 1 && cur <= 3 && len(s.Phases) == cur-1 {
				s.Phases = append(s.Phases, manifest.Phase{Name: manifest.Phases[cur-1], Start: curStart, End: at})
			}
			// A phase shorter than a scrape interval (the 100 ms fault of
			// latency-200ms-100ms) may never be scraped: keep it, empty, at
			// the transition; collect evaluates it over its minimum window.
			for v >= 2 && v <= 3 && len(s.Phases) > 0 && len(s.Phases) < v-1 {
				s.Phases = append(s.Phases, manifest.Phase{Name: manifest.Phases[len(s.Phases)], Start: at, End: at})
			}
			cur, curStart = v, at
		}
		if cur >= 1 && cur <= 3 && len(s.Phases) == cur-1 {
			s.Phases = append(s.Phases, manifest.Phase{Name: manifest.Phases[cur-1], Start: curStart})
		}
		if len(s.Phases) == 0 {
			continue
		}
		if len(s.Phases) < 3 || s.Phases[2].End.IsZero() {
			s.Status = manifest.StatusInterrupted
			m.Status = manifest.StatusInterrupted
		}
		if len(s.Phases) >= 2 && !s.Phases[1].End.IsZero() {
			if s.Faults, err = rebuildFaults(ctx, q, s.Phases[1].Start, s.Phases[1].End); err != nil {
				return nil, err
			}
		}
		m.Scenarios = append(m.Scenarios, s)
	}
	if len(m.Scenarios) == 0 {
		return nil, fmt.Errorf("%w: no manifest.json, and Prometheus has no %s between %s and %s to rebuild it from (was scenariod scraped? widen -since)",
			ErrManifest, mScenarioPhase, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	sort.SliceStable(m.Scenarios, func(i, j int) bool { return m.Scenarios[i].Phases[0].Start.Before(m.Scenarios[j].Phases[0].Start) })
	m.Start = m.Scenarios[0].Phases[0].Start
	last := m.Scenarios[len(m.Scenarios)-1].Phases
	m.End = last[len(last)-1].End
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%w: rebuilt manifest: %v", ErrManifest, err)
	}
	return m, nil
}

func mid(a, b time.Time) time.Time { return a.Add(b.Sub(a) / 2).UTC() }

// raw returns the raw scrapes of sel in [from, to] (a range selector in an
// instant query), with their own timestamps.
func raw(ctx context.Context, q Querier, sel string, from, to time.Time) (model.Matrix, error) {
	expr := fmt.Sprintf("%s[%s]", sel, promDuration(to.Sub(from)))
	v, _, _, err := q.Query(ctx, expr, to)
	if err != nil {
		return nil, fmt.Errorf("%w: query %s: %v", ErrPrometheus, expr, err)
	}
	mat, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("%w: query %s: got %s, want a matrix", ErrPrometheus, expr, v.Type())
	}
	sort.SliceStable(mat, func(i, j int) bool { return mat[i].Metric.Before(mat[j].Metric) })
	return mat, nil
}

// rebuildFaults reads the faults active around the testing phase. The
// fidelity follows from the injector and kind: netfilter drops per packet,
// toxiproxy loss is per connection, anything else is exact.
func rebuildFaults(ctx context.Context, q Querier, from, to time.Time) ([]manifest.Fault, error) {
	// Look a little beyond the phase: the fault is applied just after the
	// phase starts and removed just before it ends, between two scrapes.
	from, to = from.Add(-2*time.Second), to.Add(2*time.Second)
	active, err := raw(ctx, q, mFaultActive, from, to)
	if err != nil {
		return nil, err
	}
	values, err := raw(ctx, q, mFaultValue, from, to)
	if err != nil {
		return nil, err
	}
	var faults []manifest.Fault
	for _, ss := range active {
		kind, inj, srv := string(ss.Metric["kind"]), string(ss.Metric["injector"]), string(ss.Metric["server"])
		var on []int
		for i, p := range ss.Values {
			if p.Value > 0 {
				on = append(on, i)
			}
		}
		if len(on) == 0 {
			continue
		}
		i := slices.IndexFunc(faults, func(f manifest.Fault) bool { return f.Kind == fault.Kind(kind) && f.Injector == inj })
		if i < 0 {
			fid := manifest.FidelityExact
			switch {
			case inj == manifest.InjectorNetfilter:
				fid = manifest.FidelityPerPacket
			case inj == manifest.InjectorToxiproxy && kind == "packet_loss":
				fid = manifest.FidelityPerConnection
			}
			p, err := fault.New(fault.Kind(kind))
			if err != nil {
				return nil, fmt.Errorf("%w: series %s: %v", ErrPrometheus, mFaultActive, err)
			}
			faults = append(faults, manifest.Fault{Fault: fault.Fault{Kind: p.Kind(), Params: p}, Made: manifest.Made{Injector: inj, Fidelity: fid}})
			i = len(faults) - 1
		}
		if !slices.Contains(faults[i].Targets, srv) {
			faults[i].Targets = append(faults[i].Targets, srv)
			sort.Strings(faults[i].Targets)
		}
		first, last := on[0], on[len(on)-1]
		applied := ss.Values[first].Timestamp.Time().UTC()
		if first > 0 {
			applied = mid(ss.Values[first-1].Timestamp.Time(), applied)
		}
		removed := ss.Values[last].Timestamp.Time().UTC()
		if last+1 < len(ss.Values) {
			removed = mid(removed, ss.Values[last+1].Timestamp.Time())
		}
		if faults[i].Applied.IsZero() || applied.Before(faults[i].Applied) {
			faults[i].Applied = applied
		}
		if removed.After(faults[i].Removed) {
			faults[i].Removed = removed
		}
	}
	for _, ss := range values {
		for i := range faults {
			if faults[i].Kind != fault.Kind(ss.Metric["kind"]) || !slices.Contains(faults[i].Targets, string(ss.Metric["server"])) {
				continue
			}
			v := 0.0
			for _, p := range ss.Values { // the value while on: the largest seen
				v = max(v, float64(p.Value))
			}
			if err := fault.Set(faults[i].Params, string(ss.Metric["param"]), v); err != nil {
				return nil, fmt.Errorf("%w: series %s: %v", ErrPrometheus, mFaultValue, err)
			}
		}
	}
	return faults, nil
}
