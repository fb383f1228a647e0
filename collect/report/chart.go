package report

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/mcchaos/mcchaos/collect/internal/robust"
	"github.com/mcchaos/mcchaos/collect/results"
)

// MaxMermaidPoints caps the points of a Mermaid line; longer series are
// averaged down.
const MaxMermaidPoints = 60

// panels are the series drawn per scenario, top to bottom.
var panels = []struct{ series, title, unit string }{
	{"throughput", "throughput", "ops/s"},
	{"error_ratio", "error ratio", "%"},
	{"latency_p99", "p99 latency", "ms"},
}

var (
	testingShade  = color.NRGBA{R: 230, G: 80, B: 60, A: 45}
	recoveryShade = color.NRGBA{R: 60, G: 160, B: 90, A: 40}
)

// Charts writes one PNG per scenario of run into dir (<scenario>.png):
// throughput, error ratio and p99 over time, the testing phase shaded red
// and recovery green. It returns the files written.
func Charts(dir string, run *results.Run) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("charts: %w", err)
	}
	var files []string
	for i := range run.Scenarios {
		sc := &run.Scenarios[i]
		path := filepath.Join(dir, sc.Name+".png")
		if err := chart(path, sc); err != nil {
			return files, fmt.Errorf("chart %s: %w", sc.Name, err)
		}
		files = append(files, path)
	}
	return files, nil
}

// sideStyle is how each side is drawn: its median line and its arm band.
var sideStyle = map[string]struct{ line, band color.Color }{
	results.SideBase: {color.NRGBA{R: 110, G: 110, B: 110, A: 255}, color.NRGBA{R: 110, G: 110, B: 110, A: 60}},
	results.SideHead: {color.NRGBA{R: 30, G: 80, B: 180, A: 255}, color.NRGBA{R: 30, G: 80, B: 180, A: 60}},
}

// band is one side's per-second median over its arms, and the range.
type band struct{ med, lo, hi []float64 }

func sideBand(arms []results.Values) band {
	n := 0
	for _, a := range arms {
		n = max(n, len(a))
	}
	bd := band{make([]float64, n), make([]float64, n), make([]float64, n)}
	for j := 0; j < n; j++ {
		var xs []float64
		for _, a := range arms {
			if j < len(a) && !math.IsNaN(a[j]) && !math.IsInf(a[j], 0) {
				xs = append(xs, a[j])
			}
		}
		bd.med[j] = robust.Median(xs)
		bd.lo[j], bd.hi[j] = robust.Bounds(xs)
	}
	return bd
}

func chart(path string, sc *results.Scenario) error {
	var rows [][]*plot.Plot
	for i, pn := range panels {
		p := plot.New()
		if i == 0 {
			p.Title.Text = sc.Name + " (" + sc.Fidelity + "): lines = median of the arms, bands = their range; grey base, blue head; red = fault on, green = recovery"
			p.Title.TextStyle.Font.Size = vg.Points(9)
		}
		p.Y.Label.Text = pn.title + " (" + pn.unit + ")"
		if i == len(panels)-1 {
			p.X.Label.Text = "seconds since the scenario started"
		}
		s, ok := findSeries(sc, pn.series)
		if !ok {
			rows = append(rows, []*plot.Plot{p})
			continue
		}
		scale := 1.0
		switch pn.unit {
		case "%":
			scale = 100
		case "ms":
			scale = 1000
		}
		ymax := 0.0
		type drawn struct {
			side string
			bd   band
		}
		var sides []drawn
		for _, side := range []string{results.SideBase, results.SideHead} {
			if arms, ok := s.Arms[side]; ok {
				bd := sideBand(arms)
				for _, v := range bd.hi {
					if !math.IsNaN(v) {
						ymax = max(ymax, v*scale)
					}
				}
				sides = append(sides, drawn{side, bd})
			}
		}
		if ymax == 0 {
			ymax = 1
		}
		for _, ph := range sc.Phases {
			var c color.Color
			switch ph.Name {
			case "testing":
				c = testingShade
			case "recovery":
				c = recoveryShade
			default:
				continue
			}
			x0, x1 := ph.Start.Sub(s.Start).Seconds(), ph.End.Sub(s.Start).Seconds()
			if x1-x0 < 0.2 {
				x1 = x0 + 0.2 // keep a 100 ms fault visible
			}
			poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: 0}, {X: x1, Y: 0}, {X: x1, Y: ymax * 1.05}, {X: x0, Y: ymax * 1.05}})
			if err != nil {
				return err
			}
			poly.Color = c
			poly.LineStyle.Width = 0
			p.Add(poly)
		}
		for _, sd := range sides {
			st := sideStyle[sd.side]
			var med, upper, lower plotter.XYs
			for j := range sd.bd.med {
				if math.IsNaN(sd.bd.med[j]) {
					continue
				}
				x := float64(j) * s.StepS
				med = append(med, plotter.XY{X: x, Y: sd.bd.med[j] * scale})
				upper = append(upper, plotter.XY{X: x, Y: sd.bd.hi[j] * scale})
				lower = append(lower, plotter.XY{X: x, Y: sd.bd.lo[j] * scale})
			}
			if len(med) == 0 {
				continue
			}
			if len(med) > 1 {
				poly := append(slices.Clone(upper), reversed(lower)...)
				pg, err := plotter.NewPolygon(poly)
				if err != nil {
					return err
				}
				pg.Color = st.band
				pg.LineStyle.Width = 0
				p.Add(pg)
			}
			l, err := plotter.NewLine(med)
			if err != nil {
				return err
			}
			l.Color = st.line
			l.Width = vg.Points(1.2)
			p.Add(l)
		}
		p.Y.Min = 0
		p.Add(plotter.NewGrid())
		rows = append(rows, []*plot.Plot{p})
	}
	return WritePNG(path, rows, vg.Points(720), vg.Points(620))
}

