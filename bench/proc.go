package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

type tools struct{ loadgen, scenariod string }

// findTools finds the loadgen and scenariod binaries in dir (or
// beside the running executable), then in PATH.
func findTools(dir string) (tools, error) {
	if dir == "" {
		if exe, err := os.Executable(); err == nil {
			dir = filepath.Dir(exe)
		}
	}
	find := func(name string) (string, error) {
		if p := filepath.Join(dir, name); dir != "" && fileExists(p) {
			return p, nil
		}
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		return "", &UsageError{fmt.Errorf("%s binary not found beside bench (%s) or in PATH: run `make build`", name, dir)}
	}
	var t tools
	var err error
	if t.loadgen, err = find("loadgen"); err != nil {
		return t, err
	}
	t.scenariod, err = find("scenariod")
	return t, err
}

// startChild starts loadgen or scenariod and registers it for Abort.
func startChild(name, bin string, args []string, logPath string, tee io.Writer) (*stack.Process, error) {
	return start(name, bin, args, logPath, tee, stack.StartProcess)
}

// start writes the command line at the head of the log, so a failed run
// says how to retry it, starts the child and registers it for Abort.
func start(name, bin string, args []string, logPath string, tee io.Writer, startProcess func(name, bin string, args []string, logPath string, tee io.Writer) (*stack.Process, error)) (*stack.Process, error) {
	if err := os.WriteFile(logPath, fmt.Appendf(nil, "# %s %s\n", bin, strings.Join(args, " ")), 0o644); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	p, err := startProcess(name, bin, args, logPath, tee)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	liveMu.Lock()
	live = append(live, p)
	liveMu.Unlock()
	return p, nil
}

// startScenariod starts scenariod like startChild, but as a cleaner: if
// bench dies hard, scenariod gets SIGTERM (not SIGKILL) and removes its
// faults itself.
func startScenariod(bin string, args []string, logPath string, tee io.Writer) (*stack.Process, error) {
	return start("scenariod", bin, args, logPath, tee, stack.StartCleaner)
}

var (
	liveMu     sync.Mutex
	live       []*stack.Process
	abortTable string // the running run's nftables table
)

// setAbortTable records the nftables table Abort removes ("" for none).
func setAbortTable(t string) {
	liveMu.Lock()
	abortTable = t
	liveMu.Unlock()
}

// Abort is for a second Ctrl-C: it sends SIGINT to every child still
// running (scenariod then makes one more cleanup attempt and exits at once),
// deletes the run's nftables table itself (whatever scenariod managed) and
// waits at most grace in all. The caller exits right after; the stack's
// processes die with it.
func Abort(grace time.Duration) {
	liveMu.Lock()
	ps, table := live, abortTable
	liveMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	for _, p := range ps {
		p.Signal(syscall.SIGINT)
	}
	if table != "" {
		nf := &inject.Netfilter{Table: table, Timeout: grace}
		if ok, err := nf.Exists(ctx); err == nil && ok {
			nf.Clear(ctx)
		}
	}
	for _, p := range ps {
		select {
		case <-p.Done():
		case <-ctx.Done():
			return
		}
	}
}

// waitOrInterrupt waits for p to exit. When ctx ends first it sends SIGINT
// (scenariod then removes its faults and writes its manifest), and SIGKILL
// if p has not exited after grace.
func waitOrInterrupt(ctx context.Context, p *stack.Process, grace time.Duration) error {
	select {
	case <-p.Done():
		return p.Err()
	case <-ctx.Done():
	}
	return p.StopWith(syscall.SIGINT, grace)
}

// waitHTTP polls url until it answers 200, the child exits or timeout passes.
func waitHTTP(ctx context.Context, url string, c *stack.Process, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	last := "no answer"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			if resp.StatusCode == http.StatusNotFound && strings.HasSuffix(url, "/ready") {
				return nil // a loadgen from before /ready: serving is all it tells
			}
		}
		select {
		case <-c.Done():
			return fmt.Errorf("%s exited (%v); its log ends:\n%s", c.Name, c.Err(), c.Tail(8))
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer %s with 200 within %s (last answer: %s); its log ends:\n%s", c.Name, url, timeout, last, c.Tail(8))
		case <-t.C:
		}
	}
}

// portFree reports a clear error when host:port is taken.
func portFree(host string, port int, what string) error {
	l, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
	if err != nil {
		return &UsageError{fmt.Errorf("port %d (for %s) is in use: stop what listens there (ss -ltnp 'sport = :%d') or run with -free-ports", port, what, port)}
	}
	return l.Close()
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// shortCommit is commit's first 7 hex digits, as git rev-parse --short
// writes it in a repository of this size.
func shortCommit(commit string) string {
	if len(commit) > 7 {
		return commit[:7]
	}
	return commit
}

// ErrChildDied is wrapped by the cause of a run stopped because a process
// it needs (an arm's loadgen, toxiproxy, Prometheus) exited.
var ErrChildDied = errors.New("a process of the run died")

// watch cancels the run with a cause naming the first of ps to exit. The
// run then stops at once: scenariod removes its faults, and what finished
// is reported. Cancel the returned stop before stopping ps on purpose.
func watch(cancel context.CancelCauseFunc, ps []*stack.Process) (stop func()) {
	quit := make(chan struct{})
	for _, p := range ps {
		go func() {
			select {
			case <-p.Done():
				cancel(fmt.Errorf("%w: %s exited (%v); its log %s ends: %s", ErrChildDied, p.Name, p.Err(), p.LogPath, strings.ReplaceAll(strings.TrimSpace(p.Tail(3)), "\n", " | ")))
			case <-quit:
			}
		}()
	}
	var once sync.Once
	return func() { once.Do(func() { close(quit) }) }
}
