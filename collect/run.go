package collect

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/mcchaos/mcchaos/collect/compare"
	"github.com/mcchaos/mcchaos/collect/grafana"
	"github.com/mcchaos/mcchaos/collect/report"
	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/internal/atomicfile"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/internal/profile"
	"github.com/mcchaos/mcchaos/internal/vcs"
)

// Defaults of Options.
const (
	DefaultPrometheusURL = "http://127.0.0.1:9091"
	DefaultBaselineDir   = "baselines"
	// DefaultSince: see Options.Since.
	DefaultSince = time.Hour
	// BaselineAuto as a baseline path means baselines/<profile>.json when it
	// exists, and no baseline otherwise.
	BaselineAuto = "auto"
)

// Output file names in the run directory.
const (
	ResultsFile = "results.json"
	DiffFile    = "diff.json"
	ReportFile  = "report.md"
	SummaryFile = "summary.md"
	ChartsDir   = "charts"
	// ConfirmDir holds the confirmation stage's results.json.
	ConfirmDir = "confirm"
	GrafanaDir = "grafana"
)

// FailOn says when Run returns ErrFailed.
type FailOn string

// FailOn values.
const (
	FailOnRegression FailOn = "regression" // a regression or an integrity violation
	FailOnIntegrity  FailOn = "integrity"  // an integrity violation only
	FailOnNever      FailOn = "never"
)

// ParseFailOn checks a -fail-on value.
func ParseFailOn(s string) (FailOn, error) {
	switch f := FailOn(s); f {
	case FailOnRegression, FailOnIntegrity, FailOnNever:
		return f, nil
	}
	return "", fmt.Errorf("%w: -fail-on %q: want regression, integrity or never", ErrUsage, s)
}

// ErrFailed is returned (wrapped) when the verdict triggers FailOn: exit 1.
var ErrFailed = errors.New("collect: failed")

// ErrUsage and ErrInput mark bad flags and bad input files: exit 2.
var (
	ErrUsage = errors.New("collect: usage")
	ErrInput = errors.New("collect: bad input")
)

// Options is what one invocation of collect does: either collect runs from
// Prometheus (RunDirs or Manifests), or compare result files offline
// (CompareOld and CompareNew).
type Options struct {
	// RunDirs are run directories holding manifest.json. Several are
	// repeated runs of one profile; their outputs go to OutDir.
	RunDirs []string
	// Manifests are manifest paths; each one's directory is its run dir.
	Manifests []string
	// PrometheusURL: if empty, DefaultPrometheusURL.
	PrometheusURL string
	// Baselines are results files to compare against (several are merged
	// as repeated runs), or BaselineAuto. None: no comparison.
	Baselines []string
	// UpdateBaseline writes the new results to BaselineDir/<profile>.json.
	UpdateBaseline bool
	// BaselineDir: if empty, DefaultBaselineDir.
	BaselineDir string
	// CompareOld and CompareNew are results files for an offline comparison.
	// CompareNew may be a paired run alone (CompareOld empty).
	CompareOld, CompareNew []string
	// ConfirmDirs are the run directories of the confirmation stage (the
	// scenarios with candidates, run again with fresh processes and a new
	// arm order); their results go to OutDir/confirm. CompareConfirm are
	// their results files in offline mode.
	ConfirmDirs, CompareConfirm []string
	// Policy is the policy file (compare.PolicyFile at the repository's
	// root); empty or missing: compare.DefaultPolicy.
	Policy string
	// Since is how far back to look for scenariod's metrics when a run
	// directory has no manifest.json. If zero, DefaultSince.
	Since time.Duration
	// Profile names the profile of a run rebuilt without a manifest. If
	// empty, profile.Default (and the report says so).
	Profile string
	// OutDir receives the outputs. If empty, the last run directory, or in
	// offline mode the directory of the first new file.
	OutDir string
	// FailOn: if empty, FailOnNever.
	FailOn FailOn
	// Compare and Collect configure the comparison and the collection.
	Compare compare.Config
	Collect Config
	// Grafana: snapshots are made when Grafana.URL is set.
	Grafana grafana.Config
	// StepSummary is a file the report is appended to ($GITHUB_STEP_SUMMARY).
	StepSummary string
	// Stderr receives progress lines. If nil, nothing is printed.
	Stderr io.Writer
	// querier replaces Prometheus in tests.
	querier Querier
}

