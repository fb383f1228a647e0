package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

// DefaultMinFree is the free space a run needs on the file system of its
// reports directory: a full run's Prometheus data, logs and reports stay
// well under it (a 14-minute pr run keeps about 100 MB; see README).
const DefaultMinFree = 1 << 30

// registry is where runs register; a variable for the tests.
var registry = stack.Registry{}

// createRunDir creates reports/id exclusively (os.Mkdir fails when it
// exists): a run never takes over, and so never removes, a directory it
// did not create. When bench chose the id itself (auto), a taken one gets
// a suffix (-2, -3, ...): two runs started in the same second on one
// commit both run. It returns the directory and the id used.
func createRunDir(reports, id string, auto bool) (dir, gotID string, err error) {
	if err := os.MkdirAll(reports, 0o755); err != nil {
		return "", "", fmt.Errorf("bench: %w", err)
	}
	for n := 1; ; n++ {
		gotID = id
		if n > 1 {
			gotID = fmt.Sprintf("%s-%d", id, n)
		}
		dir = filepath.Join(reports, gotID)
		err := os.Mkdir(dir, 0o755)
		switch {
		case err == nil:
			return dir, gotID, nil
		case !errors.Is(err, fs.ErrExist):
			return "", "", fmt.Errorf("bench: %w", err)
		case !auto || n >= 100:
			return "", "", &UsageError{fmt.Errorf("-run-id %s: %s exists: pick another id, or remove it", gotID, dir)}
		}
	}
}

// claim is what a run holds while it runs: its directory's lock and
// registry entry, and the default ports' host-wide lock unless it runs on
// free ports. Everything it creates is named by lock.Key.
type claim struct {
	lock  *stack.RunLock
	ports func()
}

// claimRun locks runDir and, without FreePorts, the default ports. A run
// on the default ports beside another is bad input: exit 2 naming the
// holder.
func claimRun(cfg Config, runDir string) (*claim, error) {
	lock, err := registry.Lock(runDir)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	c := &claim{lock: lock}
	if !cfg.FreePorts {
		release, err := registry.LockDefaultPorts(runDir)
		if err != nil {
			lock.Release()
			var held *stack.HeldError
			if errors.As(err, &held) {
				return nil, &UsageError{fmt.Errorf("%v: wait for that run, or run beside it with -free-ports", err)}
			}
			return nil, fmt.Errorf("bench: %w", err)
		}
		c.ports = release
	}
	setAbortTable(c.table())
	return c, nil
}

// table is the run's own nftables table.
func (c *claim) table() string { return inject.RunTable(c.lock.Key) }

// release drops the locks; the run is over.
func (c *claim) release() {
	setAbortTable("")
	if c.ports != nil {
		c.ports()
	}
	c.lock.Release()
}

// cleanStale removes what runs that died hard left behind, wherever their
// reports live: each dead run's nftables table, the memcached servers it
// recorded and its base worktree; then it forgets the run. A live run
// (its lock held) is never touched, nor anything not named after a dead
// run. It says what it removed.
func cleanStale(ctx context.Context, say func(string, ...any)) {
	for _, r := range registry.Stale() {
		var did []string
		nf := &inject.Netfilter{Table: inject.RunTable(r.Key), Timeout: 5 * time.Second}
		if ok, err := nf.Exists(ctx); err == nil && ok {
			if err := nf.Clear(ctx); err != nil {
				say("WARNING: dead run %s left nftables table inet %s, which could not be removed: %v", r.Dir, nf.Table, err)
			} else {
				did = append(did, "nftables table inet "+nf.Table)
			}
		}
		did = append(did, stack.KillStale(r.Dir)...)
		if src := filepath.Join(r.Dir, "base", "src"); fileExists(src) {
			if os.RemoveAll(src) == nil {
				exec.Command("git", "worktree", "prune").Run()
				did = append(did, "base worktree "+src)
			}
		}
		if err := registry.Forget(r); err != nil {
			say("WARNING: %v", err)
		}
		if len(did) > 0 {
			say("removed what dead run %s left: %s", r.Dir, strings.Join(did, ", "))
		}
	}
}

// checkFreeSpace returns a UsageError when the file system of dir has
// less than need bytes available.
func checkFreeSpace(dir string, need uint64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("bench: free space of %s: %w", dir, err)
	}
	if free := st.Bavail * uint64(st.Bsize); free < need {
		return &UsageError{fmt.Errorf("%s has %s free, a run needs %s: free some space, or drop old runs' Prometheus data with `make prune`", dir, bytesIEC(free), bytesIEC(need))}
	}
	return nil
}

// bytesIEC formats n as "1.5 GiB".
func bytesIEC(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// PromDataDir is where a run keeps its Prometheus data, under its run directory.
var PromDataDir = filepath.Join("stack", "prometheus-data")

// Prune removes the Prometheus data of the runs under reportsDir but the
// newest keep (by modification time) and any live one, keeping their
// reports, results, manifests and logs. A pruned run can no longer be
// reported again with -recollect. It prints one line per run pruned and
// returns the bytes freed.
func Prune(reportsDir string, keep int, w io.Writer) (freed int64, err error) {
	entries, err := os.ReadDir(reportsDir)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(w, "nothing to prune: %s does not exist\n", reportsDir)
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("bench: prune: %w", err)
	}
	type run struct {
		dir string
		mod time.Time
	}
	var runs []run
	for _, e := range entries {
		data := filepath.Join(reportsDir, e.Name(), PromDataDir)
		if !e.IsDir() || !fileExists(data) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		runs = append(runs, run{filepath.Join(reportsDir, e.Name()), info.ModTime()})
	}
	slices.SortFunc(runs, func(a, b run) int { return b.mod.Compare(a.mod) }) // newest first
	for i, r := range runs {
		if i < keep {
			continue
		}
		if stack.Live(r.dir) {
			fmt.Fprintf(w, "kept %s: it is running\n", r.dir)
			continue
		}
		data := filepath.Join(r.dir, PromDataDir)
		size := dirSize(data)
		if err := os.RemoveAll(data); err != nil {
			return freed, fmt.Errorf("bench: prune: %w", err)
		}
		freed += size
		fmt.Fprintf(w, "pruned %s (%s of Prometheus data)\n", r.dir, bytesIEC(uint64(size)))
	}
	fmt.Fprintf(w, "freed %s; reports, results and logs kept\n", bytesIEC(uint64(freed)))
	return freed, nil
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
