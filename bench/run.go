package bench

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/internal/plan"
	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/scenariod"
)

// run is one run as its stages build it. Each stage does one job and
// registers how to undo what it started (onClose); close undoes it all in
// reverse order, whatever stage the run got to.
type run struct {
	cfg Config
	// ctx is cancelled by the first Ctrl-C; setup is not: starting and
	// tearing down are not interruptible, so a Ctrl-C during start-up still
	// ends in a clean teardown through the normal path.
	ctx, setup context.Context
	say        func(string, ...any)
	bins       tools
	plan       *plan.Plan // the run's plan, whole once planArms ran
	sdArgs     []string   // scenariod's flags besides the plan
	sides      []*Side
	arms       []*arm
	st         *stack.Stack
	claim      *claim
	closers    []func() error
	res        Result

	measuring bool      // scenariod started: the run directory is kept
	runDirs   []string  // directories with a usable manifest
	sdErr     error     // scenariod's failure, if any
	died      error     // a child of the run died (ErrChildDied)
	promURL   string    // Prometheus to collect from
	started   time.Time // scenariod's start
}

// Run runs the pipeline. Cancelling ctx (the first Ctrl-C) interrupts the
// scenario that runs, lets scenariod remove its faults, and still collects
// and reports the scenarios that finished.
func Run(ctx context.Context, cfg Config) (Result, error) {
	r := &run{ctx: ctx, setup: context.WithoutCancel(ctx)}
	if err := r.prepare(cfg); err != nil {
		return r.res, err
	}
	err := r.stages(
		r.open,           // run directory, locks, stale runs
		r.buildBase,      // the base side's loadgen, from its ref
		r.planArms,       // arms and proxies: plan.json complete
		r.startStack,     // memcached, toxiproxy, Prometheus
		r.startLoad,      // the arms' proxies and loadgens
		r.runScenarios,   // scenariod on the plan, Count times
		r.collect,        // results, comparison, report
		r.confirm,        // candidates again, new order
		r.updateBaseline, // -update-baseline
	)
	if cerr := r.close(); err == nil {
		err = cerr
	}
	return r.res, err
}

// stages runs each stage in turn until one fails.
func (r *run) stages(stages ...func() error) error {
	for _, s := range stages {
		if err := s(); err != nil {
			return err
		}
	}
	return r.outcome()
}

// onClose registers f to run when the run closes, before what was
// registered earlier.
func (r *run) onClose(f func() error) { r.closers = append(r.closers, f) }