// Outcome is what Run produced, for bench to print and act on.
type Outcome struct {
	// Dir holds the outputs; Report is report.md in it.
	Dir    string
	Report string
	// Verdict is the one-line verdict: "no regression in 14 scenarios
	// compared", "2 regressions in 14 scenarios compared: ...".
	Verdict string
	// Failed is true when the verdict triggered FailOn (Run's error then
	// wraps ErrFailed: exit 1).
	Failed bool
	Diff   *compare.Diff
}

// Run does what opt says and writes results.json (when collecting),
// diff.json, report.md, charts/ and grafana/ into the output directory. It
// returns an error wrapping ErrFailed when the verdict triggers opt.FailOn;
// any other error means nothing trustworthy was produced.
func Run(ctx context.Context, opt Options) (*Outcome, error) {
	stderr := opt.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	opt.Collect.Progress = stderr
	offline := len(opt.CompareOld) > 0 || len(opt.CompareNew) > 0
	if offline && (len(opt.RunDirs) > 0 || len(opt.Manifests) > 0) {
		return nil, fmt.Errorf("%w: -compare works on results files; do not also give -run-dir or -manifest", ErrUsage)
	}
	if !offline && len(opt.RunDirs)+len(opt.Manifests) == 0 {
		return nil, fmt.Errorf("%w: give -run-dir reports/<run> (or -manifest), or -compare OLD.json NEW.json", ErrUsage)
	}
	var (
		newF *results.File
		err  error
		out  = opt.OutDir
		q    = opt.querier
	)
	if offline {
		if len(opt.CompareNew) == 0 {
			return nil, fmt.Errorf("%w: -compare needs two results files: OLD.json NEW.json (or one paired run: -compare - NEW.json)", ErrUsage)
		}
		opt.Baselines = opt.CompareOld
		if newF, err = results.ReadAll(opt.CompareNew...); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInput, err)
		}
		if out == "" {
			out = filepath.Dir(opt.CompareNew[0])
			if exists(filepath.Join(out, ReportFile)) {
				// Never overwrite the report collect wrote for NEW's run.
				out = filepath.Join(out, "compare")
				fmt.Fprintf(stderr, "collect: %s already has a report: writing to %s (pass -out DIR to choose)\n", filepath.Dir(out), out)
			}
		}
		if err := os.MkdirAll(out, 0o755); err != nil {
			return nil, err
		}
	} else {
		if q == nil {
			c, err := api.NewClient(api.Config{Address: cmp.Or(opt.PrometheusURL, DefaultPrometheusURL)})
			if err != nil {
				return nil, fmt.Errorf("%w: -prometheus %q: %v", ErrUsage, opt.PrometheusURL, err)
			}
			q = v1.NewAPI(c)
		}
		if newF, out, err = collectRuns(ctx, q, opt, out); err != nil && newF == nil {
			return nil, err
		}
	}
	missing := err // some scenarios had no data: report the others, then exit 2
	oldF, basePath, err := baseline(opt, newF)
	if err != nil {
		return nil, err
	}
	ccfg := opt.Compare
	if ccfg.Policy == nil && opt.Policy != "" {
		if ccfg.Policy, err = compare.LoadPolicy(opt.Policy); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInput, err)
		}
	}
	d, err := compare.Compare(oldF, newF, ccfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInput, err)
	}
	if len(opt.ConfirmDirs)+len(opt.CompareConfirm) > 0 {
		if d, err = confirmStage(ctx, q, opt, out, oldF, ccfg, d); err != nil {
			return nil, err
		}
	}
	in := report.Input{Diff: d, New: newF, BaselinePath: basePath, ChartsDir: ChartsDir, Links: map[string][]report.Link{}}
	last := &newF.Runs[len(newF.Runs)-1]
	fmt.Fprintf(stderr, "collect: charts\n")
	if _, err := report.Charts(filepath.Join(out, ChartsDir), last); err != nil {
		in.Warnings = append(in.Warnings, "charts: "+err.Error())
	}
	if opt.Grafana.URL != "" && q != nil {
		fmt.Fprintf(stderr, "collect: Grafana snapshots\n")
		snaps, warns := grafana.Snapshots(ctx, opt.Grafana, q, last, filepath.Join(out, GrafanaDir))
		for _, s := range snaps {
			in.Links[s.Scenario] = append(in.Links[s.Scenario], report.Link{Text: "Grafana snapshot (data embedded)", URL: s.URL})
		}
		in.Warnings = append(in.Warnings, warns...)
	} else if opt.Grafana.URL != "" {
		in.Warnings = append(in.Warnings, "Grafana snapshots need Prometheus: not made in -compare mode")
	}
	if err := writeOutputs(out, in, opt.StepSummary); err != nil {
		return nil, err
	}
	if opt.UpdateBaseline {
		p, err := WriteBaseline(opt.BaselineDir, newF)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "collect: baseline written to %s\n", p)
	}
	o := &Outcome{Dir: out, Report: filepath.Join(out, ReportFile), Diff: d, Verdict: report.Headline(d)}
	fmt.Fprintf(stderr, "collect: %s: %s\n", o.Report, o.Verdict)
	switch {
	case missing != nil:
		return o, fmt.Errorf("%w: %v; the report covers the others", ErrInput, missing)
	case d.Verdict == compare.VerdictInvalid:
		return o, fmt.Errorf("%w: %s", ErrInput, o.Verdict)
	case len(d.Invalid) > 0 && d.Verdict != compare.VerdictIntegrity && d.Verdict != compare.VerdictRegression:
		return o, fmt.Errorf("%w: %s (each one's reason is in its section of the report)", ErrInput, o.Verdict)
	}
	err = failOn(opt.FailOn, d)
	o.Failed = err != nil
	return o, err
}

