package report

import (
	"fmt"
	"strings"

	"github.com/mcchaos/mcchaos/collect/compare"
	"github.com/mcchaos/mcchaos/collect/internal/units"
	"github.com/mcchaos/mcchaos/collect/results"
)

// This file says in words what collect/compare returns as data: the
// one-line verdict, why a gating row got its state, and each issue.

// Headline is the run's one-line verdict, as bench and collect print it
// after "verdict: " (../shared/tools/series and the tests parse its first
// words): "no regression in 14 scenarios compared".
func Headline(d *compare.Diff) string {
	s := headline(d)
	if len(d.Invalid) > 0 {
		s += fmt.Sprintf("; %d scenario(s) invalid (faults not in effect as requested, or no steady state before them): %s", len(d.Invalid), strings.Join(d.Invalid, ", "))
	}
	return s
}

func headline(d *compare.Diff) string {
	n := fmt.Sprintf("%d scenario(s) compared", d.Compared)
	if d.Compared == 1 {
		n = "1 scenario compared"
	} else if d.Compared > 1 {
		n = fmt.Sprintf("%d scenarios compared", d.Compared)
	}
	switch d.Verdict {
	case compare.VerdictIntegrity:
		return "integrity failure: " + strings.Join(Issues(d.Integrity), "; ")
	case compare.VerdictInvalid:
		return "not compared: " + Issue(d.Problems[0])
	case compare.VerdictNoBaseline:
		return fmt.Sprintf("no baseline: %d scenario(s) measured, nothing compared, no integrity violation", d.Measured)
	case compare.VerdictAdvisory:
		const adv = "advisory, against a stored baseline of another day (not a paired experiment; nothing gates): "
		if w := flagged(d, compare.Worse); w != "" {
			return fmt.Sprintf(adv+"gating figures worse in %s: %s", n, w)
		}
		return adv + "no gating figure worse in " + n
	case compare.VerdictRegression:
		word := "regressions"
		if d.Regressions == 1 {
			word = "regression"
		}
		return fmt.Sprintf("%d %s, confirmed by a second stage, in %s: %s", d.Regressions, word, n, flagged(d, compare.Regression))
	case compare.VerdictUnconfirmed:
		return fmt.Sprintf("%d candidate regression(s) in %s, not confirmed: no second stage ran (bench runs one after the first unless -no-confirm is given or the run stopped early): %s", d.Candidates, n, flagged(d, compare.Candidate))
	}
	if c := d.Confirmation; c != nil && c.Unconfirmed > 0 {
		return fmt.Sprintf("no regression in %s (%d candidate(s) of the first stage not confirmed by the second: %s)", n, c.Unconfirmed, flagged(d, compare.Unconfirmed))
	}
	return "no regression in " + n
}

// flagged names the gating figures in state v, by scenario:
// "healthy path (p50 latency); packet-loss-100-pct (throughput, ...)".
func flagged(d *compare.Diff, v compare.Verdict) string {
	var where, hs []string
	for _, r := range d.Healthy {
		if r.Verdict == v {
			hs = append(hs, units.Name(r.Key.Name))
		}
	}
	if len(hs) > 0 {
		where = append(where, "healthy path ("+strings.Join(hs, ", ")+")")
	}
	for _, s := range d.Scenarios {
		var figs []string
		for _, r := range s.Rows {
			if s.Compared && r.Gating && r.Verdict == v {
				figs = append(figs, units.Name(r.Key.Name))
			}
		}
		if len(figs) > 0 {
			where = append(where, s.Name+" ("+strings.Join(figs, ", ")+")")
		}
	}
	return strings.Join(where, "; ")
}

// Word is a row state as the report's tables write it.
func Word(v compare.Verdict) string {
	switch v {
	case compare.Same:
		return "~"
	case compare.Unconfirmed:
		return "not confirmed"
	case compare.NotTested:
		return "n/a"
	case compare.Added:
		return "new"
	case compare.Removed:
		return "gone"
	}
	return string(v)
}

// Reason says in one line why a tested gating row of scenario ("" the
// healthy path) got its state; "" for a row that was not tested.
func Reason(scenario string, r compare.Row) string {
	if r.P == nil {
		return ""
	}
	s := reason(r.Key, r.Unit, r.FloorFrom, r.Base, r.Head, float64(r.Effect), *r.P, float64(r.Floor), r.Reason, r.Separation)
	if r.Verdict == compare.Unconfirmed && r.Confirm == nil {
		s += fmt.Sprintf("; not judged: %s was not compared in the confirmation stage", where(scenario, "the healthy path"))
	}
	return s
}

