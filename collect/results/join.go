package results

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/internal/manifest"
)

// JoinShards joins the results of a run's shards (bench -shard i/n, one
// file each) into one file, as if one machine had run every scenario: run
// j of the result joins run j of every shard (Join). It checks first that
// the files are every shard of one selection exactly once, of one profile,
// with the same sides (clients, refs, commits, arms) and as many runs each;
// what is wrong is named in an error wrapping ErrInvalid. The scenarios
// come in the selection's order.
func JoinShards(files ...*File) (*File, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: no shard to join", ErrInvalid)
	}
	for _, f := range files {
		if err := f.Validate(); err != nil {
			return nil, err
		}
		for _, r := range f.Runs {
			if r.Shard == nil {
				return nil, fmt.Errorf("%w: run %s is not a shard (its results.json has no shard record: a run of bench without -shard)", ErrInvalid, r.RunID)
			}
			if r.Shard.Index != f.Runs[0].Shard.Index {
				return nil, fmt.Errorf("%w: runs %s and %s of one file are shards %d and %d", ErrInvalid, f.Runs[0].RunID, r.RunID, f.Runs[0].Shard.Index, r.Shard.Index)
			}
		}
	}
	first := &files[0].Runs[0]
	n, byIndex := first.Shard.Count, map[int]*Run{}
	for _, f := range files {
		r := &f.Runs[0]
		switch {
		case r.Shard.Count != n:
			return nil, fmt.Errorf("%w: run %s is shard %d/%d, run %s is shard %d/%d: shards of different splits", ErrInvalid, first.RunID, first.Shard.Index, n, r.RunID, r.Shard.Index, r.Shard.Count)
		case !slices.Equal(r.Shard.Selected, first.Shard.Selected):
			return nil, fmt.Errorf("%w: runs %s and %s split different selections (%s; %s)", ErrInvalid, first.RunID, r.RunID, strings.Join(first.Shard.Selected, ","), strings.Join(r.Shard.Selected, ","))
		case r.Profile != first.Profile:
			return nil, fmt.Errorf("%w: run %s is of profile %s, run %s of %s", ErrInvalid, first.RunID, first.Profile, r.RunID, r.Profile)
		case len(f.Runs) != len(files[0].Runs):
			return nil, fmt.Errorf("%w: run %s has %d repetitions, run %s %d (-count differs)", ErrInvalid, first.RunID, len(files[0].Runs), r.RunID, len(f.Runs))
		}
		if d := sidesDiffer(first, r); d != "" {
			return nil, fmt.Errorf("%w: runs %s and %s differ in their sides: %s", ErrInvalid, first.RunID, r.RunID, d)
		}
		if o, dup := byIndex[r.Shard.Index]; dup {
			return nil, fmt.Errorf("%w: shard %d/%d given twice: runs %s and %s", ErrInvalid, r.Shard.Index, n, o.RunID, r.RunID)
		}
		byIndex[r.Shard.Index] = r
	}
	var missing []string
	for i := 1; i <= n; i++ {
		if byIndex[i] == nil {
			missing = append(missing, fmt.Sprintf("%d/%d", i, n))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: shard %s missing (given %d of %d shards): the merged run would lack its scenarios", ErrInvalid, strings.Join(missing, ", "), len(files), n)
	}
	owner := map[string]int{}
	for i := 1; i <= n; i++ {
		for _, s := range byIndex[i].Shard.Scenarios {
			if o, ok := owner[s]; ok {
				return nil, fmt.Errorf("%w: scenario %s is in the shares of shards %d/%d and %d/%d", ErrInvalid, s, o, n, i, n)
			}
			owner[s] = i
		}
	}
	for _, s := range first.Shard.Selected {
		if _, ok := owner[s]; !ok {
			return nil, fmt.Errorf("%w: scenario %s of the selection is in no shard's share", ErrInvalid, s)
		}
	}
	for _, f := range files {
		for _, r := range f.Runs {
			for _, s := range r.Scenarios {
				if owner[s.Name] != r.Shard.Index {
					return nil, fmt.Errorf("%w: run %s (shard %d/%d) holds scenario %s, which is not in its share", ErrInvalid, r.RunID, r.Shard.Index, n, s.Name)
				}
			}
		}
	}
	out := &File{SchemaVersion: SchemaVersion}
	for j := range files[0].Runs {
		var runs []Run
		for i := 1; i <= n; i++ {
			for _, f := range files {
				if f.Runs[0].Shard.Index == i {
					runs = append(runs, f.Runs[j])
				}
			}
		}
		r, err := Join(runs...)
		if err != nil {
			return nil, err
		}
		r.Notes = append(r.Notes, fmt.Sprintf("joined from %d shards, run side by side on as many machines: %s", n, strings.Join(shardList(runs), "; ")))
		r.Scenarios = inOrder(r.Scenarios, first.Shard.Selected)
		var ran []string
		for _, s := range r.Scenarios {
			ran = append(ran, s.Name)
		}
		for _, s := range first.Shard.Selected {
			if !slices.Contains(ran, s) {
				r.Notes = append(r.Notes, fmt.Sprintf("scenario %s of the selection has no results (its shard, %d/%d, did not finish it)", s, owner[s], n))
			}
		}
		out.Runs = append(out.Runs, r)
	}
	return out, out.Validate()
}

