package bench

import (
	"context"
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
)

type tools struct{ loadgen, scenariod, collect string }

// findTools finds the loadgen, scenariod and collect binaries in dir (or
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
	if t.scenariod, err = find("scenariod"); err != nil {
		return t, err
	}
	t.collect, err = find("collect")
	return t, err
}

// child is a loadgen or scenariod process with its log.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

func startChild(name, bin string, args []string, logPath string, tee io.Writer) (*child, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	var out io.Writer = f
	if tee != nil {
		out = io.MultiWriter(f, tee)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = stack.SysProcAttr()
	fmt.Fprintf(f, "# %s %s\n", bin, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() { c.err = cmd.Wait(); f.Close(); close(c.done) }()
	liveMu.Lock()
	live = append(live, c)
	liveMu.Unlock()
	return c, nil
}

var (
	liveMu sync.Mutex
	live   []*child
)

// Abort is for a second Ctrl-C: it sends SIGINT to every child still
// running (scenariod then makes one more cleanup attempt and exits at once)
// and waits at most grace for them. The caller exits right after; the stack's
// processes die with it.
func Abort(grace time.Duration) {
	liveMu.Lock()
	cs := live
	liveMu.Unlock()
	deadline := time.After(grace)
	for _, c := range cs {
		if !c.exited() {
			c.cmd.Process.Signal(syscall.SIGINT)
		}
	}
	for _, c := range cs {
		select {
		case <-c.done:
		case <-deadline:
			return
		}
	}
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL after grace. Safe to call again.
func (c *child) stop(grace time.Duration) error {
	if !c.exited() {
		c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(grace):
			c.cmd.Process.Kill()
			<-c.done
		}
	}
	return c.err
}

// waitOrInterrupt waits for the child to exit. When ctx ends first it sends
// SIGINT (scenariod then removes its faults and writes its manifest), and
// SIGKILL if the child has not exited after grace.
func (c *child) waitOrInterrupt(ctx context.Context, grace time.Duration) error {
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
	}
	c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(grace):
		c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not stop within %s after SIGINT and was killed", c.name, grace)
	}
	return c.err
}

// tail returns the end of the child's log, for error messages.
func (c *child) tail() string {
	b, _ := os.ReadFile(c.logPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

// waitHTTP polls url until it answers 200, the child exits or timeout passes.
func waitHTTP(ctx context.Context, url string, c *child, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.done:
			return fmt.Errorf("%s exited (%v); its log ends:\n%s", c.name, c.err, c.tail())
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer %s within %s; its log ends:\n%s", c.name, url, timeout, c.tail())
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

func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
