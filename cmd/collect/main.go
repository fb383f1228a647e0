// Command collect turns a run of mcchaos into results.json, diff.json,
// report.md, charts and Grafana snapshots, comparing it with a baseline.
//
// Usage:
//
//	collect -run-dir reports/<run> [-prometheus URL] [-baseline FILE|auto] [-fail-on regression|integrity|never] [-grafana-url URL]
//	collect -compare OLD.json[,OLD2.json] NEW.json[,NEW2.json] [-out DIR]
//	collect -compare - PAIRED.json [-out DIR]
//	collect -run-dir reports/<run> -confirm reports/<run>/confirm    (the confirmation stage)
//	collect -compare - PAIRED.json -confirm CONFIRM.json
//	collect -merge -out DIR SHARD_RUN_DIR...    (the shards of bench -shard i/n, joined into one run)
//	collect -history DIR [-history-repo OWNER/NAME [-history-runs N]] [-out DIR]
//
// Exit codes: 0 ran and found no regression (or was not asked to fail), 1 a
// regression or integrity violation with -fail-on, 2 could not run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mcchaos/mcchaos/collect"
	"github.com/mcchaos/mcchaos/collect/compare"
	"github.com/mcchaos/mcchaos/collect/grafana"
	"github.com/mcchaos/mcchaos/collect/history"
	"github.com/mcchaos/mcchaos/internal/profile"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout, os.Stderr, os.Args[1:], os.Getenv)
	stop()
	os.Exit(exitCode(os.Stderr, err))
}

// exitCode prints err in one line and maps it to DESIGN.md's exit codes.
func exitCode(stderr io.Writer, err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 2
	case errors.Is(err, collect.ErrFailed):
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stderr, err)
	return 2
}

// list is a repeatable, comma-separated flag.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }

func (l *list) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

func split(s string) []string {
	var l list
	l.Set(s)
	return l
}