// confirmStage collects (or reads) the confirmation stage, compares it
// as the first stage was, and judges the first stage's candidates by it.
func confirmStage(ctx context.Context, q Querier, opt Options, out string, oldF *results.File, ccfg compare.Config, d *compare.Diff) (*compare.Diff, error) {
	var f *results.File
	var err error
	if len(opt.CompareConfirm) > 0 {
		if f, err = results.ReadAll(opt.CompareConfirm...); err != nil {
			return nil, fmt.Errorf("%w: confirmation stage: %v", ErrInput, err)
		}
	} else {
		o := opt
		o.RunDirs, o.Manifests, o.OutDir = opt.ConfirmDirs, nil, filepath.Join(out, ConfirmDir)
		if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
			return nil, err
		}
		fmt.Fprintf(opt.Collect.Progress, "collect: the confirmation stage\n")
		if f, _, err = collectRuns(ctx, q, o, o.OutDir); err != nil && f == nil {
			return nil, fmt.Errorf("confirmation stage: %w", err)
		}
	}
	d2, err := compare.Compare(oldF, f, ccfg)
	if err != nil {
		return nil, fmt.Errorf("%w: confirmation stage: %v", ErrInput, err)
	}
	return compare.Confirm(d, d2), nil
}

// efficacyLines fills the scenarios' requested-vs-measured lines from the
// efficacy file beside the manifest when the manifest lacks them (runs
// recorded before the manifest held them). collect reads the file as
// plain JSON: it knows scenariod only by its files.
func efficacyLines(m *manifest.Manifest, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var recs map[string]struct {
		Verdict struct {
			Line string `json:"line"`
		} `json:"verdict"`
	}
	if json.Unmarshal(b, &recs) != nil {
		return
	}
	for i := range m.Scenarios {
		if s := &m.Scenarios[i]; s.Efficacy == "" {
			s.Efficacy = recs[s.Name].Verdict.Line
		}
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func collectRuns(ctx context.Context, q Querier, opt Options, out string) (*results.File, string, error) {
	paths := append([]string(nil), opt.Manifests...)
	for _, d := range opt.RunDirs {
		paths = append(paths, filepath.Join(d, "manifest.json"))
	}
	f := &results.File{SchemaVersion: results.SchemaVersion}
	var missing []string
	for i, p := range paths {
		m, err := manifest.Read(p)
		var notes []string
		if errors.Is(err, os.ErrNotExist) && i >= len(opt.Manifests) && isDir(filepath.Dir(p)) {
			// A run directory without its manifest: rebuild it from
			// scenariod's metrics, and say so.
			m, notes, err = rebuild(ctx, q, opt, filepath.Dir(p))
		}
		if err != nil {
			if errors.Is(err, ErrPrometheus) || errors.Is(err, ErrManifest) {
				return nil, "", err
			}
			return nil, "", fmt.Errorf("%w: %v", ErrInput, err)
		}
		fmt.Fprintf(opt.Collect.Progress, "collect: run %s (%d scenarios) from %s\n", m.RunID, len(m.Scenarios), p)
		efficacyLines(m, filepath.Join(filepath.Dir(p), "efficacy.json"))
		run, err := Collect(ctx, q, m, opt.Collect)
		if run != nil {
			run.Notes = append(run.Notes, notes...)
		}
		var me *MissingError
		if errors.As(err, &me) && run != nil {
			missing = append(missing, me.Error())
			err = nil
		}
		if err != nil {
			if errors.Is(err, ErrPrometheus) {
				return nil, "", fmt.Errorf("%w (is Prometheus running at %s? start the stack or pass -prometheus URL)", err, cmp.Or(opt.PrometheusURL, DefaultPrometheusURL))
			}
			return nil, "", err
		}
		f.Runs = append(f.Runs, *run)
		if opt.OutDir == "" {
			out = filepath.Dir(p)
		}
	}
	if err := f.Validate(); err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrInput, err)
	}
	if err := results.Write(filepath.Join(out, ResultsFile), f); err != nil {
		return nil, "", err
	}
	if len(missing) > 0 {
		return f, out, fmt.Errorf("%w: %s", ErrNoSamples, strings.Join(missing, "; "))
	}
	return f, out, nil
}

