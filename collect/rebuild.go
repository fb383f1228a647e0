package collect

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/mcchaos/mcchaos/internal/manifest"
)

// scenariod's metric names, as DESIGN.md fixes them.
const (
	mScenarioPhase = "scenario_phase"
	mFaultActive   = "fault_active"
	mFaultValue    = "fault_value"
)

// RebuildNote is the note a rebuilt manifest carries into the report.
const RebuildNote = "no manifest.json: phases rebuilt from scenario_phase at 1 s resolution, faults from fault_active and fault_value"

// Rebuild reconstructs a manifest from scenariod's metrics in [from, to]
// when manifest.json is missing: phases from scenario_phase (0 idle,
// 1 stabilization, 2 testing, 3 recovery) at 1 s resolution, faults from
// fault_active and fault_value. A scenario that did not reach recovery is
// marked interrupted.
func Rebuild(ctx context.Context, q Querier, runID, profile string, from, to time.Time) (*manifest.Manifest, error) {
	mat, err := rangeQuery(ctx, q, fmt.Sprintf("max by (scenario)(%s)", mScenarioPhase), from, to)
	if err != nil {
		return nil, err
	}
	m := &manifest.Manifest{SchemaVersion: manifest.SchemaVersion, RunID: runID, Profile: profile, Status: manifest.StatusPassed}
	for _, ss := range mat {
		s := manifest.Scenario{Name: string(ss.Metric["scenario"]), Status: manifest.StatusPassed}
		cur, curStart := 0, time.Time{}
		closePhase := func(at time.Time) {
			if cur >= 1 && cur <= 3 && len(s.Phases) == cur-1 {
				s.Phases = append(s.Phases, manifest.Phase{Name: manifest.Phases[cur-1], Start: curStart, End: at})
			}
		}
		for _, p := range ss.Values {
			v, at := int(math.Round(float64(p.Value))), p.Timestamp.Time().UTC()
			if v == cur {
				continue
			}
			closePhase(at)
			// A phase shorter than the 1 s step (the 100 ms fault of
			// latency-200ms-100ms) is never sampled: keep it, empty, at the
			// transition; collect evaluates it over its minimum window.
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

func rangeQuery(ctx context.Context, q Querier, expr string, from, to time.Time) (model.Matrix, error) {
	v, _, _, err := q.QueryRange(ctx, expr, v1.Range{Start: from, End: to, Step: time.Second})
	if err != nil {
		return nil, fmt.Errorf("%w: query_range %s: %v", ErrPrometheus, expr, err)
	}
	mat, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("%w: query_range %s: got %s, want a matrix", ErrPrometheus, expr, v.Type())
	}
	return mat, nil
}

// rebuildFaults reads the faults active during the testing phase. The
// fidelity follows from the injector and kind: netfilter drops per packet,
// toxiproxy loss is per connection, anything else is exact.
func rebuildFaults(ctx context.Context, q Querier, from, to time.Time) ([]manifest.Fault, error) {
	active, err := rangeQuery(ctx, q, fmt.Sprintf("max by (server, kind, injector)(%s) > 0", mFaultActive), from, to)
	if err != nil {
		return nil, err
	}
	values, err := rangeQuery(ctx, q, fmt.Sprintf("max by (server, kind, param)(%s)", mFaultValue), from, to)
	if err != nil {
		return nil, err
	}
	var faults []manifest.Fault
	for _, ss := range active {
		kind, inj, srv := string(ss.Metric["kind"]), string(ss.Metric["injector"]), string(ss.Metric["server"])
		i := slices.IndexFunc(faults, func(f manifest.Fault) bool { return f.Kind == kind && f.Injector == inj })
		if i < 0 {
			fid := manifest.FidelityExact
			switch {
			case inj == manifest.InjectorNetfilter:
				fid = manifest.FidelityPerPacket
			case inj == manifest.InjectorToxiproxy && kind == "packet_loss":
				fid = manifest.FidelityPerConnection
			}
			faults = append(faults, manifest.Fault{Kind: kind, Injector: inj, Fidelity: fid, Params: map[string]float64{}})
			i = len(faults) - 1
		}
		if !slices.Contains(faults[i].Targets, srv) {
			faults[i].Targets = append(faults[i].Targets, srv)
			sort.Strings(faults[i].Targets)
		}
		if len(ss.Values) > 0 {
			faults[i].Applied = ss.Values[0].Timestamp.Time().UTC()
			faults[i].Removed = ss.Values[len(ss.Values)-1].Timestamp.Time().UTC()
		}
	}
	for _, ss := range values {
		for i := range faults {
			if faults[i].Kind == string(ss.Metric["kind"]) && slices.Contains(faults[i].Targets, string(ss.Metric["server"])) && len(ss.Values) > 0 {
				faults[i].Params[string(ss.Metric["param"])] = float64(ss.Values[len(ss.Values)-1].Value)
			}
		}
	}
	return faults, nil
}
