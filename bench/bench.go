// Package bench is the orchestrator, the top floor of mcchaos: it runs the
// whole pipeline and only cmd/bench imports it. Run is a short sequence of
// named stages (run.go): prepare the plan (profile values, scenarios,
// sides; bad input stops here), open the run directory, build the base
// side, plan the arms and write plan.json, start the stack, start the load,
// run scenariod on the plan, collect, confirm the candidates, update the
// baseline. Each stage registers how to undo what it started, and the run
// undoes it all in reverse order however it ends.
//
// loadgen and scenariod run as separate processes, so the load is never
// disturbed by the controller; every child's argv is built from the plan,
// and scenariod (the one writer of manifest.json) reads the plan rather
// than rediscovering sides and arms from proxy names. collect runs in
// process. Everything a run measured stays in its run directory.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/collect"
	"github.com/mcchaos/mcchaos/collect/compare"
	"github.com/mcchaos/mcchaos/collect/grafana"
	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/internal/atomicfile"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/internal/plan"
	"github.com/mcchaos/mcchaos/internal/profile"
	"github.com/mcchaos/mcchaos/internal/shard"
	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/internal/toxiproxy"
)

// Stack kinds.
const (
	StackLocal    = "local"
	StackCompose  = "compose"
	StackExternal = "external"
)

// Default ports (DESIGN.md): scenariod's exporter, and the first proxy
// port of the arms on the compose stack (which publishes 21221-21299;
// the local stack lets toxiproxy pick free ports).
const (
	DefaultScenariodPort = 9092
	DefaultArmProxyPort  = 21221
)

// Config says what to run. Zero values mean the documented defaults.
type Config struct {
	// Profile is the run profile. If empty, profile.Default.
	Profile string
	// Scenarios is scenariod's -scenario value. If empty, the profile's selection.
	Scenarios string
	// Stack is StackLocal, StackCompose or StackExternal. If empty, StackLocal.
	Stack string
	// RunID names the run directory. If empty, a UTC timestamp and the git commit.
	RunID string
	// ReportsDir holds one directory per run. If empty, "reports".
	ReportsDir string
	// BinDir holds the loadgen, scenariod and collect binaries. If empty,
	// the directory of the running executable.
	BinDir string
	// Baseline is the results.json to compare with. If empty,
	// baselines/<profile>.json when it exists; "none" compares with nothing.
	Baseline string
	// UpdateBaseline writes this run's results as baselines/<profile>.json,
	// but only a complete run: uninterrupted, the profile's whole selection,
	// no failed or invalid scenario, no integrity violation (Force: anyway).
	UpdateBaseline bool
	Force          bool
	// FailOn is collect's -fail-on. If empty, "integrity".
	FailOn string
	// FreePorts runs the local stack and the exporters on free loopback
	// ports instead of DESIGN.md's, so a run can sit beside another stack.
	FreePorts bool
	// ToxiproxyURL and PrometheusURL locate an external or compose stack.
	// If empty, http://127.0.0.1:8474 and http://127.0.0.1:9091.
	ToxiproxyURL, PrometheusURL string
	// ComposeFile is the compose file of StackCompose. If empty, docker-compose.yml.
	ComposeFile string
	// Count is how many times the scenarios run (under the same load and
	// stack); collect then uses the per-run values as samples. If zero, 1.
	Count int
	// GrafanaURL, when set, is passed to collect for snapshots.
	GrafanaURL string
	// LoadgenArgs and ScenariodArgs are appended to the children's flags;
	// LoadgenArgs are the head side's.
	LoadgenArgs, ScenariodArgs []string
	// Base, when set, is a git ref: the base side is built from it (in a
	// worktree under the run directory) and runs beside the head side.
	Base string
	// AA runs the head side's binary and flags on the base side too: an
	// A/A run, which measures the false-alarm rate.
	AA bool
	// BaseArgs, when set (or with Base or AA), are the base side's loadgen
	// flags. If nil, LoadgenArgs.
	BaseArgs []string
	// Arms is the number of arms per side. If zero, the profile's.
	Arms int

	// Seed orders the arms (ports, proxies, start order) at random; the
	// confirmation stage draws a new order from it. If zero, a new seed
	// per run. The manifest records it.
	Seed uint64
	// NoConfirm skips the confirmation stage: first-stage candidates stay
	// unconfirmed.
	NoConfirm bool
	// Shard, "i/n", runs only shard i of n of the selection: a share
	// balanced by duration, as a paired run of its own with its own
	// confirmation stage; the plan and manifest record it for collect -merge.
	Shard string

	failOn    collect.FailOn // FailOn, parsed by setDefaults
	recollect bool           // Recollect: the run directory exists
	autoID    bool           // RunID was chosen by setDefaults: a taken one gets a suffix
	commit    string         // collect.GitCommit when the run starts: a commit made during a long run is not what it measured
	// Stdout gets the final summary; Stderr gets progress. If nil, discarded.
	Stdout, Stderr io.Writer
}

