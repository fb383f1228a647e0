package collect

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/mcchaos/mcchaos/collect/results"
)

// Merge joins the run directories of a run's shards (bench -shard i/n, each
// a paired run with its own confirmation stage) into one run in
// opt.OutDir, and reports it as one: results.JoinShards checks they are
// every shard of one selection and joins their results.json into
// OutDir/results.json, the shards' confirmation stages into
// OutDir/confirm/results.json, and the comparison is then exactly Run's
// offline comparison of those two files (collect -compare - results.json
// -confirm confirm/results.json): one verdict, the gating family and its
// false-alarm bound over every shard's scenarios. A scenario's rows are
// its shard's; the healthy path is recomputed over all stabilization
// windows, and a candidate of it is judged by the confirmation stages
// that ran (any stabilization window confirms it) or stays unconfirmed.
//
// A head-only (unpaired) set of shards is compared with opt.Baselines.
func Merge(ctx context.Context, dirs []string, opt Options) (*Outcome, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%w: -merge needs the shards' run directories: collect -merge -out DIR RUN_DIR...", ErrUsage)
	}
	if opt.OutDir == "" {
		return nil, fmt.Errorf("%w: -merge needs -out DIR, the merged run's directory", ErrUsage)
	}
	if len(opt.RunDirs)+len(opt.Manifests)+len(opt.CompareNew)+len(opt.CompareOld)+len(opt.ConfirmDirs)+len(opt.CompareConfirm) > 0 {
		return nil, fmt.Errorf("%w: -merge reads the shards' results.json and confirm/: do not also give -run-dir, -manifest, -compare or -confirm", ErrUsage)
	}
	out, _ := filepath.Abs(opt.OutDir)
	var shards, confirms []*results.File
	for _, d := range dirs {
		if abs, _ := filepath.Abs(d); abs == out {
			return nil, fmt.Errorf("%w: -out %s is one of the shards: give the merged run a directory of its own", ErrUsage, opt.OutDir)
		}
		f, err := results.Read(filepath.Join(d, ResultsFile))
		if err != nil {
			return nil, fmt.Errorf("%w: shard %s: %v", ErrInput, d, err)
		}
		shards = append(shards, f)
		c, err := results.Read(filepath.Join(d, ConfirmDir, ResultsFile))
		switch {
		case err == nil:
			confirms = append(confirms, c)
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("%w: shard %s: confirmation stage: %v", ErrInput, d, err)
		}
	}
	joined, err := results.JoinShards(shards...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInput, err)
	}
	if err := os.MkdirAll(opt.OutDir, 0o755); err != nil {
		return nil, err
	}
	newPath := filepath.Join(opt.OutDir, ResultsFile)
	if err := results.Write(newPath, joined); err != nil {
		return nil, err
	}
	opt.CompareNew = []string{newPath}
	if len(confirms) > 0 {
		var runs []results.Run
		for _, c := range confirms {
			runs = append(runs, c.Runs...)
		}
		c, err := results.Join(runs...)
		if err != nil {
			return nil, fmt.Errorf("%w: confirmation stages: %v", ErrInput, err)
		}
		p := filepath.Join(opt.OutDir, ConfirmDir, ResultsFile)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := results.Write(p, &results.File{SchemaVersion: results.SchemaVersion, Runs: []results.Run{c}}); err != nil {
			return nil, err
		}
		opt.CompareConfirm = []string{p}
	}
	opt.CompareOld = opt.Baselines
	if slices.Equal(opt.Baselines, []string{BaselineAuto}) {
		opt.CompareOld = nil
		if p := filepath.Join(cmp.Or(opt.BaselineDir, DefaultBaselineDir), joined.Profile()+".json"); exists(p) && !joined.Runs[0].Paired() {
			opt.CompareOld = []string{p}
		}
	}
	stderr := opt.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	fmt.Fprintf(stderr, "collect: merged %d shards (%d confirmation stage(s)) into %s\n", len(shards), len(confirms), opt.OutDir)
	return Run(ctx, opt)
}
