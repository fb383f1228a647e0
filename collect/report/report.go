// Package report writes what people and machines read after a run: the
// Markdown report (verdict first, summary of every scenario, the gating
// figures of each scenario with their reasons, the informational changes,
// a chart, a glossary), diff.json, PNG charts with gonum/plot and Mermaid
// xychart-beta charts for pull-request comments.
//
// A reporter only formats: the figures come from collect/results and the
// states, reasons and issues from collect/compare as codes; every word
// about them is here (words.go: the verdict line, reasons, issues).
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/collect/compare"
	"github.com/mcchaos/mcchaos/collect/internal/units"
	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// Link is a link shown in a scenario's section (a Grafana snapshot).
type Link struct {
	Text, URL string
}

// Input is everything the Markdown report shows.
type Input struct {
	Diff *compare.Diff
	// New is the run (or runs) reported on.
	New *results.File
	// BaselinePath names the stored baseline file(s); empty without one.
	BaselinePath string
	// ChartsDir is where the PNG charts are, relative to the report. If
	// empty, no PNG is linked.
	ChartsDir string
	// Links are extra links per scenario name.
	Links map[string][]Link
	// Warnings are shown under the verdict (e.g. Grafana unreachable).
	Warnings []string
}

// JSON writes d as indented JSON: diff.json, data only (compare's
// schema; the words are this package's).
func JSON(w io.Writer, d *compare.Diff) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// Markdown writes the report.
func Markdown(w io.Writer, in Input) error {
	var b strings.Builder
	writeHead(&b, in)
	for _, sd := range in.Diff.Scenarios {
		writeScenario(&b, in, sd)
	}
	b.WriteString(glossary)
	_, err := io.WriteString(w, b.String())
	return err
}