// Result is what a run produced.
type Result struct {
	integrity bool // collect found an integrity violation
	RunDir    string
	Report    string // path of report.md, empty if collect did not write one
	// Verdict is collect's one-line verdict ("no regression", "2 regressions", ...).
	Verdict string
	diff    *compare.Diff
	// CollectExit is collect's exit code: 0 no regression, 1 regression or
	// integrity failure (as asked by FailOn), 2 could not collect.
	CollectExit int
	Interrupted bool
}

// UsageError is bad input: the run was not started. Exit code 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func (c *Config) setDefaults() error {
	if c.Profile == "" {
		c.Profile = profile.Default
	}
	if c.Stack == "" {
		c.Stack = StackLocal
	}
	switch c.Stack {
	case StackLocal, StackCompose, StackExternal:
	default:
		return &UsageError{fmt.Errorf("unknown stack %q (want local, compose or external)", c.Stack)}
	}
	if c.ReportsDir == "" {
		c.ReportsDir = "reports"
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	c.commit = collect.GitCommit(context.Background())
	if c.RunID == "" {
		c.RunID = time.Now().UTC().Format("20060102-150405")
		if c.commit != "" {
			c.RunID += "-" + shortCommit(c.commit)
		}
		c.autoID = true
	}
	if c.Count == 0 {
		c.Count = 1
	}
	if c.Count < 0 {
		return &UsageError{fmt.Errorf("-count %d: want 1 or more", c.Count)}
	}
	if c.FailOn == "" {
		c.FailOn = "integrity"
	}
	var err error
	if c.failOn, err = collect.ParseFailOn(c.FailOn); err != nil {
		return &UsageError{err}
	}
	if c.Shard != "" {
		if _, err := shard.Parse(c.Shard); err != nil {
			return &UsageError{err}
		}
		if c.UpdateBaseline {
			return &UsageError{fmt.Errorf("-shard %s and -update-baseline: a baseline is a whole run, not a shard", c.Shard)}
		}
	}
	if !c.recollect {
		if err := checkRunID(c.ReportsDir, c.RunID, c.autoID); err != nil {
			return err
		}
	}
	if c.Baseline == "" && !c.paired() {
		if root, err := stack.RepoRoot(); err == nil {
			c.Baseline = collect.StoredBaseline(filepath.Join(root, collect.DefaultBaselineDir), c.Profile)
		}
	}
	if c.ToxiproxyURL == "" {
		c.ToxiproxyURL = fmt.Sprintf("http://127.0.0.1:%d", stack.DefaultToxiproxyPort)
	}
	if c.PrometheusURL == "" {
		c.PrometheusURL = fmt.Sprintf("http://127.0.0.1:%d", stack.DefaultPrometheusPort)
	}
	if c.ComposeFile == "" {
		c.ComposeFile = "docker-compose.yml"
	}
	if c.Stdout == nil {
		c.Stdout = io.Discard
	}
	if c.Stderr == nil {
		c.Stderr = io.Discard
	}
	return nil
}

// paired reports whether the run has a base side: the comparison is then
// base vs head of this run, and no stored baseline is read.
func (c *Config) paired() bool { return c.Base != "" || c.AA || c.BaseArgs != nil }

