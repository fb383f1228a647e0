// Command bench runs the whole mcchaos benchmark: it starts (or finds) the
// stack, drives the client with loadgen, walks the fault scenarios with
// scenariod, and has collect write results.json and report.md under
// reports/<run-id>/.
//
// Exit codes: 0 ran and found no regression; 1 regression or integrity
// violation (as -fail-on asks); 2 the run could not be done; 130 a second
// Ctrl-C cut it short.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/bench"
	"github.com/mcchaos/mcchaos/internal/profile"
	"github.com/mcchaos/mcchaos/internal/signals"
)

func main() {
	ctx, stop := signals.Notify(func(os.Signal) {
		fmt.Fprintln(os.Stderr, "\nbench: interrupted: removing faults and reporting what finished (Ctrl-C again to quit at once)")
	}, func() {
		fmt.Fprintln(os.Stderr, "bench: second interrupt: one more cleanup, then exit")
		bench.Abort(3 * time.Second)
	})
	err := run(ctx, os.Stdout, os.Stderr, os.Args[1:])
	stop()
	os.Exit(exitCode(err))
}

func exitCode(err error) int {
	var code exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	default:
		// The last line names the cause.
		fmt.Fprintln(os.Stderr, "bench:", strings.TrimPrefix(err.Error(), "bench: "))
		return 2
	}
}

// exitError carries a non-zero exit code that has already been explained.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// usage prints one line and returns exit code 2: bad input, nothing started.
func usage(stderr io.Writer, msg string) error {
	fmt.Fprintln(stderr, "bench:", msg)
	return exitError(2)
}

