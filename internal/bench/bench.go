// Package bench runs the whole mcchaos pipeline in order: start (or find) the
// stack, start loadgen, run scenariod, stop loadgen, run collect, tear down.
// loadgen, scenariod and collect run as separate processes, so the load is
// never disturbed by the controller; this package only starts, watches and
// stops them, and keeps everything a run measured in its run directory.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
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
	// confirmation stage; the manifest records it for collect -merge.
	Shard string

	recollect bool // Recollect: the run directory exists
	autoID    bool // RunID was chosen by setDefaults: a taken one gets a suffix
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

// Run runs the pipeline. Cancelling ctx (the first Ctrl-C) interrupts the
// scenario that runs, lets scenariod remove its faults, and still collects
// and reports the scenarios that finished.
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	if err := cfg.setDefaults(); err != nil {
		return res, err
	}
	prof, err := profile.Get(cfg.Profile)
	if err != nil {
		return res, &UsageError{err}
	}
	bins, err := findTools(cfg.BinDir)
	if err != nil {
		return res, err
	}

	names, err := checkScenarios(bins.scenariod, prof.Name, cfg)
	if err != nil {
		return res, err
	}
	if err := checkBaseline(cfg, prof.Name, names); err != nil {
		return res, err
	}
	sides, err := planSides(cfg, bins.loadgen)
	if err != nil {
		return res, err
	}

	// The run directory is created exclusively: it is this run's, so
	// removing it below never removes another's.
	if res.RunDir, cfg.RunID, err = createRunDir(cfg.ReportsDir, cfg.RunID, cfg.autoID); err != nil {
		return res, err
	}
	// Until scenariod starts, the run directory holds nothing measured: a
	// run that cannot start leaves none behind.
	measuring := false
	defer func() {
		if !measuring {
			os.RemoveAll(res.RunDir)
			res.RunDir = ""
		}
	}()
	if err := checkFreeSpace(cfg.ReportsDir, DefaultMinFree); err != nil {
		return res, err
	}
	if err := os.Mkdir(filepath.Join(res.RunDir, "logs"), 0o755); err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	// Its lock says the run is live; what it creates is named after it.
	cl, err := claimRun(cfg, res.RunDir)
	if err != nil {
		return res, err
	}
	defer cl.release()
	say := func(format string, a ...any) { fmt.Fprintf(cfg.Stderr, "bench: "+format+"\n", a...) }
	say("run %s, profile %s (%s), stack %s", cfg.RunID, prof.Name, prof.Description, cfg.Stack)
	if cfg.Shard != "" {
		say("shard %s: %s (collect -merge joins the shards)", cfg.Shard, strings.Join(names, ", "))
	}
	cleanStale(context.WithoutCancel(ctx), say)
	if len(sides) > 1 && sides[1].Ref != "" {
		bin, remove, err := buildBase(ctx, sides[1].Commit, filepath.Join(res.RunDir, "base"), say)
		defer remove()
		if err != nil {
			if ctx.Err() != nil {
				return res, fmt.Errorf("bench: interrupted while building the base side")
			}
			return res, err
		}
		sides[1].Loadgen = bin
		if err := checkLoadgen(*sides[1]); err != nil {
			return res, err
		}
	}

	// Setup and teardown are not interruptible by ctx: a Ctrl-C during
	// start-up still ends in a clean teardown through the normal path.
	setup := context.WithoutCancel(ctx)

	sdAddr, listenHost, err := exporterAddr(cfg)
	if err != nil {
		return res, err
	}
	arms, err := planArms(cfg, prof, sides, listenHost, cfg.Seed)
	if err != nil {
		return res, err
	}
	st, teardown, err := startStack(setup, cfg, res.RunDir, targets(cfg, arms), sdAddr, say)
	if err != nil {
		return res, err
	}
	defer func() {
		say("stopping the stack")
		if terr := teardown(); terr != nil && err == nil {
			err = terr
		}
	}()

	// The arms: k loadgens per side, each with its own proxies, exporter
	// and key prefix, all under load until scenariod is done.
	if err := connectArms(setup, cfg, st, arms, DefaultArmProxyPort); err != nil {
		return res, err
	}
	defer stopArms(arms, 10*time.Second)
	if err := startArms(setup, arms, filepath.Join(res.RunDir, "logs"), say); err != nil {
		return res, err
	}
	wctx, cancel := context.WithTimeout(setup, 30*time.Second)
	err = st.WaitTargets(wctx, "loadgen", len(arms))
	cancel()
	if err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}

	// scenariod: faults, phases, manifest. It prints progress itself. With
	// Count > 1 the scenarios run Count times under the same load, each
	// repetition in a run-<i> directory of its own.
	sdPort := sdAddr[strings.LastIndexByte(sdAddr, ':')+1:]
	sdArgs := []string{
		"-profile", prof.Name,
		"-toxiproxy", st.ToxiproxyURL,
		"-listen", listenHost + ":" + sdPort,
		"-wait-scraped", st.PrometheusURL,
		"-stack", cfg.Stack,
		"-nft-table", cl.table(),
	}
	if cfg.Scenarios != "" {
		sdArgs = append(sdArgs, "-scenario", cfg.Scenarios)
	}
	if cfg.Stack == StackLocal {
		sdArgs = append(sdArgs, "-stack-dir", st.Dir)
	}
	sdArgs = append(sdArgs, cfg.ScenariodArgs...)
	start := time.Now()
	measuring = true
	// A run whose load, proxies or Prometheus died measures nothing more:
	// it stops at once, as if interrupted, and names the cause.
	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	watched := st.Watched()
	for _, a := range arms {
		watched = append(watched, a.proc)
	}
	unwatch := watch(stopRun, watched)
	defer unwatch()
	var sdErr error
	var runDirs []string
	for i := 1; i <= cfg.Count && runCtx.Err() == nil && sdErr == nil; i++ {
		dir, id, logName := res.RunDir, cfg.RunID, "scenariod.log"
		if cfg.Count > 1 {
			dir, id, logName = filepath.Join(res.RunDir, fmt.Sprintf("run-%d", i)), fmt.Sprintf("%s-%d", cfg.RunID, i), fmt.Sprintf("scenariod-%d.log", i)
			say("repetition %d of %d", i, cfg.Count)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return res, fmt.Errorf("bench: %w", err)
		}
		args := append([]string{"-run-id", id, "-manifest", filepath.Join(dir, "manifest.json")}, sdArgs...)
		if cfg.Shard != "" {
			args = append(args, "-shard", cfg.Shard) // the first stage only: the confirmation runs its own names
		}
		sd, err := startScenariod(bins.scenariod, args, filepath.Join(res.RunDir, "logs", logName), cfg.Stderr)
		if err != nil {
			return res, err
		}
		sdErr = waitOrInterrupt(runCtx, sd, 15*time.Second)
		if sdErr != nil && runCtx.Err() == nil {
			say("scenariod failed: %v (log %s); reporting what finished", sdErr, sd.LogPath)
		}
		if err := recordSides(filepath.Join(dir, "manifest.json"), sides, cfg.Seed, arms); err != nil {
			say("WARNING: scenariod left no usable manifest in %s (%v); see %s", dir, err, sd.LogPath)
			continue
		}
		runDirs = append(runDirs, dir)
	}
	unwatch()
	died := context.Cause(runCtx)
	if !errors.Is(died, ErrChildDied) {
		died = nil
	}
	switch {
	case died != nil:
		say("stopped: %v; scenariod removed its faults; reporting the scenarios that finished", died)
	case ctx.Err() != nil:
		res.Interrupted = true
		say("interrupted: scenariod removed its faults; reporting the scenarios that finished")
	case sdErr == nil:
		say("scenarios done in %s", time.Since(start).Round(time.Second))
	}
	stopArms(arms, 10*time.Second)
	if err := verifyClean(setup, st.ToxiproxyURL); err != nil {
		say("WARNING: %v", err)
	} else {
		say("toxiproxy is clean: no toxics, every proxy enabled")
	}
	if len(runDirs) == 0 {
		return res, fmt.Errorf("bench: no scenario ran to a usable manifest; see the logs in %s", filepath.Join(res.RunDir, "logs"))
	}

	// collect: results.json, comparison, report.md.
	promURL := st.PrometheusURL
	if died != nil && cfg.Stack == StackLocal && !st.PrometheusAlive() {
		// Its data is on disk: a Prometheus on the same data reports it.
		p, err := startPrometheusOn(setup, filepath.Join(st.Dir, "prometheus-data"), filepath.Join(res.RunDir, "recollect"), cfg.Stderr)
		if err != nil {
			return res, fmt.Errorf("bench: %w (after: %v)", err, died)
		}
		defer p.Stop()
		promURL = p.PrometheusURL
		say("Prometheus restarted on the run's data (%s) to report what finished", promURL)
	}
	say("collecting results from Prometheus")
	if err := runCollect(setup, cfg, promURL, runDirs, nil, &res); err != nil {
		return res, err
	}
	if names, healthy := res.diff.CandidateScenarios(); res.diff != nil && died == nil && ctx.Err() == nil && sdErr == nil && !cfg.NoConfirm && (len(names) > 0 || healthy) {
		if len(names) == 0 {
			names = []string{res.diff.Scenarios[0].Name} // any stabilization window confirms the healthy path
		}
		c := confirmation{cfg: cfg, st: st, arms: arms, sides: sides, scenariod: bins.scenariod, sdArgs: sdArgs, runDir: res.RunDir, say: say}
		dir, err := c.run(ctx, setup, names)
		if err != nil {
			return res, err
		}
		if dir == "" {
			res.Interrupted = true
		} else if err := runCollect(setup, cfg, promURL, runDirs, []string{dir}, &res); err != nil {
			return res, err
		}
	}
	if died != nil {
		return res, fmt.Errorf("bench: run stopped early, the report covers the scenarios that finished: %w", died)
	}
	if cfg.UpdateBaseline {
		if err := updateBaseline(cfg, prof, names, res, sdErr, runDirs); err != nil {
			return res, err
		}
	}
	if sdErr != nil && !res.Interrupted {
		return res, fmt.Errorf("bench: scenariod: %w", sdErr)
	}
	return res, nil
}

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
	if c.RunID == "" {
		c.RunID = time.Now().UTC().Format("20060102-150405")
		if commit := gitCommit(); commit != "" {
			c.RunID += "-" + commit
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
	if _, err := collect.ParseFailOn(c.FailOn); err != nil {
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
			if b := filepath.Join(root, "baselines", c.Profile+".json"); fileExists(b) {
				c.Baseline = b
			}
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
func checkBaseline(cfg Config, profileName string, names []string) error {
	if cfg.Baseline == "" || cfg.Baseline == "none" {
		return nil
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

// exporterAddr returns where scenariod serves metrics as Prometheus
// reaches it from this host, and the host the exporters listen on: the
// loopback for the local stack, every interface when Prometheus runs in a
// container and scrapes through host-gateway.
func exporterAddr(cfg Config) (sd, listenHost string, err error) {
	sdPort := DefaultScenariodPort
	if cfg.FreePorts {
		if sdPort, err = stack.FreePort(); err != nil {
			return
		}
	}
	listenHost = "127.0.0.1"
	if cfg.Stack != StackLocal {
		listenHost = "0.0.0.0"
	}
	if err = portFree(listenHost, sdPort, "scenariod"); err != nil {
		return
	}
	return fmt.Sprintf("127.0.0.1:%d", sdPort), listenHost, nil
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
	failOn, _ := collect.ParseFailOn(cfg.FailOn) // checked by setDefaults
	opt := collect.Options{
		RunDirs:       runDirs,
		ConfirmDirs:   confirmDirs,
		PrometheusURL: prometheusURL,
		OutDir:        res.RunDir,
		FailOn:        failOn,
		Grafana:       grafana.Config{URL: cfg.GrafanaURL},
		Stderr:        cfg.Stderr,
		StepSummary:   os.Getenv("GITHUB_STEP_SUMMARY"),
	}
	opt.Collect.GitCommit = collect.GitCommit(ctx)
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
func updateBaseline(cfg Config, prof profile.Profile, names []string, res Result, sdErr error, runDirs []string) error {
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
	b, err := os.ReadFile(filepath.Join(res.RunDir, collect.ResultsFile))
	if err != nil {
		return fmt.Errorf("bench: baseline: %w", err)
	}
	p := filepath.Join(root, collect.DefaultBaselineDir, prof.Name+".json")
	if err := atomicfile.Write(p, b); err != nil {
		return fmt.Errorf("bench: baseline: %w", err)
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
		cfg.Profile = strings.TrimSuffix(m.Profile, "+custom")
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

// checkScenarios has scenariod check the selection and any scenario files
// before anything starts, so a typo costs no stack start-up, and returns
// the selected scenarios' names (with cfg.Shard, the shard's share).
func checkScenarios(bin, profileName string, cfg Config) ([]string, error) {
	args := []string{"-check", "-profile", profileName}
	if cfg.Scenarios != "" {
		args = append(args, "-scenario", cfg.Scenarios)
	}
	if cfg.Shard != "" {
		args = append(args, "-shard", cfg.Shard)
	}
	args = append(args, cfg.ScenariodArgs...)
	out, err := exec.Command(bin, args...).CombinedOutput()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return strings.Fields(string(out)), nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == 2:
		return nil, &UsageError{errors.New(strings.TrimSpace(string(out)))}
	default:
		return nil, fmt.Errorf("bench: scenariod -check: %w\n%s", err, out)
	}
}