// checkRunID refuses a run id that is not a plain name, or a given one
// whose run directory exists, before anything starts (createRunDir is
// the check that counts).
func checkRunID(reports, id string, auto bool) error {
	if id == "." || id == ".." || strings.ContainsAny(id, `/\`) || strings.TrimSpace(id) != id || id == "" {
		return &UsageError{fmt.Errorf("-run-id %q: want a plain name (letters, digits, - _ .), not a path", id)}
	}
	if _, err := os.Stat(filepath.Join(reports, id)); err == nil && !auto {
		return &UsageError{fmt.Errorf("-run-id %s: %s exists: pick another id, or remove it", id, filepath.Join(reports, id))}
	}
	return nil
}

// checkBaseline reads the baseline before anything starts: readable, of
// this build's schema and of this profile, with scenarios in common with
// the selection.
func checkBaseline(cfg Config, p *plan.Plan) error {
	if cfg.Baseline == "" || cfg.Baseline == "none" {
		return nil
	}
	profileName := p.Profile.Name
	var names []string
	for _, s := range p.Scenarios {
		names = append(names, s.Name)
	}
	if named, err := profile.Get(profileName); err == nil && !sameLengths(named, p.Profile) {
		return &UsageError{fmt.Errorf("baseline %s: this run changes the %s profile's phase lengths (-scenariod-args), its figures are not comparable with the profile's baseline: -baseline none, or a paired run", cfg.Baseline, profileName)}
	}
	f, err := results.Read(cfg.Baseline)
	if err != nil {
		return &UsageError{fmt.Errorf("baseline %s: %v (re-record it with `make baseline PROFILE=%s`, or -baseline none)", cfg.Baseline, err, profileName)}
	}
	if p := f.Profile(); p != profileName {
		return &UsageError{fmt.Errorf("baseline %s is of profile %s, this run is %s: runs of different profiles are not compared (-baseline none, or make baseline PROFILE=%s)", cfg.Baseline, p, profileName, profileName)}
	}
	have := f.ScenarioNames()
	if !slices.ContainsFunc(names, func(n string) bool { return slices.Contains(have, n) }) {
		return &UsageError{fmt.Errorf("baseline %s has none of the selected scenarios (%s): nothing would be compared", cfg.Baseline, strings.Join(names, ", "))}
	}
	return nil
}

// sameLengths reports whether two profiles have the same phase lengths.
func sameLengths(a, b profile.Profile) bool {
	return a.Stabilization == b.Stabilization && a.Recovery == b.Recovery && a.MaxFault == b.MaxFault
}

// exporterAddr returns where scenariod serves metrics as Prometheus
// reaches it from this host (it listens on the loopback for the local
// stack, on every interface when Prometheus runs in a container and
// scrapes through host-gateway).
func exporterAddr(cfg Config) (sd string, err error) {
	sdPort := DefaultScenariodPort
	if cfg.FreePorts {
		if sdPort, err = stack.FreePort(); err != nil {
			return
		}
	}
	sd = fmt.Sprintf("127.0.0.1:%d", sdPort)
	host, _, _ := net.SplitHostPort(listenOf(cfg, sd))
	if err = portFree(host, sdPort, "scenariod"); err != nil {
		return "", err
	}
	return sd, nil
}

// startStack starts or finds the stack and returns how to tear it down.
func startStack(ctx context.Context, cfg Config, runDir string, arms []stack.Target, sdAddr string, say func(string, ...any)) (*stack.Stack, func() error, error) {
	switch cfg.Stack {
	case StackLocal:
		sc := stack.Config{
			Dir:           filepath.Join(runDir, "stack"),
			ScrapeTargets: map[string]string{"scenariod": sdAddr},
			Targets:       arms,
			Log:           cfg.Stderr,
		}
		if cfg.FreePorts {
			ports, err := stack.FreePorts(stack.DefaultServers)
			if err != nil {
				return nil, nil, err
			}
			sc.Ports = ports
		}
		say("starting the local stack (memcached x3, toxiproxy, prometheus) in %s", sc.Dir)
		st, err := stack.Start(ctx, sc)
		if err != nil {
			return nil, nil, err
		}
		return st, st.Stop, nil
	case StackCompose:
		if err := writeFileSD(arms); err != nil {
			return nil, nil, err
		}
		say("docker compose up (%s)", cfg.ComposeFile)
		up := exec.CommandContext(ctx, "docker", "compose", "-f", cfg.ComposeFile, "up", "-d", "--wait")
		up.Stdout, up.Stderr = cfg.Stderr, cfg.Stderr
		if err := up.Run(); err != nil {
			return nil, nil, fmt.Errorf("bench: docker compose up: %w (is a Docker engine running? use STACK=local otherwise)", err)
		}
		down := func() error {
			// Keep the run's Prometheus data before the volume goes, so
			// that -recollect works on this stack too.
			data := filepath.Join(runDir, "stack", "prometheus-data")
			if err := os.MkdirAll(filepath.Dir(data), 0o755); err == nil {
				cp := exec.Command("docker", "compose", "-f", cfg.ComposeFile, "cp", "prometheus:/prometheus", data)
				cp.Stdout, cp.Stderr = cfg.Stderr, cfg.Stderr
				if err := cp.Run(); err != nil {
					say("WARNING: could not keep Prometheus' data (%v): -recollect will not work on this run", err)
				}
			}
			c := exec.Command("docker", "compose", "-f", cfg.ComposeFile, "down", "-v")
			c.Stdout, c.Stderr = cfg.Stderr, cfg.Stderr
			return c.Run()
		}
		st, err := stack.Attach(ctx, cfg.ToxiproxyURL, cfg.PrometheusURL)
		if err != nil {
			down()
			return nil, nil, err
		}
		return st, down, nil
	default:
		if err := writeFileSD(arms); err != nil {
			return nil, nil, err
		}
		say("using the running stack: toxiproxy %s, prometheus %s", cfg.ToxiproxyURL, cfg.PrometheusURL)
		st, err := stack.Attach(ctx, cfg.ToxiproxyURL, cfg.PrometheusURL)
		if err != nil {
			return nil, nil, err
		}
		return st, func() error { return nil }, nil
	}
}

// writeFileSD writes the arms as Prometheus file service discovery targets
// into deploy/prometheus/targets/loadgen.json, which the compose stack's
// Prometheus reads (deploy/prometheus/prometheus.yml).
func writeFileSD(arms []stack.Target) error {
	root, err := stack.RepoRoot()
	if err != nil {
		return fmt.Errorf("bench: the compose Prometheus' targets go in the repository: %w", err)
	}
	type group struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	var gs []group
	for _, a := range arms {
		gs = append(gs, group{[]string{a.Addr}, a.Labels})
	}
	b, _ := json.MarshalIndent(gs, "", "  ")
	if err := atomicfile.Write(filepath.Join(root, "deploy", "prometheus", "targets", "loadgen.json"), append(b, '\n')); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// verifyClean checks that toxiproxy holds no toxic and every proxy is
// enabled: what scenariod promises after a run, however it ended.
func verifyClean(ctx context.Context, toxiproxyURL string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	proxies, err := (&toxiproxy.Client{URL: toxiproxyURL}).Proxies(ctx)
	if err != nil {
		return fmt.Errorf("could not check toxiproxy is clean: %w", err)
	}
	var dirty []string
	for _, name := range slices.Sorted(maps.Keys(proxies)) {
		if p := proxies[name]; !p.Enabled || len(p.Toxics) > 0 {
			dirty = append(dirty, fmt.Sprintf("%s (enabled=%v, %d toxics)", name, p.Enabled, len(p.Toxics)))
		}
	}
	if len(dirty) > 0 {
		return fmt.Errorf("toxiproxy is not clean after the run: %s", strings.Join(dirty, ", "))
	}
	return nil
}

// runCollect runs collect in-process on the runs' directories, writing
// into res.RunDir, and records its outcome.
func runCollect(ctx context.Context, cfg Config, prometheusURL string, runDirs, confirmDirs []string, res *Result) error {
	opt := collect.Options{
		RunDirs:       runDirs,
		ConfirmDirs:   confirmDirs,
		PrometheusURL: prometheusURL,
		OutDir:        res.RunDir,
		FailOn:        cfg.failOn,
		Grafana:       grafana.Config{URL: cfg.GrafanaURL},
		Stderr:        cfg.Stderr,
		StepSummary:   os.Getenv("GITHUB_STEP_SUMMARY"),
	}
	opt.Collect.GitCommit = cfg.commit
	opt.Collect.Stack = cfg.Stack
	if cfg.Baseline != "none" && cfg.Baseline != "" {
		opt.Baselines = []string{cfg.Baseline}
	}
	if root, err := stack.RepoRoot(); err == nil {
		opt.BaselineDir = filepath.Join(root, collect.DefaultBaselineDir)
		opt.Policy = filepath.Join(root, compare.PolicyFile)
	}
	o, err := collect.Run(ctx, opt)
	if o != nil {
		res.integrity = o.Diff != nil && len(o.Diff.Integrity) > 0
		res.Verdict = o.Verdict
		res.diff = o.Diff
		if fileExists(o.Report) {
			res.Report = o.Report
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, collect.ErrFailed):
		res.CollectExit = 1
	default:
		res.CollectExit = 2
		return fmt.Errorf("bench: %w; the run's data stays in %s: after fixing the cause, `bench -recollect %s` reports it again", err, res.RunDir, res.RunDir)
	}
	return nil
}

// updateBaseline writes the run's results.json as baselines/<profile>.json
// when the run is one a baseline can be: every scenario of the profile's
// selection ran to passed, nothing interrupted, no integrity violation.
// Otherwise it refuses with the reason, unless cfg.Force.
func updateBaseline(cfg Config, pl *plan.Plan, res Result, sdErr error, runDirs []string) error {
	prof := pl.Profile
	var names []string
	for _, s := range pl.Scenarios {
		names = append(names, s.Name)
	}
	var why []string
	if res.Interrupted {
		why = append(why, "the run was interrupted")
	}
	if sdErr != nil {
		why = append(why, "scenariod failed: "+sdErr.Error())
	}
	if res.integrity {
		why = append(why, "an integrity violation")
	}
	if want := prof.Scenarios; cfg.Scenarios != "" && (want == nil || !slices.Equal(names, want)) {
		why = append(why, fmt.Sprintf("-scenarios %s is not the profile's selection", cfg.Scenarios))
	}
	for _, d := range runDirs {
		m, err := manifest.Read(filepath.Join(d, "manifest.json"))
		if err != nil {
			why = append(why, err.Error())
			continue
		}
		for _, sc := range m.Scenarios {
			if sc.Status != manifest.StatusPassed {
				why = append(why, fmt.Sprintf("scenario %s %s", sc.Name, sc.Status))
			}
		}
	}
	if len(why) > 0 && !cfg.Force {
		return fmt.Errorf("bench: baseline not written: %s (-force writes it anyway)", strings.Join(why, "; "))
	}
	root, err := stack.RepoRoot()
	if err != nil {
		return fmt.Errorf("bench: baseline: %w", err)
	}
	f, err := results.Read(filepath.Join(res.RunDir, collect.ResultsFile))
	if err != nil {
		return fmt.Errorf("bench: baseline: %w", err)
	}
	p, err := collect.WriteBaseline(filepath.Join(root, collect.DefaultBaselineDir), f)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	fmt.Fprintf(cfg.Stderr, "bench: baseline written to %s\n", p)
	return nil
}

// Recollect reports an earlier local run again from what it kept: its
// manifest and its Prometheus data, served by a Prometheus started for the
// purpose. It is how a run whose collect step failed is not lost.
func Recollect(ctx context.Context, cfg Config, runDir string) (res Result, err error) {
	// The run says what it was: its profile, and paired (no stored baseline) or not.
	m, merr := manifest.Read(filepath.Join(runDir, "manifest.json"))
	if merr != nil {
		m, merr = manifest.Read(filepath.Join(runDir, "run-1", "manifest.json"))
	}
	if merr == nil {
		cfg.Profile = m.Profile
		if _, ok := m.Side(manifest.SideBase); ok && cfg.Baseline == "" {
			cfg.Baseline = "none"
		}
	}
	cfg.recollect = true // an existing run directory, not a new run
	if err := cfg.setDefaults(); err != nil {
		return res, err
	}
	data := filepath.Join(runDir, "stack", "prometheus-data")
	runDirs, _ := filepath.Glob(filepath.Join(runDir, "run-*"))
	if fileExists(filepath.Join(runDir, "manifest.json")) {
		runDirs = []string{runDir}
	}
	if len(runDirs) == 0 || !fileExists(data) {
		return res, &UsageError{fmt.Errorf("%s is not a local run directory (no manifest.json or stack/prometheus-data)", runDir)}
	}
	st, err := startPrometheusOn(ctx, data, filepath.Join(runDir, "recollect"), cfg.Stderr)
	if err != nil {
		return res, err
	}
	defer st.Stop()
	res.RunDir = runDir
	var confirm []string
	if fileExists(filepath.Join(runDir, confirmDir, "manifest.json")) {
		confirm = []string{filepath.Join(runDir, confirmDir)}
	}
	if err := runCollect(ctx, cfg, st.PrometheusURL, runDirs, confirm, &res); err != nil {
		return res, err
	}
	return res, nil
}

// startPrometheusOn starts a Prometheus alone on a free port, serving the
// data of an earlier (or crashed) Prometheus.
func startPrometheusOn(ctx context.Context, data, dir string, log io.Writer) (*stack.Stack, error) {
	port, err := stack.FreePort()
	if err != nil {
		return nil, err
	}
	return stack.Start(ctx, stack.Config{
		Dir:            dir,
		Services:       stack.Prometheus,
		PrometheusData: data,
		Ports:          stack.Ports{Prometheus: port},
		Log:            log,
	})
}
