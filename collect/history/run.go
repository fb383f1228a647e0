package history

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcchaos/mcchaos/collect/compare"
)

// Options of Run.
type Options struct {
	// Dir holds the history's results.json files; fetched files go there.
	Dir string
	// Out is where history.md and charts/ are written. If empty, Dir.
	Out string
	// Fetch, when Repo is set, downloads the last FetchRuns runs into Dir
	// first.
	Fetch     Fetcher
	FetchRuns int
	// StepSummary, when set, is a file (GITHUB_STEP_SUMMARY) the summary
	// is appended to.
	StepSummary string
	Config      Config
	// PolicyFile, when set, overrides the floors of compare.DefaultPolicy
	// (compare.LoadPolicy; a missing file is the defaults).
	PolicyFile string
	// Stderr gets progress lines when not nil.
	Stderr io.Writer
}

// Run fetches (when asked), loads and analyses a history and writes its
// summary and charts. It returns the summary's path and the result.
func Run(ctx context.Context, opt Options) (string, *Result, error) {
	logf := func(format string, a ...any) {
		if opt.Stderr != nil {
			fmt.Fprintf(opt.Stderr, "history: "+format+"\n", a...)
		}
	}
	if opt.Fetch.Repo != "" {
		files, err := opt.Fetch.Fetch(ctx, opt.Dir, opt.FetchRuns)
		if err != nil {
			return "", nil, err
		}
		logf("fetched %d results files of %s into %s", len(files), opt.Fetch.Repo, opt.Dir)
	}
	if opt.PolicyFile != "" && opt.Config.Policy == nil {
		p, err := compare.LoadPolicy(opt.PolicyFile)
		if err != nil {
			return "", nil, fmt.Errorf("%w: %v", ErrInput, err)
		}
		opt.Config.Policy = p
	}
	pts, skipped, err := Load(opt.Dir)
	if err != nil {
		return "", nil, err
	}
	res := Analyze(pts, opt.Config)
	res.Skipped = skipped
	out := opt.Out
	if out == "" {
		out = opt.Dir
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", res, fmt.Errorf("history: %w", err)
	}
	charts, err := WriteCharts(filepath.Join(out, "charts"), res)
	if err != nil {
		return "", res, err
	}
	var b strings.Builder
	if err := WriteMarkdown(&b, res, charts); err != nil {
		return "", res, err
	}
	path := filepath.Join(out, "history.md")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return "", res, fmt.Errorf("history: %w", err)
	}
	if opt.StepSummary != "" {
		f, err := os.OpenFile(opt.StepSummary, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return path, res, fmt.Errorf("history: step summary: %w", err)
		}
		_, werr := io.WriteString(f, b.String())
		if err := f.Close(); werr == nil {
			werr = err
		}
		if werr != nil {
			return path, res, fmt.Errorf("history: step summary: %w", werr)
		}
	}
	return path, res, nil
}