// close undoes every stage, latest first, and returns the first error.
func (r *run) close() error {
	var first error
	for i := len(r.closers) - 1; i >= 0; i-- {
		if err := r.closers[i](); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// prepare checks the input and plans what needs no directory: the
// defaults, the binaries, the profile and scenarios, the baseline and the
// sides. Nothing is started; bad input is a UsageError.
func (r *run) prepare(cfg Config) error {
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	r.cfg, r.say = cfg, func(format string, a ...any) { fmt.Fprintf(cfg.Stderr, "bench: "+format+"\n", a...) }
	var err error
	if r.bins, err = findTools(cfg.BinDir); err != nil {
		return err
	}
	if r.plan, r.sdArgs, err = selection(cfg); err != nil {
		return err
	}
	if err := checkBaseline(cfg, r.plan); err != nil {
		return err
	}
	r.sides, err = planSides(cfg, r.bins.loadgen)
	return err
}

// selection resolves the profile and scenarios the way scenariod would:
// bench's -profile and -scenarios, then -scenariod-args parsed with
// scenariod's own flag definitions (scenario files, lengths). It returns
// the plan so far and the flags scenariod still takes besides the plan.
func selection(cfg Config) (*plan.Plan, []string, error) {
	o := scenariod.DefaultOptions()
	o.Profile, o.Scenario, o.Shard = cfg.Profile, cfg.Scenarios, cfg.Shard
	fs := flag.NewFlagSet("scenariod", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.Register(fs)
	if err := fs.Parse(cfg.ScenariodArgs); err != nil || fs.NArg() > 0 {
		return nil, nil, &UsageError{fmt.Errorf("-scenariod-args %q: %v", strings.Join(cfg.ScenariodArgs, " "), cmp.Or(err, fmt.Errorf("unexpected argument %q", fs.Arg(0))))}
	}
	if o.Plan != "" || o.List || o.Check {
		return nil, nil, &UsageError{errors.New("-scenariod-args: -plan, -list and -check are bench's to give")}
	}
	pl, err := o.Resolve()
	if err != nil {
		return nil, nil, &UsageError{err}
	}
	return pl, scenariod.RunArgs(fs), nil
}

// open creates the run directory (exclusively: it is this run's, so
// removing it never removes another's), takes the run's locks and removes
// what runs that died hard left.
func (r *run) open() error {
	var err error
	if r.res.RunDir, r.cfg.RunID, err = createRunDir(r.cfg.ReportsDir, r.cfg.RunID, r.cfg.autoID); err != nil {
		return err
	}
	// Until scenariod starts, the run directory holds nothing measured: a
	// run that cannot start leaves none behind.
	r.onClose(func() error {
		if !r.measuring {
			os.RemoveAll(r.res.RunDir)
			r.res.RunDir = ""
		}
		return nil
	})
	if err := checkFreeSpace(r.cfg.ReportsDir, DefaultMinFree); err != nil {
		return err
	}
	if err := os.Mkdir(r.logs(), 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	// Its lock says the run is live; what it creates is named after it.
	if r.claim, err = claimRun(r.cfg, r.res.RunDir); err != nil {
		return err
	}
	r.onClose(func() error { r.claim.release(); return nil })
	p := r.plan.Profile
	r.say("run %s, profile %s (%s), stack %s", r.cfg.RunID, p.Name, p.Description, r.cfg.Stack)
	if s := r.plan.Shard; s != nil {
		r.say("shard %d/%d: %s (collect -merge joins the shards)", s.Index, s.Count, strings.Join(s.Scenarios, ", "))
	}
	cleanStale(r.setup, r.say)
	return nil
}

func (r *run) logs() string { return filepath.Join(r.res.RunDir, "logs") }

// buildBase builds the base side's loadgen from its ref, in a worktree
// under the run directory, when the run has one.
func (r *run) buildBase() error {
	if len(r.sides) < 2 || r.sides[1].Ref == "" {
		return nil
	}
	base := r.sides[1]
	bin, remove, err := buildBase(r.ctx, base.Commit, filepath.Join(r.res.RunDir, "base"), r.say)
	r.onClose(func() error { remove(); return nil })
	if err != nil {
		if r.ctx.Err() != nil {
			return fmt.Errorf("bench: interrupted while building the base side")
		}
		return err
	}
	base.Loadgen = bin
	return checkLoadgen(*base)
}

// planArms completes the plan, the sides and arms in a random order with
// their exporters and proxies, and writes it as plan.json: from here on
// every process reads it.
func (r *run) planArms() error {
	listenHost := "127.0.0.1"
	if r.cfg.Stack != StackLocal {
		// Prometheus runs in a container and scrapes through host-gateway.
		listenHost = "0.0.0.0"
	}
	k := cmp.Or(r.cfg.Arms, r.plan.Profile.Arms, 1)
	var err error
	if r.arms, err = planArms(r.cfg, k, r.sides, listenHost, r.cfg.Seed); err != nil {
		return err
	}
	if err := planProxies(r.cfg, r.arms, DefaultArmProxyPort); err != nil {
		return err
	}
	r.plan.Sides, r.plan.Seed, r.plan.Arms = planned(r.sides, k), r.cfg.Seed, planOf(r.arms)
	return plan.Write(filepath.Join(r.res.RunDir, plan.File), r.plan)
}

// startStack starts or finds the stack, with the arms as Prometheus
// targets and scenariod's exporter.
func (r *run) startStack() error {
	sdAddr, err := exporterAddr(r.cfg)
	if err != nil {
		return err
	}
	r.sdArgs = append([]string{"-listen", listenOf(r.cfg, sdAddr)}, r.sdArgs...)
	st, teardown, err := startStack(r.setup, r.cfg, r.res.RunDir, stack.ArmTargets(r.plan.Arms), sdAddr, r.say)
	if err != nil {
		return err
	}
	r.st, r.promURL = st, st.PrometheusURL
	r.onClose(func() error {
		r.say("stopping the stack")
		return teardown()
	})
	return nil
}

// startLoad creates the arms' proxies and starts their loadgens, all under
// load until the scenarios are done.
func (r *run) startLoad() error {
	r.onClose(func() error { stopArms(r.arms, 10*time.Second); return nil })
	return r.load(r.arms)
}

// load creates arms' proxies as the plan gives them, starts their
// loadgens and waits until Prometheus scrapes every one.
func (r *run) load(arms []*arm) error {
	if err := r.st.AddArms(r.setup, planOf(arms)); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := startArms(r.setup, r.plan.Profile, arms, r.logs(), r.say); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(r.setup, 30*time.Second)
	defer cancel()
	if err := r.st.WaitTargets(wctx, "loadgen", len(arms)); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// scenariodArgs are scenariod's flags for the plan at planPath writing
// its manifest in dir.
func (r *run) scenariodArgs(planPath, dir, id string) []string {
	args := []string{"-plan", planPath, "-run-id", id, "-manifest", filepath.Join(dir, "manifest.json"),
		"-toxiproxy", r.st.ToxiproxyURL, "-wait-scraped", r.st.PrometheusURL, "-stack", r.cfg.Stack, "-nft-table", r.claim.table()}
	if r.cfg.Stack == StackLocal {
		args = append(args, "-stack-dir", r.st.Dir)
	}
	return append(args, r.sdArgs...)
}

// scenarios runs scenariod on the plan at planPath, writing into dir,
// while watching the stack and arms: a run whose load, proxies or
// Prometheus died measures nothing more and stops at once, as if
// interrupted. It returns scenariod's error and the death that stopped it.
func (r *run) scenarios(planPath, dir, id, logName string, arms []*arm) (sdErr, died error, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("bench: %w", err)
	}
	sd, err := startScenariod(r.bins.scenariod, r.scenariodArgs(planPath, dir, id), filepath.Join(r.logs(), logName), r.cfg.Stderr)
	if err != nil {
		return nil, nil, err
	}
	r.measuring = true
	runCtx, stopRun := context.WithCancelCause(r.ctx)
	defer stopRun(nil)
	watched := r.st.Watched()
	for _, a := range arms {
		watched = append(watched, a.proc)
	}
	unwatch := watch(stopRun, watched)
	sdErr = waitOrInterrupt(runCtx, sd, 15*time.Second)
	unwatch()
	if cause := context.Cause(runCtx); errors.Is(cause, ErrChildDied) {
		died = cause
	}
	if sdErr != nil && runCtx.Err() == nil {
		r.say("scenariod failed: %v (log %s); reporting what finished", sdErr, sd.LogPath)
	}
	return sdErr, died, nil
}

// runScenarios runs the plan's scenarios Count times under the same load,
// each repetition in a run-<i> directory of its own when Count > 1. scenariod
// prints progress and writes each manifest.
func (r *run) runScenarios() error {
	r.started = time.Now()
	planPath := filepath.Join(r.res.RunDir, plan.File)
	for i := 1; i <= r.cfg.Count && r.ctx.Err() == nil && r.sdErr == nil && r.died == nil; i++ {
		dir, id, logName := r.res.RunDir, r.cfg.RunID, "scenariod.log"
		if r.cfg.Count > 1 {
			dir, id, logName = filepath.Join(r.res.RunDir, fmt.Sprintf("run-%d", i)), fmt.Sprintf("%s-%d", r.cfg.RunID, i), fmt.Sprintf("scenariod-%d.log", i)
			r.say("repetition %d of %d", i, r.cfg.Count)
		}
		var err error
		if r.sdErr, r.died, err = r.scenarios(planPath, dir, id, logName, r.arms); err != nil {
			return err
		}
		if _, err := manifest.Read(filepath.Join(dir, "manifest.json")); err != nil {
			r.say("WARNING: scenariod left no usable manifest in %s (%v); see %s", dir, err, filepath.Join(r.logs(), logName))
			continue
		}
		r.runDirs = append(r.runDirs, dir)
	}
	switch {
	case r.died != nil:
		r.say("stopped: %v; scenariod removed its faults; reporting the scenarios that finished", r.died)
	case r.ctx.Err() != nil:
		r.res.Interrupted = true
		r.say("interrupted: scenariod removed its faults; reporting the scenarios that finished")
	case r.sdErr == nil:
		r.say("scenarios done in %s", time.Since(r.started).Round(time.Second))
	}
	stopArms(r.arms, 10*time.Second)
	if err := verifyClean(r.setup, r.st.ToxiproxyURL); err != nil {
		r.say("WARNING: %v", err)
	} else {
		r.say("toxiproxy is clean: no toxics, every proxy enabled")
	}
	if len(r.runDirs) == 0 {
		return fmt.Errorf("bench: no scenario ran to a usable manifest; see the logs in %s", r.logs())
	}
	return nil
}

// collect runs collect on what the scenarios measured. After a death on
// the local stack it reads Prometheus' data with a Prometheus of its own.
func (r *run) collect() error {
	if r.died != nil && r.cfg.Stack == StackLocal && !r.st.PrometheusAlive() {
		p, err := startPrometheusOn(r.setup, filepath.Join(r.st.Dir, "prometheus-data"), filepath.Join(r.res.RunDir, "recollect"), r.cfg.Stderr)
		if err != nil {
			return fmt.Errorf("bench: %w (after: %v)", err, r.died)
		}
		r.onClose(func() error { p.Stop(); return nil })
		r.promURL = p.PrometheusURL
		r.say("Prometheus restarted on the run's data (%s) to report what finished", r.promURL)
	}
	r.say("collecting results from Prometheus")
	return runCollect(r.setup, r.cfg, r.promURL, r.runDirs, nil, &r.res)
}

// outcome is the run's error once every stage ran.
func (r *run) outcome() error {
	if r.died != nil {
		return fmt.Errorf("bench: run stopped early, the report covers the scenarios that finished: %w", r.died)
	}
	if r.sdErr != nil && !r.res.Interrupted {
		return fmt.Errorf("bench: scenariod: %w", r.sdErr)
	}
	return nil
}

// updateBaseline writes the run's results as the profile's baseline, when asked.
func (r *run) updateBaseline() error {
	if !r.cfg.UpdateBaseline || r.died != nil {
		return nil
	}
	return updateBaseline(r.cfg, r.plan, r.res, r.sdErr, r.runDirs)
}

// listenOf is where scenariod listens for an exporter Prometheus reaches at addr.
func listenOf(cfg Config, addr string) string {
	host := "127.0.0.1"
	if cfg.Stack != StackLocal {
		host = "0.0.0.0"
	}
	return host + addr[strings.LastIndexByte(addr, ':'):]
}