func rebuild(ctx context.Context, q Querier, opt Options, dir string) (*manifest.Manifest, []string, error) {
	notes := []string{RebuildNote + " (" + filepath.Join(dir, "manifest.json") + " is missing)"}
	prof := opt.Profile
	if prof == "" {
		prof = profile.Default
		notes = append(notes, fmt.Sprintf("profile unknown without a manifest: assumed %q (pass -profile)", prof))
	}
	now := opt.Collect.withDefaults().Now()
	fmt.Fprintf(opt.Collect.Progress, "collect: %s has no manifest.json: rebuilding the phases from %s over the last %s\n", dir, mScenarioPhase, cmp.Or(opt.Since, DefaultSince))
	m, err := Rebuild(ctx, q, filepath.Base(dir), prof, now.Add(-cmp.Or(opt.Since, DefaultSince)), now)
	return m, notes, err
}

// StoredBaseline returns the stored baseline of profile in dir
// (dir/<profile>.json; if dir is empty, DefaultBaselineDir), or "" when
// there is none. It is the one place that says where a profile's baseline
// is: collect's -baseline auto and bench's default both ask it.
func StoredBaseline(dir, profile string) string {
	p := filepath.Join(cmp.Or(dir, DefaultBaselineDir), profile+".json")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// WriteBaseline writes f as the stored baseline of its profile in dir (if
// empty, DefaultBaselineDir), atomically, and returns its path: the one
// writer of baselines (collect -update-baseline, bench -update-baseline).
func WriteBaseline(dir string, f *results.File) (string, error) {
	p := filepath.Join(cmp.Or(dir, DefaultBaselineDir), f.Profile()+".json")
	if err := results.Write(p, f); err != nil {
		return "", fmt.Errorf("collect: baseline: %w", err)
	}
	return p, nil
}

// baseline reads the baseline files; "auto" picks the profile's stored one.
func baseline(opt Options, newF *results.File) (*results.File, string, error) {
	paths := opt.Baselines
	paired := true
	for _, r := range newF.Runs {
		paired = paired && r.Paired()
	}
	if len(paths) == 1 && paths[0] == BaselineAuto && paired {
		// A paired run compares its own sides: no stored baseline needed
		// (and an old one must not stop it).
		return nil, "", nil
	}
	if len(paths) == 1 && paths[0] == BaselineAuto {
		p := StoredBaseline(opt.BaselineDir, newF.Profile())
		if p == "" {
			return nil, "", nil
		}
		paths = []string{p}
	}
	if len(paths) == 0 {
		return nil, "", nil
	}
	f, err := results.ReadAll(paths...)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("%w: baseline: %v (record one with `make baseline` or collect -update-baseline, or pass -baseline auto to go without)", ErrInput, err)
	}
	if errors.Is(err, results.ErrSchema) {
		return nil, "", fmt.Errorf("%w: baseline: %v", ErrInput, err)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%w: baseline: %v", ErrInput, err)
	}
	if len(f.ScenarioNames()) == 0 {
		return nil, "", fmt.Errorf("%w: baseline %s holds no scenario: record it again with `make baseline`", ErrInput, strings.Join(paths, ", "))
	}
	return f, strings.Join(paths, ", "), nil
}