// Summary writes the head of the report only (verdict, sides, summary
// table), small enough for a pull-request comment; full points to the
// full report.
func Summary(w io.Writer, in Input, full string) error {
	var b strings.Builder
	writeHead(&b, in)
	fmt.Fprintf(&b, "Per-scenario figures, reasons, charts and the glossary: %s.\n", full)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeHead(b *strings.Builder, in Input) {
	d := in.Diff
	run := in.New.Runs[len(in.New.Runs)-1]
	fmt.Fprintf(b, "# mcchaos report: %s\n\n", run.RunID)
	b.WriteString(verdictLine(d) + "\n\n")
	for _, p := range Issues(d.Problems) {
		fmt.Fprintf(b, "> 🛑 %s\n", p)
	}
	warns := append(Issues(d.Warnings), in.Warnings...)
	for _, r := range in.New.Runs {
		for _, n := range r.Notes {
			warns = append(warns, fmt.Sprintf("run %s: %s", r.RunID, n))
		}
	}
	for _, w := range warns {
		fmt.Fprintf(b, "> ⚠️ %s\n", w)
	}
	if len(warns)+len(d.Problems) > 0 {
		b.WriteString("\n")
	}
	writeMeta(b, in)
	writeHealthy(b, in)
	writeSummary(b, in)
}

func confirmationLine(d *compare.Diff) string {
	c := d.Confirmation
	switch {
	case c == nil && d.Candidates == 0:
		return "not needed: no candidate in the first stage"
	case c == nil:
		return fmt.Sprintf("not run: %d candidate(s) wait for it", d.Candidates)
	}
	return fmt.Sprintf("%s run again (%s): %d candidate(s) confirmed, %d not", strings.Join(c.Scenarios, ", "), strings.Join(c.RunIDs, ", "), c.Confirmed, c.Unconfirmed)
}

func policyLine(p compare.Policy) string {
	var parts []string
	for _, n := range slices.Sorted(maps.Keys(p)) {
		f := p[n]
		unit := units.Of(strings.TrimPrefix(n, "healthy_"))
		var terms []string
		if f.Rel > 0 {
			terms = append(terms, fmt.Sprintf("%g %%", f.Rel*100))
		}
		if f.Abs > 0 || len(terms) == 0 {
			terms = append(terms, units.Change(f.Abs, unit))
		}
		parts = append(parts, n+" "+strings.Join(terms, " or "))
	}
	return strings.Join(parts, "; ")
}

// writeHealthy writes the run-level healthy-path family.
func writeHealthy(b *strings.Builder, in Input) {
	d := in.Diff
	if len(d.Healthy) == 0 {
		return
	}
	b.WriteString("## Healthy path\n\n")
	b.WriteString("Each arm's median over the stabilization windows (no fault) of every compared scenario: a client made slower or less reliable on every operation shows here. Gating.\n\n")
	writeRows(b, in.New, "", d.Healthy)
}

func verdictLine(d *compare.Diff) string {
	summary := Headline(d)
	switch d.Verdict {
	case compare.VerdictIntegrity:
		return fmt.Sprintf("**🛑 Integrity failure**: a read returned a value that was not written (%s). This fails the run whatever the statistics say.",
			strings.Join(Issues(d.Integrity), "; "))
	case compare.VerdictInvalid:
		return fmt.Sprintf("**🛑 Not compared**: %s. The figures below are shown, but no verdict can be given.", strings.Join(Issues(d.Problems), "; "))
	case compare.VerdictNoBaseline:
		return "**ℹ️ No baseline**: " + summary + "."
	case compare.VerdictRegression:
		return "**❌ " + summary + ".**"
	case compare.VerdictUnconfirmed:
		return "**⚠️ " + summary + ".** A candidate is a first-stage finding: it becomes a regression only when a second, independent stage flags it again."
	case compare.VerdictAdvisory:
		return "**ℹ️ Advisory: " + summary + ".** For a verdict, run paired: `make bench BASE=<ref>` runs base and head side by side."
	}
	if len(d.Invalid) > 0 {
		return fmt.Sprintf("**🛑 %s.** An invalid scenario's faults were not in effect as requested, or it was not in steady state before them: its figures are shown, never judged.", strings.ToUpper(summary[:1])+summary[1:])
	}
	return fmt.Sprintf("**✅ %s** (%s). No integrity violation.", strings.ToUpper(summary[:1])+summary[1:], modeText(d))
}

func modeText(d *compare.Diff) string {
	switch d.Mode {
	case compare.ModePaired:
		return "base and head side by side in this run"
	case compare.ModeStored:
		return "head against the stored baseline"
	}
	return "nothing compared"
}

func writeMeta(b *strings.Builder, in Input) {
	d := in.Diff
	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(b, "| head | %s |\n", runLine(d.Head))
	switch {
	case d.Base != nil && d.Mode == compare.ModeStored:
		fmt.Fprintf(b, "| base | stored baseline `%s`: %s |\n", in.BaselinePath, runLine(*d.Base))
	case d.Base != nil:
		fmt.Fprintf(b, "| base | %s |\n", runLine(*d.Base))
	default:
		b.WriteString("| base | none |\n")
	}
	if d.Base != nil {
		fmt.Fprintf(b, "| method | one value per arm and side (%d base arms, %d head arms); Mann–Whitney U test (benchmath) at alpha %g per figure; effect = Hodges–Lehmann shift head − base with its %g %% interval; only the gating figures can fail the run |\n",
			d.Base.Arms, d.Head.Arms, d.Alpha, d.Confidence*100)
		if d.Mode == compare.ModePaired {
			fmt.Fprintf(b, "| false alarms | a gating row is a candidate when worse at p < %g beyond the policy floor, and a regression only when a second stage (fresh processes, new arm order) finds it worse again at p < %g beyond the floor: for exchangeable arms at most (%g/2)·(%g/2) per row, %.2g for this run's %d gating rows |\n",
				d.Alpha, d.ConfirmAlpha, d.Alpha, d.ConfirmAlpha, d.FalseAlarmBound, d.GatingRows)
			fmt.Fprintf(b, "| confirmation | %s |\n", confirmationLine(d))
		}
		fmt.Fprintf(b, "| policy | smallest change worth acting on (max of relative to the base median, absolute): %s |\n", policyLine(d.Policy))
	}
	fmt.Fprintf(b, "| fidelity | %s |\n", fidelities(d))
	b.WriteString("\n")
}

func runLine(r compare.RunSet) string {
	commit := "unknown commit"
	if len(r.Commits) > 0 {
		commit = "commit " + shorten(strings.Join(r.Commits, ", "))
	}
	client := r.Client
	if r.Version != "" {
		client += " " + r.Version
	}
	return fmt.Sprintf("side %s of %s, %d arm(s), %s, %s, profile `%s`, client %s, stack %s, %s, %s",
		r.Side, strings.Join(r.RunIDs, ", "), r.Arms, commit, r.Start.UTC().Format("2006-01-02 15:04:05 UTC"), r.Profile, orDash(client), orDash(r.Stack), r.Host.Class(), r.Host.GoVersion)
}

func shorten(s string) string {
	var out []string
	for _, c := range strings.Split(s, ", ") {
		if len(c) > 12 {
			c = c[:12]
		}
		out = append(out, c)
	}
	return strings.Join(out, ", ")
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

func fidelities(d *compare.Diff) string {
	by := map[string][]string{}
	var order []string
	for _, s := range d.Scenarios {
		if _, ok := by[s.Fidelity]; !ok {
			order = append(order, s.Fidelity)
		}
		by[s.Fidelity] = append(by[s.Fidelity], s.Name)
	}
	var parts []string
	for _, f := range order {
		parts = append(parts, fmt.Sprintf("%s: %d scenario(s)", f, len(by[f])))
	}
	return strings.Join(parts, "; ")
}

// row finds a row by key.
func row(sd compare.Scenario, k compare.Key) (compare.Row, bool) {
	for _, r := range sd.Rows {
		if r.Key == k {
			return r, true
		}
	}
	return compare.Row{}, false
}

// cell formats a row for the summary: "base → head" medians, with `~` when
// not significant or within the floor.
func cell(sd compare.Scenario, k compare.Key) string {
	r, ok := row(sd, k)
	if !ok || (r.Base.N == 0 && r.Head.N == 0) {
		return "—"
	}
	h := Value(float64(r.Head.Median), r.Unit)
	if r.Head.N == 0 {
		h = "no data"
	}
	switch r.Verdict {
	case compare.NotTested, compare.Added:
		return h
	case compare.Same:
		return h + " ~"
	}
	s := Value(float64(r.Base.Median), r.Unit) + " → " + h
	if r.Verdict == compare.Regression {
		return "**" + s + "**"
	}
	return s + " (" + Word(r.Verdict) + ")"
}

// summaryKeys are the columns of the summary table.
var summaryKeys = []compare.Key{
	{Phase: "testing", Name: "throughput"},
	{Phase: "testing", Name: "error_ratio"},
	{Phase: "testing", Name: "latency_p99", Labels: "op=all"},
	{Phase: compare.PhaseResilience, Name: "time_to_detect"},
	{Phase: compare.PhaseResilience, Name: compare.FalseEjection},
	{Phase: compare.PhaseResilience, Name: "time_to_recover"},
}

func writeSummary(b *strings.Builder, in Input) {
	b.WriteString("## Summary\n\n")
	b.WriteString("Head medians over the arms in the testing phase (fault on); `~` means no significant change beyond the floor, `base → head` a change. A short fault has no testing-phase figures: see its event figures.\n\n")
	b.WriteString("| scenario | expect | fidelity | throughput | error ratio | p99 latency | time to detect | false ejection | time to recover | fault spread | verdict |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, sd := range in.Diff.Scenarios {
		if !sd.InHead {
			fmt.Fprintf(b, "| `%s` | %s | %s | | | | | | | | base only: not compared |\n", sd.Name, orDash(sd.Expect), sd.Fidelity)
			continue
		}
		v := "~"
		switch {
		case sd.Integrity > 0:
			v = "**integrity failure**"
		case sd.Regressions > 0:
			v = fmt.Sprintf("**%d regression(s)**", sd.Regressions)
		case sd.Candidates > 0 && in.Diff.Confirmation == nil:
			v = fmt.Sprintf("%d candidate(s), unconfirmed", sd.Candidates)
		case sd.Candidates > 0:
			v = fmt.Sprintf("%d candidate(s), not confirmed", sd.Candidates)
		case in.Diff.Base == nil:
			v = "no baseline"
		case !sd.InBase:
			v = "head only: not compared"
		case sd.Improvements > 0:
			v = fmt.Sprintf("%d improvement(s)", sd.Improvements)
		}
		cells := make([]string, len(summaryKeys))
		for i, k := range summaryKeys {
			cells[i] = cell(sd, k)
		}
		fmt.Fprintf(b, "| [`%s`](#%s) | %s | %s | %s | %s | %s |\n", sd.Name, sd.Name, orDash(sd.Expect), sd.Fidelity, strings.Join(cells, " | "), spread(sd), v)
	}
	b.WriteString("\n")
}

// spread formats the per-arm fault-time spread, flagged beyond 10 ms.
func spread(sd compare.Scenario) string {
	if sd.FaultSpread == nil {
		return "—"
	}
	s := Value(*sd.FaultSpread, "s")
	if *sd.FaultSpread > 0.010 {
		s += " ⚠️"
	}
	return s
}

func writeScenario(b *strings.Builder, in Input, sd compare.Scenario) {
	fmt.Fprintf(b, "## %s\n\n", sd.Name)
	if !sd.InHead {
		b.WriteString("On the base side only: not run on the head side, not compared.\n\n")
		return
	}
	var sc *results.Scenario
	for i := range in.New.Runs {
		if s, ok := in.New.Runs[i].Scenario(sd.Name); ok {
			sc = s
			break
		}
	}
	if sc.Description != "" {
		b.WriteString(sc.Description + "\n\n")
	}
	for _, f := range sc.Faults {
		fmt.Fprintf(b, "- fault: %s %s on %s, injected by %s (%s fidelity)", f.Kind, params(f.Params), strings.Join(f.Targets, ", "), f.Injector, f.Fidelity)
		if len(f.Arms) > 1 {
			a, r := f.Spread()
			fmt.Fprintf(b, "; applied to %d arm paths within %s, removed within %s (goal ≤ 10 ms)", len(f.Arms), a.Round(time.Microsecond), r.Round(time.Microsecond))
		}
		b.WriteString("\n")
	}
	if sc.Efficacy != "" {
		fmt.Fprintf(b, "- measured: %s\n", sc.Efficacy)
	}
	switch sd.Expect {
	case manifest.ExpectRideThrough:
		fmt.Fprintf(b, "- expected of a good client: **ride through** (%s): breaker closed, errors near zero; a breaker that opens is a false ejection\n", sc.ExpectWhy)
	case manifest.ExpectDetect:
		fmt.Fprintf(b, "- expected of a good client: **detect and recover** (%s): fail fast (sooner is better), recover soon after the fault\n", sc.ExpectWhy)
	}
	if sc.Status == manifest.StatusInvalid {
		fmt.Fprintf(b, "- **invalid, excluded from the verdict**: %s\n", sc.Error)
	}
	if u := unsteadyScenario(sd.Unsteady); u != "" {
		fmt.Fprintf(b, "- **invalid, excluded from the verdict**: %s\n", u)
	}
	for _, p := range sc.Phases {
		fmt.Fprintf(b, "- %s: %s\n", p.Name, p.End.Sub(p.Start).Round(time.Millisecond))
	}
	if sc.Event != nil {
		fmt.Fprintf(b, "- fault event: %s from the fault's start\n", sc.Event.WindowEnd.Sub(sc.Event.WindowStart).Round(time.Millisecond))
	}
	for _, n := range sc.Notes {
		fmt.Fprintf(b, "- note: %s\n", n)
	}
	b.WriteString("\n")
	if !sd.Compared {
		if in.Diff.Base != nil {
			b.WriteString("On the head side only: shown, not compared.\n\n")
		}
	}
	writeGating(b, in.New, sd)
	writeOthers(b, sd)
	if in.ChartsDir != "" {
		fmt.Fprintf(b, "![%s: throughput, error ratio and p99 over time, median of the arms per side with their range](%s/%s.png)\n\n", sd.Name, in.ChartsDir, sd.Name)
	}
	b.WriteString(Mermaid(sc))
	for _, l := range in.Links[sd.Name] {
		fmt.Fprintf(b, "- [%s](%s)\n", l.Text, l.URL)
	}
	if len(in.Links[sd.Name]) > 0 {
		b.WriteString("\n")
	}
}

func params(p fault.Params) string {
	vs := fault.Values(p)
	slices.SortFunc(vs, func(a, b fault.Value) int { return strings.Compare(a.Key, b.Key) })
	var parts []string
	for _, v := range vs {
		parts = append(parts, fmt.Sprintf("%s=%g", v.Key, v.V))
	}
	return strings.Join(parts, " ")
}

func phaseLabel(k compare.Key) string {
	switch k.Phase {
	case compare.PhaseResilience:
		return ""
	case compare.PhaseEvent:
		return "fault event"
	}
	return k.Phase
}

// writeGating writes the gating figures: both sides' medians with their
// arm ranges, the effect with its interval, the floor (the smallest change
// this run could flag), and a one-line reason per verdict.
func writeGating(b *strings.Builder, f *results.File, sd compare.Scenario) {
	var rows []compare.Row
	for _, r := range sd.Rows {
		if r.Gating && (r.Base.N > 0 || r.Head.N > 0) {
			rows = append(rows, r)
		}
	}
	integ, hasInteg := row(sd, compare.Key{Phase: compare.PhaseResilience, Name: "integrity_violations"})
	if len(rows) == 0 && !hasInteg {
		return
	}
	b.WriteString("**Gating figures**\n\n")
	writeRows(b, f, sd.Name, rows)
	if hasInteg {
		v := "0"
		if sd.Integrity > 0 {
			v = fmt.Sprintf("**%g on a head arm: fails the run**", sd.Integrity)
		}
		fmt.Fprintf(b, "- integrity violations: base %s, head %s: %s\n", SideCell(integ.Base, integ.Unit), SideCell(integ.Head, integ.Unit), v)
	}
	b.WriteString("\n")
}

// writeRows writes gating rows: both sides' medians with their arm ranges,
// the effect with its interval, the policy floor, the confirmation stage
// when one ran, and a one-line reason per verdict.
func writeRows(b *strings.Builder, f *results.File, scenario string, rows []compare.Row) {
	b.WriteString("| figure | phase | base | head | effect (head − base) | p | smallest change worth acting on | confirmation | verdict |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fl := ""
		if !math.IsNaN(float64(r.Floor)) {
			fl = units.Change(float64(r.Floor), r.Unit) + " (" + string(r.FloorFrom) + ")"
		}
		conf := ""
		if c := r.Confirm; c != nil {
			p := "—"
			if c.P != nil {
				p = fmt.Sprintf("%.3f", *c.P)
			}
			conf = fmt.Sprintf("%s → %s, p %s", Value(float64(c.Base.Median), r.Unit), Value(float64(c.Head.Median), r.Unit), p)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", Label(r.Key), phaseLabel(r.Key),
			SideCell(r.Base, r.Unit), SideCell(r.Head, r.Unit), Effect(r), P(r), fl, conf, VerdictCell(r.Verdict))
	}
	b.WriteString("\n")
	for _, r := range rows {
		if s := Reason(scenario, r); s != "" {
			fmt.Fprintf(b, "- %s: %s\n", VerdictCell(r.Verdict), s)
		}
		if s := StageReason(r); s != "" {
			fmt.Fprintf(b, "  - confirmation stage: %s\n", s)
		}
		for _, n := range notes(f, scenario, r.Key) {
			fmt.Fprintf(b, "  - %s: %s\n", Label(r.Key), n)
		}
	}
}

// writeOthers writes the informational rows that changed; the others are
// counted and left to diff.json.
func writeOthers(b *strings.Builder, sd compare.Scenario) {
	var shown []compare.Row
	same := 0
	oneSide := map[compare.Verdict][]string{}
	for _, r := range sd.Rows {
		if r.Gating || r.Key.Name == "integrity_violations" {
			continue
		}
		switch r.Verdict {
		case compare.Worse, compare.Better, compare.Changed:
			shown = append(shown, r)
		case compare.Added, compare.Removed:
			l := Label(r.Key) + " " + phaseLabel(r.Key)
			if !slices.Contains(oneSide[r.Verdict], l) {
				oneSide[r.Verdict] = append(oneSide[r.Verdict], strings.TrimSpace(l))
			}
		default:
			same++
		}
	}
	if len(shown) > 0 {
		b.WriteString("**Other figures that changed** (informational, never gating)\n\n")
		b.WriteString("| figure | phase | base | head | effect (head − base) | p | verdict |\n|---|---|---|---|---|---|---|\n")
		for _, r := range shown {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", Label(r.Key), phaseLabel(r.Key),
				SideCell(r.Base, r.Unit), SideCell(r.Head, r.Unit), Effect(r), P(r), VerdictCell(r.Verdict))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "%d more informational figure(s) without a significant change beyond their floor; every row is in diff.json.\n", same)
	if l := oneSide[compare.Removed]; len(l) > 0 {
		fmt.Fprintf(b, "On the base side only: %s.\n", strings.Join(l, ", "))
	}
	if l := oneSide[compare.Added]; len(l) > 0 {
		fmt.Fprintf(b, "On the head side only: %s.\n", strings.Join(l, ", "))
	}
	b.WriteString("\n")
}