// StageReason says why the confirmation stage judged r's candidate as it
// did; "" without a tested confirmation.
func StageReason(r compare.Row) string {
	c := r.Confirm
	if c == nil || c.P == nil {
		return ""
	}
	return reason(r.Key, r.Unit, r.FloorFrom, c.Base, c.Head, float64(c.Effect), *c.P, float64(c.Floor), c.Reason, c.Separation)
}

func reason(k compare.Key, unit string, from compare.FloorFrom, base, head compare.Side, effect, p, floor float64, why compare.Reason, sep compare.Separation) string {
	name := units.Name(k.Name)
	if k.Labels != "" && k.Labels != "op=all" {
		name += " {" + k.Labels + "}"
	}
	if k.Phase != compare.PhaseResilience {
		name += " in " + strings.ReplaceAll(k.Phase, "_", " ")
	}
	ch := fmt.Sprintf("%s %s → %s", name, units.Value(float64(base.Median), unit), units.Value(float64(head.Median), unit))
	arms := "the arms overlap"
	switch sep {
	case compare.HeadAbove:
		arms = fmt.Sprintf("all %d head arms %s than every base arm", head.N, direction(unit, true))
	case compare.HeadBelow:
		arms = fmt.Sprintf("all %d head arms %s than every base arm", head.N, direction(unit, false))
	}
	switch why {
	case compare.BeyondFloor:
		return fmt.Sprintf("%s, %s (p = %.3f, effect %s beyond the %s floor %s)", ch, arms, p, units.Signed(effect, unit), from, units.Change(floor, unit))
	case compare.WithinFloor:
		return fmt.Sprintf("%s, %s, but the effect %s is within the %s floor %s", ch, arms, units.Signed(effect, unit), from, units.Change(floor, unit))
	}
	return fmt.Sprintf("%s: not significant (p = %.2f)", ch, p)
}

func direction(unit string, up bool) string {
	switch {
	case unit == "s" && up:
		return "slower"
	case unit == "s":
		return "faster"
	case up:
		return "higher"
	}
	return "lower"
}

// where is a scenario's name, or healthy for the healthy path ("").
func where(scenario, healthy string) string {
	if scenario == "" {
		return healthy
	}
	return scenario
}

// Issues says each issue in one line.
func Issues(is []compare.Issue) []string {
	out := make([]string, len(is))
	for i, x := range is {
		out[i] = Issue(x)
	}
	return out
}

// Issue says one issue of a comparison in one line.
func Issue(i compare.Issue) string {
	s := issue(i)
	if i.Confirmation {
		s = "confirmation stage: " + s
	}
	return s
}

