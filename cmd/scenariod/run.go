package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/internal/profile"
	"github.com/mcchaos/mcchaos/internal/shard"
	"github.com/mcchaos/mcchaos/internal/signals"
	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/scenariod"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

// Exit codes.
const (
	exitOK          = 0
	exitCannotRun   = 2
	exitInterrupted = 130
)

// errUsage marks bad command lines (the message is already printed by flag).
var errUsage = errors.New("usage")

// exitCode prints err in one line and maps it to an exit code.
func exitCode(stderr io.Writer, err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitCannotRun
	case errors.Is(err, scenariod.ErrInterrupted) && errors.Is(err, scenariod.ErrDirtyState):
		fmt.Fprintf(stderr, "scenariod: interrupted, but some faults may remain (check toxiproxy and `nft list tables`): %v\n", oneLine(err))
		return exitInterrupted
	case errors.Is(err, scenariod.ErrInterrupted):
		fmt.Fprintln(stderr, "scenariod: interrupted: every fault removed, manifest written")
		return exitInterrupted
	}
	var fe *scenariod.FileError
	if errors.As(err, &fe) {
		// Scenario file mistakes, one "file:line: message" per line, as a compiler prints them.
		fmt.Fprintln(stderr, err)
		return exitCannotRun
	}
	fmt.Fprintf(stderr, "scenariod: %v\n", oneLine(err))
	return exitCannotRun
}

