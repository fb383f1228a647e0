// Package report writes what people and machines read after a run: the
// Markdown report (verdict first, summary of every scenario, a table and a
// chart per scenario, a glossary), diff.json, PNG charts with gonum/plot and
// Mermaid xychart-beta charts for pull-request comments.
//
// A reporter only formats: the figures come from collect/results and the
// verdicts from collect/compare.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/collect/compare"
	"github.com/mcchaos/mcchaos/collect/results"
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
	// BaselinePath names the baseline file(s); empty without a baseline.
	BaselinePath string
	// ChartsDir is where the PNG charts are, relative to the report. If
	// empty, no PNG is linked.
	ChartsDir string
	// Links are extra links per scenario name.
	Links map[string][]Link
	// Warnings are shown under the verdict (e.g. Grafana unreachable).
	Warnings []string
}

// headline are the metric keys shown for the testing phase of every
// scenario, and always are the first three for every phase; other rows are
// shown only when their verdict is not "~".
var headline = []string{
	"throughput", "error_ratio", "latency_p99{op=all}",
	"latency_p50{op=all}", "latency_p999{op=all}", "connections_created", "integrity_violations",
}

// JSON writes d as indented JSON.
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

// Summary writes the head of the report only (verdict, run and baseline,
// summary table), small enough for a pull-request comment; full points to
// the full report.
func Summary(w io.Writer, in Input, full string) error {
	var b strings.Builder
	writeHead(&b, in)
	fmt.Fprintf(&b, "Per-scenario tables, charts and the glossary: %s.\n", full)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeHead(b *strings.Builder, in Input) {
	d := in.Diff
	run := in.New.Runs[len(in.New.Runs)-1]
	fmt.Fprintf(b, "# mcchaos report: %s\n\n", run.RunID)
	b.WriteString(verdictLine(d) + "\n\n")
	warns := append(slices.Clone(d.Warnings), in.Warnings...)
	for _, r := range in.New.Runs {
		for _, n := range r.Notes {
			warns = append(warns, fmt.Sprintf("run %s: %s", r.RunID, n))
		}
	}
	for _, w := range warns {
		fmt.Fprintf(b, "> ⚠️ %s\n", w)
	}
	if len(warns) > 0 {
		b.WriteString("\n")
	}
	writeMeta(b, in)
	writeSummary(b, in)
}

func verdictLine(d *compare.Diff) string {
	n := 0
	for _, s := range d.Scenarios {
		if s.InNew {
			n++
		}
	}
	switch d.Verdict {
	case compare.VerdictIntegrity:
		return fmt.Sprintf("**🛑 Integrity failure**: a read returned a value that was not written (%s). This fails the run whatever the statistics say.",
			strings.Join(d.Integrity, "; "))
	case compare.VerdictNoBaseline:
		return fmt.Sprintf("**ℹ️ No baseline**: %d scenario(s) measured, nothing compared (no baseline given or found). No integrity violation.", n)
	case compare.VerdictRegression:
		var names []string
		for _, s := range d.Scenarios {
			if s.Regressions > 0 {
				names = append(names, fmt.Sprintf("`%s` (%d)", s.Name, s.Regressions))
			}
		}
		return fmt.Sprintf("**❌ %d regression(s)** in %s.", d.Regressions, strings.Join(names, ", "))
	}
	return fmt.Sprintf("**✅ No regression** in %d scenario(s) compared with the baseline. No integrity violation.", n)
}

func writeMeta(b *strings.Builder, in Input) {
	d := in.Diff
	run := d.New
	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(b, "| run | %s |\n", runLine(run))
	if d.Baseline != nil {
		fmt.Fprintf(b, "| baseline | `%s`: %s |\n", in.BaselinePath, runLine(*d.Baseline))
		fmt.Fprintf(b, "| samples | %s; U test (benchmath), alpha %g; minimum effects per metric in diff.json |\n", d.Samples, d.Alpha)
	} else {
		b.WriteString("| baseline | none |\n")
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
	return fmt.Sprintf("%s (%d run(s)), %s, %s, profile `%s`, client %s, stack %s, %d CPUs, %s",
		strings.Join(r.RunIDs, ", "), len(r.RunIDs), commit, r.Start, r.Profile, orDash(client), orDash(r.Stack), r.Host.CPUs, r.Host.GoVersion)
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

// row finds a row by phase and metric key.
func row(sd compare.Scenario, phase, key string) (compare.Row, bool) {
	for _, r := range sd.Rows {
		if r.Phase == phase && r.Metric == key {
			return r, true
		}
	}
	return compare.Row{}, false
}

// cell formats a row's new value with its change when there is a baseline.
func cell(sd compare.Scenario, phase, key string) string {
	r, ok := row(sd, phase, key)
	if !ok {
		return "—"
	}
	s := ptrValue(r.New, r.Unit)
	if r.New == nil && r.Note != "" {
		s = "not reached"
		if r.Old != nil {
			s += " (was " + Value(*r.Old, r.Unit) + ")"
		}
	}
	if r.Old != nil && r.New != nil {
		if r.Verdict == compare.Same {
			s += " ~"
		} else if dl := Delta(r); dl != "" && r.Verdict != compare.NotTested {
			s += " (" + dl + ")"
		}
	}
	return s
}

func writeSummary(b *strings.Builder, in Input) {
	b.WriteString("## Summary\n\n")
	b.WriteString("Figures of the testing phase (fault on); `~` means no significant change from the baseline.\n\n")
	b.WriteString("| scenario | fidelity | status | throughput (ops/s) | error ratio | p99 latency | time to detect | time to recover | integrity | verdict |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, sd := range in.Diff.Scenarios {
		if !sd.InNew {
			fmt.Fprintf(b, "| `%s` | %s | not run | | | | | | | in the baseline only |\n", sd.Name, sd.Fidelity)
			continue
		}
		v := "~"
		switch {
		case sd.Integrity > 0:
			v = "**integrity failure**"
		case sd.Regressions > 0:
			v = fmt.Sprintf("**%d regression(s)**", sd.Regressions)
		case !sd.InBaseline && in.Diff.Baseline != nil:
			v = "new (not in baseline)"
		case in.Diff.Baseline == nil:
			v = "no baseline"
		case sd.Improvements > 0:
			v = fmt.Sprintf("%d improvement(s)", sd.Improvements)
		}
		integ := "0"
		if sd.Integrity > 0 {
			integ = fmt.Sprintf("**%g**", sd.Integrity)
		}
		fmt.Fprintf(b, "| [`%s`](#%s) | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			sd.Name, sd.Name, sd.Fidelity, orDash(sd.Status),
			cell(sd, "testing", "throughput"), cell(sd, "testing", "error_ratio"), cell(sd, "testing", "latency_p99{op=all}"),
			cell(sd, compare.PhaseResilience, "time_to_detect"), cell(sd, compare.PhaseResilience, "time_to_recover"), integ, v)
	}
	b.WriteString("\n")
}

func writeScenario(b *strings.Builder, in Input, sd compare.Scenario) {
	fmt.Fprintf(b, "## %s\n\n", sd.Name)
	if !sd.InNew {
		b.WriteString("In the baseline, not run this time.\n\n")
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
		fmt.Fprintf(b, "- fault: %s %s on %s, injected by %s (%s fidelity)\n", f.Kind, params(f.Params), strings.Join(f.Targets, ", "), f.Injector, f.Fidelity)
	}
	for _, p := range sc.Phases {
		ext := ""
		if p.Extended {
			ext = fmt.Sprintf(", evaluated over %s (minimum window)", p.WindowEnd.Sub(p.WindowStart).Round(time.Millisecond))
		}
		fmt.Fprintf(b, "- %s: %s%s; samples are means of %d s blocks\n", p.Name, p.End.Sub(p.Start).Round(time.Millisecond), ext, p.BlockSeconds)
	}
	for _, n := range sc.Notes {
		fmt.Fprintf(b, "- note: %s\n", n)
	}
	b.WriteString("\n")
	if in.Diff.Baseline != nil && sd.InBaseline {
		writeCompared(b, sd)
	} else {
		writePlain(b, sd, sc)
	}
	writeResilience(b, in, sd)
	if in.ChartsDir != "" {
		fmt.Fprintf(b, "![%s: throughput, error ratio and p99 over time](%s/%s.png)\n\n", sd.Name, in.ChartsDir, sd.Name)
	}
	b.WriteString(Mermaid(sc))
	for _, l := range in.Links[sd.Name] {
		fmt.Fprintf(b, "- [%s](%s)\n", l.Text, l.URL)
	}
	if len(in.Links[sd.Name]) > 0 {
		b.WriteString("\n")
	}
}

func params(p map[string]float64) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%g", k, p[k]))
	}
	return strings.Join(parts, " ")
}

func shown(r compare.Row) bool {
	switch {
	case r.Verdict != compare.Same && r.Verdict != compare.NotTested:
		return true
	case r.Phase == "testing":
		return slices.Contains(headline, r.Metric)
	}
	return slices.Contains(headline[:3], r.Metric)
}

func writeCompared(b *strings.Builder, sd compare.Scenario) {
	b.WriteString("| metric | phase | baseline | now | delta | p | verdict |\n|---|---|---|---|---|---|---|\n")
	hidden := 0
	var warn []string
	oneSide := map[compare.Verdict][]string{}
	for _, r := range sd.Rows {
		if r.Phase == compare.PhaseResilience {
			continue
		}
		if r.Verdict == compare.Added || r.Verdict == compare.Removed {
			l := Label(r.Name, r.Labels)
			if !slices.Contains(oneSide[r.Verdict], l) {
				oneSide[r.Verdict] = append(oneSide[r.Verdict], l)
			}
			continue
		}
		if !shown(r) {
			hidden++
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", Label(r.Name, r.Labels), r.Phase,
			ptrValue(r.Old, r.Unit), ptrValue(r.New, r.Unit), Delta(r), P(r), VerdictCell(r.Verdict))
		for _, w := range r.Warnings {
			if !slices.Contains(warn, w) {
				warn = append(warn, w)
			}
		}
	}
	fmt.Fprintf(b, "\n%d more metric(s) compared with no significant change; all rows are in diff.json.\n", hidden)
	if l := oneSide[compare.Removed]; len(l) > 0 {
		fmt.Fprintf(b, "Only in the baseline (not exported by this run): %s.\n", strings.Join(l, ", "))
	}
	if l := oneSide[compare.Added]; len(l) > 0 {
		fmt.Fprintf(b, "New in this run (not in the baseline): %s.\n", strings.Join(l, ", "))
	}
	for _, w := range warn {
		fmt.Fprintf(b, "Statistical caveat: %s.\n", w)
	}
	b.WriteString("\n")
}

func writePlain(b *strings.Builder, sd compare.Scenario, sc *results.Scenario) {
	var phases []string
	for _, p := range sc.Phases {
		phases = append(phases, p.Name)
	}
	b.WriteString("| metric | " + strings.Join(phases, " | ") + " |\n|---" + strings.Repeat("|---", len(phases)) + "|\n")
	var keys []string
	for _, r := range sd.Rows {
		if r.Phase == compare.PhaseResilience || slices.Contains(keys, r.Metric) {
			continue
		}
		if slices.Contains(headline, r.Metric) || anyNonZero(sd, r.Metric) && r.Name != "latency_p90" {
			keys = append(keys, r.Metric)
		}
	}
	for _, k := range keys {
		var cells []string
		var name string
		var labels map[string]string
		for _, p := range phases {
			r, ok := row(sd, p, k)
			if !ok {
				cells = append(cells, "—")
				continue
			}
			name, labels = r.Name, r.Labels
			cells = append(cells, ptrValue(r.New, r.Unit))
		}
		fmt.Fprintf(b, "| %s | %s |\n", Label(name, labels), strings.Join(cells, " | "))
	}
	b.WriteString("\nOnly non-zero figures by class, server and operation are shown; all are in results.json.\n\n")
}

// anyNonZero reports whether a by-label metric is non-zero in some phase;
// per-operation latencies are left to results.json.
func anyNonZero(sd compare.Scenario, key string) bool {
	for _, r := range sd.Rows {
		if r.Metric == key && r.New != nil && *r.New != 0 && r.Labels["op"] == "" {
			return true
		}
	}
	return false
}

func writeResilience(b *strings.Builder, in Input, sd compare.Scenario) {
	var rows []compare.Row
	for _, r := range sd.Rows {
		if r.Phase == compare.PhaseResilience {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return
	}
	compared := in.Diff.Baseline != nil && sd.InBaseline
	if compared {
		b.WriteString("| resilience | baseline | now | delta | p | verdict |\n|---|---|---|---|---|---|\n")
	} else {
		b.WriteString("| resilience | value |\n|---|---|\n")
	}
	for _, r := range rows {
		now := ptrValue(r.New, r.Unit)
		if r.New == nil && r.Note != "" {
			now = "not reached: " + r.Note
		}
		if compared {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", Label(r.Name, nil), ptrValue(r.Old, r.Unit), now, Delta(r), P(r), verdictOrNote(r))
		} else {
			fmt.Fprintf(b, "| %s | %s |\n", Label(r.Name, nil), now)
		}
	}
	b.WriteString("\n")
}

func verdictOrNote(r compare.Row) string {
	if r.Verdict == compare.NotTested && r.New != nil {
		return "not tested (one value per run)"
	}
	return VerdictCell(r.Verdict)
}