// WritePNG draws rows of plots, one column, aligned, into a PNG of that
// size: the layout of every chart collect writes.
func WritePNG(path string, rows [][]*plot.Plot, width, height vg.Length) error {
	img := vgimg.New(width, height)
	dc := draw.New(img)
	t := draw.Tiles{Rows: len(rows), Cols: 1, PadX: vg.Millimeter, PadY: vg.Millimeter * 2,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 3}
	canvases := plot.Align(rows, t, dc)
	for i := range rows {
		rows[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func reversed(xs plotter.XYs) plotter.XYs {
	out := slices.Clone(xs)
	slices.Reverse(out)
	return out
}

func findSeries(sc *results.Scenario, name string) (results.Series, bool) {
	for _, s := range sc.Series {
		if s.Name == name {
			return s, true
		}
	}
	return results.Series{}, false
}

// Mermaid returns a fenced Mermaid xychart-beta block of the scenario's
// throughput and errors per second, or "" without series. GitHub renders it
// in a pull-request comment without any hosting.
func Mermaid(sc *results.Scenario) string {
	thrS, ok1 := findSeries(sc, "throughput")
	errS, ok2 := findSeries(sc, "errors")
	if !ok1 || !ok2 || len(thrS.Arms[results.SideHead]) == 0 {
		return ""
	}
	thr := struct {
		Values []float64
		Start  time.Time
		StepS  float64
	}{sideBand(thrS.Arms[results.SideHead]).med, thrS.Start, thrS.StepS}
	errs := struct{ Values []float64 }{sideBand(errS.Arms[results.SideHead]).med}
	// Drop the undefined seconds at the ends (before the first scrape pair).
	lo, hi := 0, len(thr.Values)
	for lo < hi && math.IsNaN(thr.Values[lo]) {
		lo++
	}
	for hi > lo && math.IsNaN(thr.Values[hi-1]) {
		hi--
	}
	if lo == hi {
		return ""
	}
	a, step := downsample(thr.Values[lo:hi], MaxMermaidPoints)
	e, _ := downsample(errs.Values[lo:min(hi, len(errs.Values))], MaxMermaidPoints)
	ymax := 1.0
	for _, v := range a {
		ymax = max(ymax, v)
	}
	for _, v := range e {
		ymax = max(ymax, v)
	}
	var ph []string
	for _, p := range sc.Phases {
		if p.Name != "stabilization" {
			ph = append(ph, fmt.Sprintf("%s from %.0f s", p.Name, p.Start.Sub(thr.Start).Seconds()))
		}
	}
	var b strings.Builder
	b.WriteString("```mermaid\nxychart-beta\n")
	fmt.Fprintf(&b, "    title \"%s, head median of the arms: ok ops/s (upper line), errors/s (lower); %s\"\n", sc.Name, strings.Join(ph, ", "))
	fmt.Fprintf(&b, "    x-axis \"seconds (%g s per point)\" %.0f --> %.0f\n", step*thr.StepS, float64(lo)*thr.StepS, float64(hi-1)*thr.StepS)
	fmt.Fprintf(&b, "    y-axis \"per second\" 0 --> %.0f\n", math.Ceil(ymax*1.1))
	fmt.Fprintf(&b, "    line %s\n", list(a))
	fmt.Fprintf(&b, "    line %s\n", list(e))
	b.WriteString("```\n\n")
	return b.String()
}

// downsample averages vs into at most n points (NaN counted as 0) and
// returns the number of input points per output point.
func downsample(vs []float64, n int) ([]float64, float64) {
	k := int(math.Ceil(float64(len(vs)) / float64(n)))
	k = max(k, 1)
	var out []float64
	for i := 0; i < len(vs); i += k {
		sum, c := 0.0, 0
		for _, v := range vs[i:min(i+k, len(vs))] {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				sum += v
			}
			c++
		}
		out = append(out, sum/float64(c))
	}
	return out, float64(k)
}

func list(vs []float64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%.0f", v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