// oneLine joins the lines of a (joined) error.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// run parses args and runs scenariod; main only maps the error to an exit code.
func run(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("scenariod", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		list         = fs.Bool("list", false, "print the scenarios (name, fault, target, phase lengths per profile) and exit")
		check        = fs.Bool("check", false, "check the flags, scenario files and selection, print the selected scenarios and exit (exit 2 on bad input)")
		sel          = fs.String("scenario", "", "scenarios to run: all (the 14), extended, NAME[,NAME...]; default: the profile's selection, or the scenario files' scenarios")
		files        stringList
		profName     = fs.String("profile", profile.Default, "profile: phase lengths ("+strings.Join(profile.Names(), ", ")+")")
		stab         = fs.Duration("stabilization", 0, "override the profile's stabilization length (the manifest's profile becomes NAME+custom)")
		recov        = fs.Duration("recovery", 0, "override the profile's recovery length (the manifest's profile becomes NAME+custom)")
		maxFault     = fs.Duration("max-fault", 0, "override the profile's cap on fault times not stated in the scenario name")
		tpURL        = fs.String("toxiproxy", inject.DefaultToxiproxyURL, "toxiproxy API URL")
		tpTimeout    = fs.Duration("toxiproxy-timeout", inject.DefaultCallTimeout, "deadline of one toxiproxy API attempt (calls are retried)")
		lossInj      = fs.String("loss-injector", scenariod.LossAuto, "packet loss injector: auto (netfilter when usable here), netfilter (per packet), netem (per packet, in toxiproxy's namespace: the compose helper), toxiproxy (per connection)")
		netemExec    = fs.String("netem-exec", "", "with -loss-injector netem: the command that runs tc and ip in toxiproxy's network namespace (default: docker compose exec -T netem)")
		nftTable     = fs.String("nft-table", inject.DefaultTable, "nftables table holding our rules (deleted at start, at fault end, on exit)")
		nftCommand   = fs.String("nft-command", "nft", "the command that runs nft, e.g. \"sudo -n nft\" where only sudo grants CAP_NET_ADMIN (file capabilities on scenariod do not reach the nft it runs)")
		stackDir     = fs.String("stack-dir", "", "local stack directory with <server>.pid and .argv.json (for process faults)")
		stackName    = fs.String("stack", "", "stack kind recorded in the manifest: local, compose, external")
		runID        = fs.String("run-id", "", "run id (default: the start time, 20060102-150405)")
		manifestPath = fs.String("manifest", "", "manifest path (default reports/<run-id>/manifest.json)")
		listen       = fs.String("listen", scenariod.DefaultListen, "address serving /metrics")
		waitURL      = fs.String("wait-scraped", "", "Prometheus URL: before the first scenario, wait until it scrapes the -wait-scraped-jobs")
		waitJobs     = fs.String("wait-scraped-jobs", scenariod.DefaultWaitScrapedJobs, "jobs whose up must be 1 before the first scenario")
		waitTimeout  = fs.Duration("wait-scraped-timeout", scenariod.DefaultWaitScrapeTimeout, "how long to wait for the scrape")
		shardSpec    = fs.String("shard", "", "run only shard `i/n` of the selection: a share balanced by duration (1-based; the manifest records it)")
		linger       = fs.Duration("linger", 3*time.Second, "keep serving /metrics this long after the last scenario, so the final idle phase is scraped")
	)
	fs.Var(&files, "scenario-file", "YAML or JSON file of more scenarios (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "scenariod: unexpected argument %q (flags only; see -help)\n", fs.Arg(0))
		return errUsage
	}

	catalogue, fromFiles, err := scenariod.Catalogue(files...)
	if err != nil {
		return err
	}
	if *list {
		return scenariod.List(stdout, catalogue)
	}

	prof, err := profile.Get(*profName)
	if err != nil {
		return err
	}
	if *stab > 0 || *recov > 0 || *maxFault > 0 {
		prof.Name += "+custom"
		prof.Stabilization = cmpOr(*stab, prof.Stabilization)
		prof.Recovery = cmpOr(*recov, prof.Recovery)
		prof.MaxFault = cmpOr(*maxFault, prof.MaxFault)
	}
	spec := *sel
	switch {
	case spec != "":
	case len(fromFiles) > 0:
		spec = strings.Join(fromFiles, ",")
	case prof.Scenarios != nil:
		spec = strings.Join(prof.Scenarios, ",")
	default:
		spec = scenariod.SetAll
	}
	scenarios, err := scenariod.Select(catalogue, spec)
	if err != nil {
		return err
	}
	var shardRec *shard.Record
	if *shardSpec != "" {
		spec, err := shard.Parse(*shardSpec)
		if err != nil {
			return err
		}
		if scenarios, shardRec, err = scenariod.SelectShard(prof, scenarios, spec); err != nil {
			return err
		}
	}
	if *check {
		for _, s := range scenarios {
			fmt.Fprintln(stdout, s.Name)
		}
		return nil
	}

	if *runID == "" {
		*runID = time.Now().Format("20060102-150405")
	}
	if *manifestPath == "" {
		*manifestPath = filepath.Join("reports", *runID, "manifest.json")
	}

	reg, metrics := scenariod.NewRegistry()
	stop, err := scenariod.Serve(ctx, *listen, reg)
	if err != nil {
		return err
	}
	defer stop()

	progress := scenariod.NewProgress(stderr, scenariod.Planned(prof, scenarios))
	defer progress.Close()
	r, err := scenariod.NewRunner(scenariod.Config{
		Profile:      prof,
		Scenarios:    scenarios,
		Toxiproxy:    inject.Toxiproxy{URL: *tpURL, CallTimeout: *tpTimeout},
		LossInjector: *lossInj,
		NetemExec:    strings.Fields(*netemExec),
		NFTable:      *nftTable,
		NFTCommand:   strings.Fields(*nftCommand),
		StackDir:     *stackDir,
		ManifestPath: *manifestPath,
		RunID:        *runID,
		Stack:        *stackName,
		Shard:        shardRec,
		Metrics:      metrics,
		OnEvent:      progress.Event,
		Log:          progress,
	})
	if err != nil {
		return err
	}
	if *waitURL != "" {
		if err := scenariod.WaitScraped(ctx, *waitURL, strings.Split(*waitJobs, ","), *waitTimeout); err != nil {
			if ctx.Err() != nil {
				return scenariod.ErrInterrupted
			}
			return err
		}
	}
	current.Store(r)
	stopOrphan := killOrphans(ctx, *stackDir, stderr)
	_, err = r.Run(ctx)
	stopOrphan()
	current.Store(nil)
	progress.Close()
	fmt.Fprintf(stdout, "manifest: %s\n", *manifestPath)
	if err == nil && *linger > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(*linger):
		}
	}
	return err
}

// killOrphans kills, once the parent (bench) is gone, the memcached
// servers stackDir records: the stack's own died with bench, but one the
// process fault restarted is scenariod's child and would outlive the run.
// It kills them at once and again when the returned func is called after
// the run's cleanup (which restarts a server it finds down).
func killOrphans(ctx context.Context, stackDir string, stderr io.Writer) (after func()) {
	kill := func() {
		if stackDir == "" || !errors.Is(context.Cause(ctx), signals.ErrParentGone) {
			return
		}
		for _, k := range stack.KillRecorded(stackDir) {
			fmt.Fprintf(stderr, "scenariod: bench is gone: killed %s\n", k)
		}
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			kill()
		case <-done:
		}
	}()
	return func() { close(done); kill() }
}

func cmpOr(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}