func issue(i compare.Issue) string {
	key := ""
	if i.Key != nil {
		key = i.Key.String()
	}
	switch i.Code {
	case compare.BaselineUnused:
		return "the run is paired: base and head of this run are compared, the stored baseline is not used"
	case compare.HostClass:
		return fmt.Sprintf("**the baseline was recorded on another host class (%s; this run: %s)**: machine differences show up as changes; prefer a paired run (bench -base REF)", i.Base, i.Head)
	case compare.GoVersion:
		return fmt.Sprintf("baseline built with %s, this run with %s", i.Base, i.Head)
	case compare.StackDiffers:
		return fmt.Sprintf("baseline ran on the %q stack, this run on %q", i.Base, i.Head)
	case compare.ClientDiffers:
		return fmt.Sprintf("baseline client %q, this run %q", i.Base, i.Head)
	case compare.TooFewArms:
		return fmt.Sprintf("%d arms per side: the U test's smallest p is %.3f, not below alpha %.2f, so no gating figure can be flagged; run more arms", i.N, i.Value, i.Limit)
	case compare.ExpectDiffers:
		return fmt.Sprintf("%s: the sides expect different things (base %q, head %q): the head side's expectation is used", i.Scenario, i.Base, i.Head)
	case compare.NoExpectation:
		return fmt.Sprintf("%s: no expectation (recorded before scenarios stated one): time to detect and false ejection are not judged", i.Scenario)
	case compare.SideIdle:
		return fmt.Sprintf("%s: every %s arm has no operations in stabilization: its loadgen processes were not running (see the run's logs/, then run again)", i.Scenario, i.Side)
	case compare.IdleArms:
		return fmt.Sprintf("%s: %s arm(s) %s had no operations in stabilization (started late?): their figures that need a healthy baseline are no data", i.Scenario, i.Side, armList(i.Arms))
	case compare.OneSideUnsteady:
		return fmt.Sprintf("%s: %s: only one side was not in steady state before the fault", i.Scenario, unsteady(compare.Unsteady{Side: i.Side, ErrorRatio: i.Value, Limit: i.Limit}))
	case compare.GatingOneSide:
		return fmt.Sprintf("%s: gating figure %s has values on the %s side only (the other side's arms say why in report.md; run again, or check that side's loadgen logs)", where(i.Scenario, "healthy path"), key, i.Side)
	case compare.GatingMissingArms:
		return fmt.Sprintf("%s: gating figure %s has %d of %d %s arms (no value for arm %s): it cannot be judged at this level (see those arms' loadgen logs, then run again)",
			where(i.Scenario, "healthy path"), key, i.N, i.Of, i.Side, armList(i.Arms))
	case compare.AllInvalid:
		return "every scenario that ran on both sides was invalid: nothing compared (each one's reason is in its section; a starved machine is the usual cause: run again on a quiet one)"
	case compare.NoCommon:
		return "no scenario ran on both sides: nothing compared (run the baseline's scenarios, or record the baseline again with the same profile: make baseline)"
	case compare.NotJudged:
		return fmt.Sprintf("%s: the candidate %s could not be confirmed or refuted: the confirmation stage did not compare it (invalid or cut short there; run again)", where(i.Scenario, "the healthy path"), key)
	case compare.InvalidScenario:
		return fmt.Sprintf("%s invalid there", i.Scenario)
	case compare.IntegrityScenario:
		return fmt.Sprintf("%s: %g integrity violation(s) on a head arm", i.Scenario, i.Value)
	case compare.IntegrityRun:
		s := fmt.Sprintf("run %s: %g integrity violation(s) on a %s arm over the run", i.Run, i.Value, i.Side)
		if i.Side != results.SideHead {
			s += ": the base side's client returned wrong values"
		}
		return s
	}
	return fmt.Sprintf("%s (%+v)", i.Code, i)
}

// unsteady says how a side broke the steady state before the fault.
func unsteady(u compare.Unsteady) string {
	return fmt.Sprintf("%s side failed %.0f %% of operations in stabilization (median arm; limit %.0f %%)", u.Side, 100*u.ErrorRatio, 100*u.Limit)
}

// unsteadyScenario says why a scenario had no steady state before its
// fault (both sides broke it); "" when it had.
func unsteadyScenario(us []compare.Unsteady) string {
	if len(us) == 0 {
		return ""
	}
	parts := make([]string, len(us))
	for i, u := range us {
		parts[i] = unsteady(u)
	}
	return fmt.Sprintf("no steady state before the fault: %s (the machine or the previous scenario, not the fault, is what the figures measure)", strings.Join(parts, ", "))
}

func armList(arms []int) string {
	s := make([]string, len(arms))
	for i, a := range arms {
		s[i] = fmt.Sprint(a)
	}
	return strings.Join(s, ", ")
}

// falseEjectionNote explains the false-ejection figure, which compare
// derives from the breakers (results.json has no note for it).
const falseEjectionNote = "seconds the faulted servers' breakers stood open during the fault; a ride-through scenario's servers answer within the timeout, so any is a false ejection"

// notes are the notes results.json keeps for the figure of row k of
// scenario (none for the healthy path).
func notes(f *results.File, scenario string, k compare.Key) []string {
	if k.Phase == compare.PhaseResilience && k.Name == compare.FalseEjection {
		return []string{falseEjectionNote}
	}
	for i := range f.Runs {
		sc, ok := f.Runs[i].Scenario(scenario)
		if !ok {
			continue
		}
		var ms []results.Metric
		switch k.Phase {
		case compare.PhaseResilience:
			ms = sc.Resilience
		case compare.PhaseEvent:
			if sc.Event != nil {
				ms = sc.Event.Metrics
			}
		default:
			for _, p := range sc.Phases {
				if p.Name == k.Phase {
					ms = p.Metrics
				}
			}
		}
		for _, m := range ms {
			if m.Name == k.Name && results.LabelString(m.Labels) == k.Labels {
				return m.Notes
			}
		}
	}
	return nil
}
