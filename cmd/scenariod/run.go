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

	"github.com/mcchaos/mcchaos/internal/plan"
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

// run parses args and runs scenariod; main only maps the error to an exit code.
func run(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("scenariod", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := scenariod.DefaultOptions()
	o.Register(fs)
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
	if o.List {
		catalogue, _, err := scenariod.Catalogue(o.Files...)
		if err != nil {
			return err
		}
		return scenariod.List(stdout, catalogue)
	}

	// The plan: bench's, or one built from the flags when run alone.
	var pl *plan.Plan
	var err error
	if o.Plan != "" {
		if err := scenariod.CheckPlanFlags(fs); err != nil {
			return err
		}
		pl, err = plan.Read(o.Plan)
	} else {
		pl, err = o.Resolve()
	}
	if err != nil {
		return err
	}
	if o.Check {
		for _, s := range pl.Scenarios {
			fmt.Fprintln(stdout, s.Name)
		}
		return nil
	}

	if o.RunID == "" {
		o.RunID = time.Now().Format("20060102-150405")
	}
	if o.Manifest == "" {
		o.Manifest = filepath.Join("reports", o.RunID, "manifest.json")
	}

	reg, metrics := scenariod.NewRegistry()
	stop, err := scenariod.Serve(ctx, o.Listen, reg)
	if err != nil {
		return err
	}
	defer stop()

	progress := scenariod.NewProgress(stderr, scenariod.Planned(pl.Profile, pl.Scenarios))
	defer progress.Close()
	r, err := scenariod.NewRunner(scenariod.Config{
		Plan:         *pl,
		Toxiproxy:    inject.Toxiproxy{URL: o.Toxiproxy, CallTimeout: o.ToxiproxyTimeout},
		LossInjector: o.LossInjector,
		NetemExec:    strings.Fields(o.NetemExec),
		NFTable:      o.NFTable,
		NFTCommand:   strings.Fields(o.NFTCommand),
		StackDir:     o.StackDir,
		ManifestPath: o.Manifest,
		RunID:        o.RunID,
		Stack:        o.Stack,
		Metrics:      metrics,
		OnEvent:      progress.Event,
		Log:          progress,
	})
	if err != nil {
		return err
	}
	if o.WaitScraped != "" {
		if err := scenariod.WaitScraped(ctx, o.WaitScraped, strings.Split(o.WaitScrapedJobs, ","), o.WaitScrapedTimeout); err != nil {
			if ctx.Err() != nil {
				return scenariod.ErrInterrupted
			}
			return err
		}
	}
	current.Store(r)
	stopOrphan := killOrphans(ctx, o.StackDir, stderr)
	_, err = r.Run(ctx)
	stopOrphan()
	current.Store(nil)
	progress.Close()
	fmt.Fprintf(stdout, "manifest: %s\n", o.Manifest)
	if err == nil && o.Linger > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(o.Linger):
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
