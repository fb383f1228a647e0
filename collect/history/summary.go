package history

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/mcchaos/mcchaos/collect/internal/units"
	"github.com/mcchaos/mcchaos/collect/report"
)

// short is a commit's first 7 characters.
func short(c string) string {
	if len(c) > 7 {
		return c[:7]
	}
	return c
}

// Title names a series in a sentence and a file: scenario, phase, figure.
func (s Series) Title() string {
	return s.Scenario + ": " + s.Key.Phase + " " + report.Label(s.Key)
}

// FileName is the chart's file name of a series.
func (s Series) FileName() string {
	r := strings.NewReplacer("{", "-", "}", "", "=", "-", ",", "-", " ", "-", "/", "-")
	return r.Replace(s.Scenario+"_"+s.Key.Phase+"_"+s.Key.Metric()) + ".png"
}

// WriteMarkdown writes the summary of r (for GITHUB_STEP_SUMMARY): the
// method and the history it needs, then one row per change point (the
// commit where the step began, the step, its p-value), then the charts and
// the series that could not be analysed.
func WriteMarkdown(w io.Writer, r *Result, charts map[string]string) error {
	var b strings.Builder
	pts := r.Points
	fmt.Fprintf(&b, "## Change points on main: profile %s, %d runs", r.Profile, len(pts))
	if len(pts) > 0 {
		fmt.Fprintf(&b, " (%s `%s` … %s `%s`)", pts[0].Start.UTC().Format("2006-01-02 15:04"), short(pts[0].Commit), pts[len(pts)-1].Start.UTC().Format("2006-01-02 15:04"), short(pts[len(pts)-1].Commit))
	}
	b.WriteString("\n\n")
	c := r.Config
	fmt.Fprintf(&b, "E-divisive means (Matteson and James 2014) in Otava's windows of %d runs, each split tested by %d permutations at α = %g; "+
		"a step must hold for %d runs and exceed the figure's floor (compare's policy, mcchaos.yml). Series: the median of each run's head arms, per gating figure. "+
		"**Minimum history: %d runs** of a figure (a step held by the last %d of n runs reaches at best p = 2/C(n, %d)).\n\n",
		c.Window, c.Permutations, c.Alpha, c.MinSize, r.MinHistory, c.MinSize, c.MinSize)
	changed := r.Changed()
	analysed := 0
	for _, a := range r.Series {
		if a.Note == "" {
			analysed++
		}
	}
	if len(changed) == 0 {
		fmt.Fprintf(&b, "No change point in %d gating series analysed.\n\n", analysed)
	} else {
		n := 0
		for _, a := range changed {
			n += len(a.Changes)
		}
		fmt.Fprintf(&b, "**%d change point(s)** in %d of %d gating series analysed.\n\n", n, len(changed), analysed)
		b.WriteString("| scenario | figure | step began at | before → after | step | p | |\n|---|---|---|---|---|---|---|\n")
		for _, a := range changed {
			for _, ch := range a.Changes {
				dir := "changed"
				switch {
				case ch.Worse:
					dir = "**worse**"
				case a.Direction == "higher" || a.Direction == "lower":
					dir = "better"
				}
				step := units.Signed(ch.After-ch.Before, a.Unit)
				if ch.Before != 0 && !math.IsInf(ch.Before, 0) {
					step += strings.Replace(fmt.Sprintf(" (%+.0f %%)", 100*(ch.After-ch.Before)/math.Abs(ch.Before)), "-", "−", 1)
				}
				fmt.Fprintf(&b, "| %s | %s %s | `%s` (%s, run %s; previous `%s`) | %s → %s | %s | %.3f | %s |\n",
					a.Scenario, a.Key.Phase, report.Label(a.Key), short(ch.Run.Commit), ch.Run.Start.UTC().Format("2006-01-02 15:04"), ch.Run.RunID, short(ch.Prev.Commit),
					shown(a, ch.Before), shown(a, ch.After), step, ch.P, dir)
			}
		}
		b.WriteString("\n")
		for _, a := range changed {
			b.WriteString(mermaid(a))
			if f, ok := charts[a.Title()]; ok {
				fmt.Fprintf(&b, "Chart: `charts/%s` (beside history.md; on GitHub in the artifact history).\n\n", filepath.Base(f))
			}
		}
	}
	for _, sk := range r.Skipped {
		fmt.Fprintf(&b, "Skipped: %s\n\n", sk)
	}
	var notes []string
	for _, a := range r.Series {
		if a.Note != "" {
			notes = append(notes, fmt.Sprintf("- %s: %s", a.Title(), a.Note))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(&b, "<details><summary>%d series not analysed</summary>\n\n%s\n\n</details>\n", len(notes), strings.Join(notes, "\n"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mermaid is a Mermaid line chart of a changed series, which GitHub draws
// in a job summary: the value of each run, the x axis labelled by commit.
func mermaid(a Analysis) string {
	var xs, ys []string
	for i, v := range a.Plot {
		xs = append(xs, fmt.Sprintf("%q", short(fmt.Sprint(a.Runs[i]))))
		ys = append(ys, fmt.Sprintf("%.6g", v))
	}
	var steps []string
	for _, ch := range a.Changes {
		steps = append(steps, fmt.Sprintf("run %d (%s)", a.Runs[ch.Index], short(ch.Run.Commit)))
	}
	return fmt.Sprintf("```mermaid\nxychart-beta\n    title \"%s (%s) per run; steps at %s\"\n    x-axis \"run, oldest first\" [%s]\n    y-axis \"%s\"\n    line [%s]\n```\n\n",
		a.Title(), a.Unit, strings.Join(steps, ", "), strings.Join(xs, ", "), a.Unit, strings.Join(ys, ", "))
}

// shown formats a segment median, naming the not-reached stand-in.
func shown(a Analysis, v float64) string {
	for i, x := range a.Values {
		if math.IsInf(x, 1) && a.Plot[i] == v {
			return "not reached"
		}
	}
	return units.Value(v, a.Unit)
}

// WriteCharts writes one PNG per changed series into dir and returns the
// files by series title.
func WriteCharts(dir string, r *Result) (map[string]string, error) {
	out := map[string]string{}
	changed := r.Changed()
	if len(changed) == 0 {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return out, fmt.Errorf("history charts: %w", err)
	}
	for _, a := range changed {
		path := filepath.Join(dir, a.FileName())
		if err := chart(path, r, a); err != nil {
			return out, fmt.Errorf("history chart %s: %w", a.Title(), err)
		}
		out[a.Title()] = path
	}
	return out, nil
}

var (
	pointColor = color.NRGBA{R: 30, G: 80, B: 180, A: 255}
	levelColor = color.NRGBA{R: 110, G: 110, B: 110, A: 255}
	stepColor  = color.NRGBA{R: 220, G: 60, B: 40, A: 255}
)

// chart draws a series run by run, the median of each segment between
// change points, and a red line at each step labelled with its commit.
func chart(path string, r *Result, a Analysis) error {
	p := plot.New()
	p.Title.Text = a.Title() + ": median of the head arms per run; grey = segment median, red = change point (first commit after the step)"
	p.Title.TextStyle.Font.Size = vg.Points(9)
	p.X.Label.Text = "run, oldest first"
	p.Y.Label.Text = units.Name(a.Key.Name) + " (" + a.Unit + ")"
	xy := make(plotter.XYs, len(a.Plot))
	for i, v := range a.Plot {
		xy[i] = plotter.XY{X: float64(a.Runs[i]), Y: v}
	}
	line, pts, err := plotter.NewLinePoints(xy)
	if err != nil {
		return err
	}
	line.Color, pts.Color = pointColor, pointColor
	p.Add(line, pts)
	bounds := []int{0}
	for _, ch := range a.Changes {
		bounds = append(bounds, ch.Index)
	}
	bounds = append(bounds, len(a.Plot))
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, v := range a.Plot {
		ymin, ymax = min(ymin, v), max(ymax, v)
	}
	for s := 0; s+1 < len(bounds); s++ {
		lo, hi := bounds[s], bounds[s+1]
		var lvl float64
		if s == 0 && len(a.Changes) > 0 {
			lvl = a.Changes[0].Before
		} else {
			lvl = a.Changes[s-1].After
		}
		l, err := plotter.NewLine(plotter.XYs{{X: float64(a.Runs[lo]) - 0.4, Y: lvl}, {X: float64(a.Runs[hi-1]) + 0.4, Y: lvl}})
		if err != nil {
			return err
		}
		l.Color, l.Width = levelColor, vg.Points(2)
		p.Add(l)
	}
	var ticks []plot.Tick
	for _, ch := range a.Changes {
		x := float64(a.Runs[ch.Index]) - 0.5
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: ymin}, {X: x, Y: ymax}})
		if err != nil {
			return err
		}
		l.Color, l.Dashes = stepColor, []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		ticks = append(ticks, plot.Tick{Value: float64(a.Runs[ch.Index]), Label: short(ch.Run.Commit)})
	}
	ticks = append(ticks, plot.Tick{Value: 0, Label: "0"}, plot.Tick{Value: float64(len(r.Points) - 1), Label: fmt.Sprint(len(r.Points) - 1)})
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = -0.5, float64(len(r.Points))-0.5
	p.Add(plotter.NewGrid())
	return report.WritePNG(path, [][]*plot.Plot{{p}}, vg.Points(720), vg.Points(300))
}
