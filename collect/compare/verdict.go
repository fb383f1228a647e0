package compare

// finish counts the gating rows and states and sets the run's verdict.
func (d *Diff) finish(compared bool) {
	d.GatingRows, d.Candidates, d.Regressions, d.Measured = 0, 0, 0, 0
	count := func(r Row) {
		if r.Gating && r.P != nil {
			d.GatingRows++
		}
		switch r.Verdict {
		case Candidate, Unconfirmed:
			d.Candidates++
		case Regression:
			d.Candidates++
			d.Regressions++
		}
	}
	for i := range d.Scenarios {
		sd := &d.Scenarios[i]
		if sd.InHead {
			d.Measured++
		}
		sd.Candidates, sd.Regressions, sd.Improvements = 0, 0, 0
		if !sd.Compared {
			continue
		}
		for _, r := range sd.Rows {
			count(r)
			switch r.Verdict {
			case Candidate, Unconfirmed:
				sd.Candidates++
			case Regression:
				sd.Candidates++
				sd.Regressions++
			case Improvement:
				sd.Improvements++
			}
		}
	}
	for _, r := range d.Healthy {
		count(r)
	}
	d.FalseAlarmBound = float64(d.GatingRows) * (d.Alpha / 2) * (d.ConfirmAlpha / 2)
	d.Verdict = d.verdict(compared)
}

// verdict is the run's verdict: an integrity failure whatever the
// statistics, then a comparison that cannot be trusted, then no baseline,
// advisory (a stored baseline), confirmed regressions, unconfirmed
// candidates, no regression.
func (d *Diff) verdict(compared bool) RunVerdict {
	switch {
	case len(d.Integrity) > 0:
		return VerdictIntegrity
	case len(d.Problems) > 0:
		return VerdictInvalid
	case !compared:
		return VerdictNoBaseline
	case d.Mode == ModeStored:
		return VerdictAdvisory
	case d.Regressions > 0:
		return VerdictRegression
	case d.Confirmation == nil && d.Candidates > 0:
		return VerdictUnconfirmed
	}
	return VerdictOK
}

// advisory turns a stored-baseline comparison into an advisory one: two
// days on machines of one class differ on a third of all figures, so a
// gating row flagged against another day's arms is shown as worse or
// better, and nothing gates.
func advisory(d *Diff) {
	soften := func(r *Row) {
		switch r.Verdict {
		case Candidate:
			r.Verdict = Worse
		case Improvement:
			r.Verdict = Better
		}
	}
	for i := range d.Scenarios {
		for j := range d.Scenarios[i].Rows {
			soften(&d.Scenarios[i].Rows[j])
		}
	}
	for j := range d.Healthy {
		soften(&d.Healthy[j])
	}
}