// Join returns one run made of runs that ran at the same time on
// different machines with the same sides, each with other scenarios (the
// shards of a run, or their confirmation stages): their scenarios in the
// order given; the run id, start and end span them all; per side and arm
// the integrity violations add up (arm i of the result is arm i of every
// machine, each interleaved across sides in its own seeded order, so the
// joined arms stay exchangeable); notes keep the run they came from. A
// scenario in two runs, or sides that differ, is an error wrapping
// ErrInvalid.
func Join(runs ...Run) (Run, error) {
	if len(runs) == 0 {
		return Run{}, fmt.Errorf("%w: no run to join", ErrInvalid)
	}
	out := runs[0]
	out.Shard, out.Notes, out.Scenarios, out.IntegrityViolations = nil, nil, nil, map[string]Values{}
	var ids []string
	seen := map[string]string{}
	for _, r := range runs {
		if d := sidesDiffer(&runs[0], &r); d != "" {
			return Run{}, fmt.Errorf("%w: runs %s and %s differ in their sides: %s", ErrInvalid, runs[0].RunID, r.RunID, d)
		}
		ids = append(ids, r.RunID)
		out.Start = minTime(out.Start, r.Start)
		if r.End.After(out.End) {
			out.End = r.End
		}
		if r.CollectedAt.After(out.CollectedAt) {
			out.CollectedAt = r.CollectedAt
		}
		out.Status = worseStatus(out.Status, r.Status)
		if r.Host != runs[0].Host {
			out.Notes = append(out.Notes, fmt.Sprintf("run %s ran on another host (%s, %s) than run %s (%s, %s)", r.RunID, r.Host.Class(), r.Host.GoVersion, runs[0].RunID, runs[0].Host.Class(), runs[0].Host.GoVersion))
		}
		for _, n := range r.Notes {
			out.Notes = append(out.Notes, r.RunID+": "+n)
		}
		for side, vs := range r.IntegrityViolations {
			out.IntegrityViolations[side] = addArms(out.IntegrityViolations[side], vs)
		}
		for _, s := range r.Scenarios {
			if o, dup := seen[s.Name]; dup {
				return Run{}, fmt.Errorf("%w: scenario %s is in runs %s and %s", ErrInvalid, s.Name, o, r.RunID)
			}
			seen[s.Name] = r.RunID
			out.Scenarios = append(out.Scenarios, s)
		}
	}
	out.RunID = strings.Join(ids, "+")
	return out, nil
}

// sidesDiffer says how the sides of two runs differ ("" when they do not)
// in what makes them the same experiment: client, build, flags and arms.
func sidesDiffer(a, b *Run) string {
	if a.GitCommit != b.GitCommit {
		return fmt.Sprintf("git commit %s, %s", a.GitCommit, b.GitCommit)
	}
	if len(a.Sides) != len(b.Sides) {
		return fmt.Sprintf("%d side(s), %d", len(a.Sides), len(b.Sides))
	}
	for i, s := range a.Sides {
		t := b.Sides[i]
		if s.Name != t.Name || s.Arms != t.Arms || s.Client != t.Client || s.ClientVersion != t.ClientVersion || s.Ref != t.Ref || s.Commit != t.Commit || !slices.Equal(s.Args, t.Args) {
			return fmt.Sprintf("%s side %+v, %+v", s.Name, s, t)
		}
	}
	return ""
}

func shardList(runs []Run) []string {
	var out []string
	for _, r := range runs {
		out = append(out, fmt.Sprintf("%d/%d %s (%s)", r.Shard.Index, r.Shard.Count, r.RunID, strings.Join(r.Shard.Scenarios, ", ")))
	}
	return out
}

// inOrder sorts scenarios by their place in names (others last, as given).
func inOrder(scs []Scenario, names []string) []Scenario {
	out := slices.Clone(scs)
	slices.SortStableFunc(out, func(a, b Scenario) int {
		i, j := slices.Index(names, a.Name), slices.Index(names, b.Name)
		if i < 0 {
			i = len(names)
		}
		if j < 0 {
			j = len(names)
		}
		return i - j
	})
	return out
}

// addArms adds b to a arm by arm; an arm with no data in both stays NaN.
func addArms(a, b Values) Values {
	out := make(Values, max(len(a), len(b)))
	for i := range out {
		x, y := math.NaN(), math.NaN()
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		switch {
		case math.IsNaN(x):
			out[i] = y
		case math.IsNaN(y):
			out[i] = x
		default:
			out[i] = x + y
		}
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// worseStatus is the status of a run made of two: any interrupted or
// failed part makes the whole so.
func worseStatus(a, b string) string {
	rank := func(s string) int {
		return slices.Index([]string{manifest.StatusPassed, manifest.StatusRunning, manifest.StatusFailed, manifest.StatusInterrupted}, s)
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}
