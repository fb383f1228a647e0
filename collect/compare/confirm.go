package compare

import (
	"slices"

	"github.com/mcchaos/mcchaos/collect/results"
)

// Confirm judges the candidates of first (the run's comparison) by second,
// the comparison of the confirmation stage: the scenarios with candidates
// run again with fresh processes and a new arm order. A candidate is a
// regression only when the same row of second is worse again, at
// p < first.ConfirmAlpha and beyond the policy floor (decide, the rule of
// the first stage at the second level); otherwise it is Unconfirmed. The
// two stages are independent when the arms are exchangeable, so a row is
// falsely declared with probability at most (Alpha/2)·(ConfirmAlpha/2) (a
// stage's two-sided p below its level in the worse direction: half the
// level).
//
// Integrity violations and problems of second carry over (a violation
// fails the run whichever stage saw it). first is changed and returned.
func Confirm(first, second *Diff) *Diff {
	c := &Confirmation{RunIDs: second.Head.RunIDs}
	for _, s := range second.Scenarios {
		if s.Compared {
			c.Scenarios = append(c.Scenarios, s.Name)
		}
	}
	first.Confirmation = c
	judge := func(r *Row, again *Row, scenario string) {
		if r.Verdict != Candidate {
			return
		}
		r.Verdict = Unconfirmed
		if again == nil {
			// Not judged either way: the stage could not repeat the
			// experiment (invalid there, or cut short). That is no verdict.
			c.Unconfirmed++
			key := r.Key
			first.Problems = append(first.Problems, Issue{Code: NotJudged, Scenario: scenario, Key: &key})
			return
		}
		r.Confirm = stage(*again, r.Direction, first.ConfirmAlpha)
		if r.Confirm.Verdict == Candidate {
			r.Verdict = Regression
			c.Confirmed++
			return
		}
		c.Unconfirmed++
	}
	for i := range first.Scenarios {
		s := &first.Scenarios[i]
		j := slices.IndexFunc(second.Scenarios, func(t Scenario) bool { return t.Name == s.Name && t.Compared })
		for k := range s.Rows {
			var again *Row
			if j >= 0 {
				again = findRow(second.Scenarios[j].Rows, s.Rows[k].Key)
			}
			judge(&s.Rows[k], again, s.Name)
		}
	}
	for k := range first.Healthy {
		judge(&first.Healthy[k], findRow(second.Healthy, first.Healthy[k].Key), "")
	}
	carry := func(is []Issue) []Issue {
		out := slices.Clone(is)
		for i := range out {
			out[i].Confirmation = true
		}
		return out
	}
	first.Integrity = append(first.Integrity, carry(second.Integrity)...)
	first.Warnings = append(first.Warnings, carry(second.Problems)...)
	for _, n := range second.Invalid {
		first.Warnings = append(first.Warnings, Issue{Code: InvalidScenario, Confirmation: true, Scenario: n})
	}
	first.finish(first.Base != nil)
	return first
}

// stage is again, a row of the confirmation stage, judged at alpha in the
// direction dir as a gating row.
func stage(again Row, dir results.Direction, alpha float64) *Stage {
	s := &Stage{Base: again.Base, Head: again.Head, Effect: again.Effect, Rel: again.Rel, P: again.P, Floor: again.Floor,
		Verdict: again.Verdict, Reason: again.Reason, Separation: again.Separation}
	if again.P != nil {
		s.Verdict, s.Reason = decide(float64(again.Effect), float64(again.Floor), *again.P, alpha, dir, true)
	}
	return s
}

func findRow(rows []Row, k Key) *Row {
	for i := range rows {
		if rows[i].Key == k {
			return &rows[i]
		}
	}
	return nil
}

// CandidateScenarios returns the scenarios a confirmation stage must run
// for d's candidates, in d's order; healthy says a healthy-path row is a
// candidate (any scenario's stabilization windows can confirm it).
func (d *Diff) CandidateScenarios() (names []string, healthy bool) {
	if d == nil {
		return nil, false
	}
	for _, s := range d.Scenarios {
		if s.Compared && slices.ContainsFunc(s.Rows, func(r Row) bool { return r.Verdict == Candidate }) {
			names = append(names, s.Name)
		}
	}
	healthy = slices.ContainsFunc(d.Healthy, func(r Row) bool { return r.Verdict == Candidate })
	return names, healthy
}
