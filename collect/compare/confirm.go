package compare

import (
	"fmt"
	"slices"
)

// Confirm judges the candidates of first (the run's comparison) by second,
// the comparison of the confirmation stage: the scenarios with candidates
// run again with fresh processes and a new arm order. A candidate is a
// regression only when the same row of second is worse again, at
// p < first.ConfirmAlpha and beyond the policy floor; otherwise it is
// Unconfirmed. The two stages are independent when the arms are
// exchangeable, so a row is falsely declared with probability at most
// (Alpha/2)·(ConfirmAlpha/2) (a stage's two-sided p below its level in the
// worse direction: half the level).
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
	confirm := func(r *Row, again *Row, where string) {
		if r.Verdict != Candidate {
			return
		}
		if again == nil {
			// Not judged either way: the stage could not repeat the
			// experiment (invalid there, or cut short). That is no verdict.
			r.Verdict = Unconfirmed
			r.Reason += fmt.Sprintf("; not judged: %s was not compared in the confirmation stage", where)
			c.Unconfirmed++
			first.Problems = append(first.Problems, fmt.Sprintf("%s: the candidate %s could not be confirmed or refuted: the confirmation stage did not compare it (invalid or cut short there; run again)", where, r.Key))
			return
		}
		r.Confirm = &Stage{Base: again.Base, Head: again.Head, Effect: again.Effect, P: again.P, Floor: again.Floor, Verdict: again.Verdict, Reason: again.Reason}
		if again.P != nil && judge(Row{Effect: again.Effect, Floor: again.Floor, Direction: r.Direction, Gating: true}, *again.P, first.ConfirmAlpha) == Candidate {
			r.Confirm.Verdict = Candidate
			r.Verdict = Regression
			c.Confirmed++
			return
		}
		r.Verdict = Unconfirmed
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
			confirm(&s.Rows[k], again, s.Name)
		}
	}
	for k := range first.Healthy {
		confirm(&first.Healthy[k], findRow(second.Healthy, first.Healthy[k].Key), "the healthy path")
	}
	for _, msg := range second.Integrity {
		first.Integrity = append(first.Integrity, "confirmation stage: "+msg)
	}
	for _, p := range second.Problems {
		first.Warnings = append(first.Warnings, "confirmation stage: "+p)
	}
	for _, n := range second.Invalid {
		first.Warnings = append(first.Warnings, fmt.Sprintf("confirmation stage: %s invalid there", n))
	}
	first.finish(first.Base != nil)
	return first
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