func run(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg bench.Config
	var loadgenArgs, scenariodArgs, baseArgs, baseClient, recollect string
	fs.StringVar(&cfg.Profile, "profile", profile.Default, "run profile: "+strings.Join(profile.Names(), ", "))
	fs.StringVar(&cfg.Scenarios, "scenarios", "", "scenarios to run: all, extended, or NAME[,NAME...] (default: the profile's; see scenariod -list)")
	fs.StringVar(&cfg.Stack, "stack", bench.StackLocal, "where the services run: local (child processes), compose (docker compose up), external (already running)")
	fs.StringVar(&cfg.RunID, "run-id", "", "run directory name under -reports (default: UTC time and git commit)")
	fs.StringVar(&cfg.ReportsDir, "reports", "reports", "directory of run directories")
	fs.StringVar(&cfg.BinDir, "bin", "", "directory of the loadgen, scenariod and collect binaries (default: beside bench)")
	fs.StringVar(&cfg.Baseline, "baseline", "", "results.json to compare with (default: baselines/<profile>.json if present; none: no comparison)")
	fs.BoolVar(&cfg.UpdateBaseline, "update-baseline", false, "write this run's results as baselines/<profile>.json (only a complete run: uninterrupted, the profile's whole selection, every scenario passed, no integrity violation)")
	fs.BoolVar(&cfg.Force, "force", false, "with -update-baseline: write the baseline whatever happened")
	fs.StringVar(&cfg.FailOn, "fail-on", "integrity", "exit 1 on: regression, integrity or never")
	fs.IntVar(&cfg.Count, "count", 1, "run the scenarios this many times; collect compares per-run values (5 or more per side)")
	fs.BoolVar(&cfg.FreePorts, "free-ports", false, "run the local stack and exporters on free ports instead of DESIGN.md's")
	fs.StringVar(&cfg.ToxiproxyURL, "toxiproxy", "", "toxiproxy API of a compose or external stack (default http://127.0.0.1:8474)")
	fs.StringVar(&cfg.PrometheusURL, "prometheus", "", "Prometheus of a compose or external stack (default http://127.0.0.1:9091)")
	fs.StringVar(&cfg.ComposeFile, "compose-file", "docker-compose.yml", "compose file of -stack compose")
	fs.StringVar(&cfg.GrafanaURL, "grafana-url", "", "Grafana for snapshots (optional)")
	fs.StringVar(&loadgenArgs, "loadgen-args", "", "extra flags for loadgen, space-separated (e.g. \"-client gomemcache\")")
	fs.StringVar(&scenariodArgs, "scenariod-args", "", "extra flags for scenariod, space-separated (e.g. \"-loss-injector toxiproxy\")")
	fs.StringVar(&cfg.Base, "base", "", "paired run: build the base side from git `REF` and run it beside this checkout; the comparison is base vs head of this run")
	fs.BoolVar(&cfg.AA, "aa", false, "paired A/A run: the same binary and flags on both sides (measures the false-alarm rate)")
	fs.StringVar(&baseArgs, "base-args", "", "paired run: the base side's loadgen flags (default: -loadgen-args)")
	fs.StringVar(&baseClient, "base-client", "", "paired run: the base side runs this client (ours, gomemcache) with head's flags")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the arms' random order (ports, proxies, start order); 0: a new one each run (the manifest records it)")
	fs.BoolVar(&cfg.NoConfirm, "no-confirm", false, "skip the confirmation stage: candidates stay unconfirmed (the verdict says so)")
	fs.IntVar(&cfg.Arms, "arms", 0, "arms (client instances) per side (default: the profile's)")
	fs.StringVar(&cfg.Shard, "shard", "", "run only shard `i/n` of the selection (1-based): a share balanced by duration, as a paired run with its own confirmation stage; collect -merge joins the shards' run directories")
	prune := fs.Bool("prune", false, "remove the Prometheus data of the runs under -reports (their reports, results and logs stay), then exit; such a run can no longer be -recollect'ed")
	pruneKeep := fs.Int("prune-keep", 1, "with -prune: keep the Prometheus data of the newest N runs")
	fs.StringVar(&recollect, "recollect", "", "report an earlier local run `DIR` again from its kept manifest and Prometheus data")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bench [flags]\n\nRuns the mcchaos benchmark end to end and writes reports/<run-id>/report.md.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected arguments %q (flags only; see -h)\n", fs.Args())
		return exitError(2)
	}
	if *prune {
		if _, err := bench.Prune(cfg.ReportsDir, *pruneKeep, stdout); err != nil {
			return err
		}
		return nil
	}
	cfg.LoadgenArgs = strings.Fields(loadgenArgs)
	if baseArgs != "" {
		cfg.BaseArgs = strings.Fields(baseArgs)
	}
	if baseClient != "" {
		cfg.BaseArgs = append(slices.Clone(cfg.LoadgenArgs), "-client", baseClient)
		if baseArgs != "" {
			return usage(stderr, "-base-client and -base-args: give one (-base-args \"-client X ...\")")
		}
	}
	if cfg.AA && (cfg.Base != "" || cfg.BaseArgs != nil) {
		return usage(stderr, "-aa runs this checkout on both sides: it takes no -base, -base-args or -base-client")
	}
	if cfg.Arms < 0 {
		return usage(stderr, fmt.Sprintf("-arms %d: want 1 or more", cfg.Arms))
	}
	cfg.ScenariodArgs = strings.Fields(scenariodArgs)
	cfg.Stdout, cfg.Stderr = stdout, stderr

	var res bench.Result
	var err error
	if recollect != "" {
		res, err = bench.Recollect(ctx, cfg, recollect)
	} else {
		res, err = bench.Run(ctx, cfg)
	}
	fmt.Fprintln(stdout)
	if res.Report != "" {
		fmt.Fprintf(stdout, "report: %s\n", res.Report)
	}
	if res.Verdict != "" {
		fmt.Fprintf(stdout, "verdict: %s\n", res.Verdict)
	}
	if err != nil {
		return err
	}
	if res.Interrupted {
		fmt.Fprintln(stderr, "bench: run interrupted: the report covers the scenarios that finished")
		return exitError(2)
	}
	if res.CollectExit != 0 {
		return exitError(res.CollectExit)
	}
	return nil
}