func run(ctx context.Context, stdout, stderr io.Writer, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("collect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opt collect.Options
	var runDirs, manifests, baselines list
	fs.Var(&runDirs, "run-dir", "run directory holding manifest.json (repeat, or comma-separate, for repeated runs)")
	fs.Var(&manifests, "manifest", "manifest.json path (alternative to -run-dir)")
	fs.DurationVar(&opt.Since, "since", collect.DefaultSince, "without manifest.json: look this far back for scenariod's scenario_phase to rebuild the phases")
	fs.StringVar(&opt.Profile, "profile", "", "without manifest.json: the run's profile (default "+profile.Default+")")
	fs.StringVar(&opt.PrometheusURL, "prometheus", collect.DefaultPrometheusURL, "Prometheus base URL")
	fs.Var(&baselines, "baseline", "baseline results.json to compare against (repeat for repeated runs), or \"auto\" for baselines/<profile>.json when it exists")
	fs.BoolVar(&opt.UpdateBaseline, "update-baseline", false, "write the results to <baseline-dir>/<profile>.json")
	fs.StringVar(&opt.BaselineDir, "baseline-dir", collect.DefaultBaselineDir, "directory of the per-profile baselines")
	mergeMode := fs.Bool("merge", false, "join the run directories of a run's shards (bench -shard i/n) into one run in -out: collect -merge -out DIR RUN_DIR...")
	cmpMode := fs.Bool("compare", false, "compare two results files offline: -compare OLD.json NEW.json (each may be a comma-separated list)")
	fs.StringVar(&opt.OutDir, "out", "", "output directory (default: the run directory, or the directory of NEW.json)")
	failOn := fs.String("fail-on", string(collect.FailOnNever), "exit 1 on: regression (or integrity), integrity, never")
	fs.Float64Var(&opt.Compare.Alpha, "alpha", compare.DefaultAlpha, "level of each U test")
	var confirm list
	fs.Var(&confirm, "confirm", "the confirmation stage: its run directory (collect), or its results.json (-compare); candidates of the first stage are regressions only when it flags them again")
	fs.StringVar(&opt.Policy, "policy", compare.PolicyFile, "policy file: the smallest change worth acting on per gating figure (missing: the committed defaults)")
	fs.DurationVar(&opt.Collect.MinWindow, "min-window", collect.DefaultMinWindow, "shortest phase evaluated as a phase; a shorter fault is measured as an event")
	fs.DurationVar(&opt.Collect.EventWindow, "event-window", collect.DefaultEventWindow, "how long after a short fault's start its event figures look")
	fs.StringVar(&opt.Collect.GitCommit, "git-commit", "", "commit benchmarked (default: $GITHUB_SHA or git rev-parse HEAD)")
	fs.StringVar(&opt.Collect.Stack, "stack", "", "stack name for the metadata (default: the manifest's)")
	fs.StringVar(&opt.Grafana.URL, "grafana-url", "", "Grafana base URL; when set, one snapshot per scenario")
	fs.StringVar(&opt.Grafana.Token, "grafana-token", getenv("GRAFANA_TOKEN"), "Grafana service account token (default $GRAFANA_TOKEN)")
	fs.StringVar(&opt.Grafana.User, "grafana-user", "", "Grafana basic auth user")
	fs.StringVar(&opt.Grafana.Password, "grafana-password", getenv("GRAFANA_PASSWORD"), "Grafana basic auth password (default $GRAFANA_PASSWORD)")
	fs.StringVar(&opt.Grafana.DashboardUID, "grafana-dashboard", grafana.DefaultDashboardUID, "dashboard uid to snapshot")
	fs.StringVar(&opt.Grafana.DashboardFile, "grafana-dashboard-file", "deploy/grafana/dashboards/memcache-client-perf.json", "dashboard JSON used when Grafana does not serve the uid")
	histDir := fs.String("history", "", "find change points in the gating figures of the results.json files under this directory, ordered by run start (writes history.md and charts/)")
	histFetch := history.Fetcher{Token: getenv("GITHUB_TOKEN"), API: getenv("GITHUB_API_URL")}
	fs.StringVar(&histFetch.Repo, "history-repo", "", "with -history: first download main's bench-results artifacts of this GitHub repository (owner/name) into the directory, with the token in $GITHUB_TOKEN")
	histRuns := fs.Int("history-runs", 30, "with -history-repo: how many of main's latest benchmark runs to download")
	quiet := fs.Bool("q", false, "no progress lines")
	// Flags may follow the positional files: collect -compare OLD NEW -out DIR.
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if rest = fs.Args(); len(rest) == 0 {
			break
		}
		pos, rest = append(pos, rest[0]), rest[1:]
	}
	f, err := collect.ParseFailOn(*failOn)
	if err != nil {
		return err
	}
	opt.FailOn = f
	opt.RunDirs, opt.Manifests, opt.Baselines = runDirs, manifests, baselines
	if *histDir != "" {
		ho := history.Options{Dir: *histDir, Out: opt.OutDir, Fetch: histFetch, FetchRuns: *histRuns, StepSummary: getenv("GITHUB_STEP_SUMMARY"), PolicyFile: opt.Policy}
		if !*quiet {
			ho.Stderr = stderr
		}
		path, res, err := history.Run(ctx, ho)
		if res != nil {
			fmt.Fprintf(stdout, "%s\t%d runs, %d of %d gating series changed\n", path, len(res.Points), len(res.Changed()), len(res.Series))
		}
		return err
	}
	if *mergeMode {
		if *cmpMode || len(confirm) > 0 || len(runDirs)+len(manifests) > 0 {
			return fmt.Errorf("%w: -merge takes the shards' run directories alone (their confirm/ is read from each): not -compare, -confirm, -run-dir or -manifest", collect.ErrUsage)
		}
		opt.StepSummary = getenv("GITHUB_STEP_SUMMARY")
		if !*quiet {
			opt.Stderr = stderr
		}
		o, err := collect.Merge(ctx, pos, opt)
		if o != nil {
			fmt.Fprintf(stdout, "%s\t%s\n", o.Report, o.Verdict)
		}
		return err
	}
	if *cmpMode {
		opt.CompareConfirm = confirm
	} else {
		opt.ConfirmDirs = confirm
	}
	if *cmpMode {
		if len(pos) != 2 {
			return fmt.Errorf("%w: -compare needs two results files: collect -compare OLD.json NEW.json (or - PAIRED.json for a paired run)", collect.ErrUsage)
		}
		if pos[0] != "-" {
			opt.CompareOld = split(pos[0])
		}
		opt.CompareNew = split(pos[1])
	} else if len(pos) > 0 {
		return fmt.Errorf("%w: unexpected arguments %q (did you mean -compare?)", collect.ErrUsage, pos)
	}
	if opt.Collect.GitCommit == "" && !*cmpMode {
		opt.Collect.GitCommit = collect.GitCommit(ctx)
	}
	opt.StepSummary = getenv("GITHUB_STEP_SUMMARY")
	if !*quiet {
		opt.Stderr = stderr
	}
	o, err := collect.Run(ctx, opt)
	if o != nil {
		fmt.Fprintf(stdout, "%s\t%s\n", o.Report, o.Verdict)
	}
	return err
}
