package report_test

import (
	"bytes"
	"flag"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcchaos/mcchaos/collect/compare"
	"github.com/mcchaos/mcchaos/collect/report"
	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/collect/results/resultstest"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(run go test -update if the change is intended)", path, i+1, g, w)
			}
		}
	}
}

// TestMarkdownGolden renders report.md and diff.json for the SYNTHETIC
// fixtures of resultstest: without a baseline, a paired A/A, a paired
// planted regression, a stored baseline of another host class with an
// integrity failure.
func TestMarkdownGolden(t *testing.T) {
	base := resultstest.File(resultstest.Options{Seed: 1})
	for _, tc := range []struct {
		name     string
		old, new *results.File
		warnings []string
		confirm  *results.File // the confirmation stage, if any
	}{
		{"no-baseline", nil, resultstest.File(resultstest.Options{Seed: 2}), nil, nil},
		{"aa", nil, resultstest.File(resultstest.Options{Seed: 2, Paired: true}), nil, nil},
		{"planted", nil, resultstest.File(resultstest.Options{Seed: 2, Paired: true, Planted: true}), []string{"Grafana snapshots skipped: grafana: unreachable"},
			resultstest.File(resultstest.Options{Seed: 3, Paired: true, Planted: true})},
		// The first stage alone: candidates, not regressions.
		{"candidates", nil, resultstest.File(resultstest.Options{Seed: 2, Paired: true, Planted: true}), nil, nil},
		// +1 ms on every operation and a breaker that ejects a slow server
		// answering within the timeout: the healthy path and false
		// ejections, confirmed.
		{"slow-ejecting", nil, resultstest.File(resultstest.Options{Seed: 4, Paired: true, Slow: 0.001, FalseEject: true}), nil,
			resultstest.File(resultstest.Options{Seed: 5, Paired: true, Slow: 0.001, FalseEject: true, Scenarios: []string{"latency-200ms-5s", "latency-200ms-10s", "latency-200ms-40s", "latency-200ms-2m"}})},
		{"integrity", base, resultstest.File(resultstest.Options{Seed: 2, IntegrityIn: "packet-loss-5-pct", CPUs: 4}), nil, nil},
		// A real paired A/A smoke run (see collect/compare/testdata/recorded).
		{"recorded", nil, readRecorded(t, "aa-smoke-1"), nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := compare.Compare(tc.old, tc.new, compare.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.confirm != nil {
				d2, err := compare.Compare(tc.old, tc.confirm, compare.Config{})
				if err != nil {
					t.Fatal(err)
				}
				d = compare.Confirm(d, d2)
			}
			in := report.Input{Diff: d, New: tc.new, ChartsDir: "charts", Warnings: tc.warnings,
				Links: map[string][]report.Link{"packet-loss-100-pct": {{Text: "Grafana snapshot (data embedded)", URL: "http://grafana.example/dashboard/snapshot/abc"}}}}
			if tc.old != nil {
				in.BaselinePath = "baselines/pr.json"
			}
			var b bytes.Buffer
			if err := report.Markdown(&b, in); err != nil {
				t.Fatal(err)
			}
			golden(t, "report-"+tc.name+".md", b.Bytes())
			var js bytes.Buffer
			if err := report.JSON(&js, d); err != nil {
				t.Fatal(err)
			}
			golden(t, "diff-"+tc.name+".json", js.Bytes())
			md := b.String()
			// Every scenario has a summary row and a section.
			for _, s := range tc.new.ScenarioNames() {
				if !strings.Contains(md, "| [`"+s+"`](#"+s+")") || !strings.Contains(md, "\n## "+s+"\n") {
					t.Errorf("scenario %s: no summary row or section", s)
				}
			}
			if !strings.Contains(md, "```mermaid\nxychart-beta") || !strings.Contains(md, "## Glossary") {
				t.Error("no Mermaid chart or glossary")
			}
		})
	}
}

func TestChartsArePNGs(t *testing.T) {
	run := resultstest.Run(resultstest.Options{Paired: true, Scenarios: []string{"latency-200ms-100ms", "packet-loss-100-pct"}})
	dir := t.TempDir()
	files, err := report.Charts(dir, &run)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("files = %v, want 2", files)
	}
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 400 {
			t.Errorf("%s: %v, want a readable size", f, b)
		}
	}
}

func TestValueFormats(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		unit string
		want string
	}{
		{0.000250, "s", "250 µs"},
		{0.2, "s", "200.0 ms"},
		{1.5, "s", "1.50 s"},
		{0.0123, "ratio", "1.23 %"},
		{0, "ratio", "0 %"},
		{1234.4, "ops/s", "1234 ops/s"},
		{math.NaN(), "s", "no data"},
		{math.Inf(1), "s", "not reached"},
		{3, "count", "3"},
		{1.057, "x", "1.06×"},
	} {
		if got := report.Value(tc.v, tc.unit); got != tc.want {
			t.Errorf("Value(%g, %s) = %q, want %q", tc.v, tc.unit, got, tc.want)
		}
	}
}