func writeOutputs(out string, in report.Input, stepSummary string) error {
	var md, js, sum bytes.Buffer
	if err := report.Markdown(&md, in); err != nil {
		return err
	}
	if err := report.Summary(&sum, in, "report.md in the run's artifacts"); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(out, SummaryFile), sum.Bytes()); err != nil {
		return err
	}
	if err := report.JSON(&js, in.Diff); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(out, ReportFile), md.Bytes()); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(out, DiffFile), js.Bytes()); err != nil {
		return err
	}
	if stepSummary != "" {
		f, err := os.OpenFile(stepSummary, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("step summary: %w", err)
		}
		defer f.Close()
		if _, err := f.Write(md.Bytes()); err != nil {
			return fmt.Errorf("step summary: %w", err)
		}
	}
	return nil
}

func failOn(f FailOn, d *compare.Diff) error {
	switch {
	case f == FailOnNever || f == "":
		return nil
	case d.Verdict == compare.VerdictIntegrity:
		return fmt.Errorf("%w: %s", ErrFailed, strings.Join(report.Issues(d.Integrity), "; "))
	case f == FailOnRegression && d.Verdict == compare.VerdictRegression:
		return fmt.Errorf("%w: %d regression(s)", ErrFailed, d.Regressions)
	}
	return nil
}

// GitCommit returns the commit being benchmarked: $GITHUB_SHA, else the
// commit this binary was built from (a clean tree; bench's and loadgen's
// binaries are built together), else `git rev-parse HEAD` in the current
// directory, else "". So the shards of one run, run one after another
// from the same binaries, record one commit even if the checkout moved.
func GitCommit(ctx context.Context) string {
	if s := os.Getenv("GITHUB_SHA"); s != "" {
		return s
	}
	if s := vcs.Built(); s != "" {
		return s
	}
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