func readRecorded(t *testing.T, name string) *results.File {
	t.Helper()
	f, err := results.Read(filepath.Join("..", "compare", "testdata", "recorded", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestEveryIssueHasWords: each issue code compare can return is said in a
// sentence of its own (not the fallback that names the code), with every
// field it fills.
func TestEveryIssueHasWords(t *testing.T) {
	key := compare.Key{Phase: "testing", Name: "throughput"}
	for _, c := range compare.IssueCodes {
		i := compare.Issue{Code: c, Scenario: "packet-loss-5-pct", Run: "r1", Side: "head", Key: &key, Arms: []int{2, 4},
			N: 3, Of: 5, Value: 0.3, Limit: 0.05, Base: "b-value", Head: "h-value"}
		s := report.Issue(i)
		if strings.Contains(s, string(c)) || strings.Contains(s, "%!") || s == "" {
			t.Errorf("%s: %q", c, s)
		}
		i.Confirmation = true
		if got := report.Issue(i); got != "confirmation stage: "+s {
			t.Errorf("%s of the confirmation stage: %q", c, got)
		}
	}
}

// TestHeadline: the one-line verdict (bench's and collect's `verdict:`
// line) says what the comparison found, in the words the tools that parse
// it look for.
func TestHeadline(t *testing.T) {
	planted := func(seed uint64) *results.File {
		return resultstest.File(resultstest.Options{Seed: seed, Paired: true, Planted: true})
	}
	old := resultstest.File(resultstest.Options{Seed: 1, Scenarios: []string{"packet-loss-2-pct", "packet-loss-5-pct"}})
	short := resultstest.File(resultstest.Options{Seed: 2, Paired: true, Scenarios: []string{"packet-loss-100-pct"}})
	for _, m := range short.Runs[0].Scenarios[0].Resilience {
		if m.Name == "time_to_recover" {
			m.Arms["head"][3] = math.NaN()
		}
	}
	invalid := planted(1)
	sc, _ := invalid.Runs[0].Scenario("packet-loss-100-pct")
	sc.Status = manifest.StatusInvalid
	for _, tc := range []struct {
		name        string
		old, new    *results.File
		confirm     *results.File // the confirmation stage, if any
		prefix, has string
	}{
		{"stored baseline", resultstest.File(resultstest.Options{Seed: 1}), resultstest.File(resultstest.Options{Seed: 2}), nil,
			"advisory, against a stored baseline of another day (not a paired experiment; nothing gates): ", ""},
		{"partly overlapping", old, resultstest.File(resultstest.Options{Seed: 2, Scenarios: []string{"packet-loss-5-pct", "packet-loss-10-pct"}}), nil,
			"advisory", "no gating figure worse in 1 scenario compared"},
		{"disjoint", old, resultstest.File(resultstest.Options{Seed: 2, Scenarios: []string{"packet-loss-10-pct"}}), nil,
			"not compared: no scenario ran on both sides: nothing compared", ""},
		{"first stage", nil, planted(1), nil, "", "candidate regression(s) in 14 scenarios compared, not confirmed: no second stage ran (bench runs one after the first unless -no-confirm is given or the run stopped early): packet-loss-2-pct (throughput, p99 latency); "},
		{"confirmed", nil, planted(1), planted(2), "", "regressions, confirmed by a second stage, in 14 scenarios compared: "},
		{"refuted", nil, planted(1), resultstest.File(resultstest.Options{Seed: 2, Paired: true}), "no regression in 14 scenarios compared (", "candidate(s) of the first stage not confirmed by the second: "},
		{"an arm missing", nil, short, nil, "not compared: packet-loss-100-pct: gating figure resilience time_to_recover has 4 of 5 head arms (no value for arm 4)", ""},
		{"invalid", nil, invalid, nil, "", "; 1 scenario(s) invalid (faults not in effect as requested, or no steady state before them): packet-loss-100-pct"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := compare.Compare(tc.old, tc.new, compare.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.confirm != nil {
				d2, err := compare.Compare(tc.old, tc.confirm, compare.Config{})
				if err != nil {
					t.Fatal(err)
				}
				d = compare.Confirm(d, d2)
			}
			if got := report.Headline(d); !strings.HasPrefix(got, tc.prefix) || !strings.Contains(got, tc.has) {
				t.Errorf("%q, want it to start %q and hold %q", got, tc.prefix, tc.has)
			}
		})
	}
}
