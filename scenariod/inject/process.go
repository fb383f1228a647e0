package inject

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoStackDir is returned by Process when it has no stack directory: the
// process fault works only on the local stack, which writes the files it needs.
var ErrNoStackDir = errors.New("process fault needs the local stack's directory (-stack-dir)")

// Process kills a memcached of the local stack and starts it again. The
// stack writes <Dir>/<name>.pid and <Dir>/<name>.argv.json for each server;
// Restart starts the same command line again, detached from this process
// so the stack (not scenariod) owns it, and rewrites the pid file so the
// stack's Stop kills the new process.
type Process struct {
	// Dir is the stack directory holding the pid and argv files.
	Dir string
}

func (p *Process) path(name, ext string) (string, error) {
	if p.Dir == "" {
		return "", ErrNoStackDir
	}
	return filepath.Join(p.Dir, name+ext), nil
}

// Check reports an error if the files for name are missing.
func (p *Process) Check(name string) error {
	for _, ext := range []string{".pid", ".argv.json"} {
		f, err := p.path(name, ext)
		if err != nil {
			return err
		}
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("process fault on %s: %w (is -stack-dir the local stack's directory?)", name, err)
		}
	}
	return nil
}

// read returns the contents of name's file with extension ext.
func (p *Process) read(name, ext string) ([]byte, string, error) {
	f, err := p.path(name, ext)
	if err != nil {
		return nil, "", err
	}
	b, err := os.ReadFile(f)
	return b, f, err
}

// pid returns the pid in name's pid file.
func (p *Process) pid(name string) (int, error) {
	b, f, err := p.read(name, ".pid")
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("bad pid file %s", f)
	}
	return pid, nil
}

// Kill sends SIGKILL to the memcached named name and waits, until ctx ends,
// for addr (its own address, not the proxy's) to refuse connections.
func (p *Process) Kill(ctx context.Context, name, addr string) error {
	pid, err := p.pid(name)
	if err != nil {
		return fmt.Errorf("kill %s: %w", name, err)
	}
	if !isMemcached(pid) {
		return fmt.Errorf("kill %s: pid %d is not a running memcached", name, pid)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s (pid %d): %w", name, pid, err)
	}
	return poll(ctx, func() bool { return !accepts(addr) }, "kill "+name+": "+addr+" still accepts connections")
}

// Restart starts name again from its argv file and waits, until ctx ends,
// for addr to accept connections. A memcached still running under the pid
// file (the kill never happened) is left alone.
func (p *Process) Restart(ctx context.Context, name, addr string) error {
	up := func() error {
		return poll(ctx, func() bool { return accepts(addr) }, "restart "+name+": "+addr+" does not accept connections")
	}
	if pid, err := p.pid(name); err == nil && isMemcached(pid) {
		return up()
	}
	b, f, err := p.read(name, ".argv.json")
	if err != nil {
		return fmt.Errorf("restart %s: %w", name, err)
	}
	var argv []string
	if err := json.Unmarshal(b, &argv); err != nil || len(argv) == 0 {
		return fmt.Errorf("restart %s: bad argv file %s", name, f)
	}
	logf, err := os.OpenFile(filepath.Join(p.Dir, name+".restarted.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("restart %s: %w", name, err)
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a Ctrl-C in scenariod's terminal must not kill
	// the stack's server; the stack stops it through the pid file.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("restart %s: %w", name, err)
	}
	go cmd.Wait() // reap it if it dies while we run
	pidf, _ := p.path(name, ".pid")
	if err := os.WriteFile(pidf, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		return fmt.Errorf("restart %s: %w", name, err)
	}
	return up()
}

// accepts reports whether a TCP connection to addr succeeds.
func accepts(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Poll calls ok every 10 ms until it is true, ctx ends or timeout passes.
func Poll(ctx context.Context, timeout time.Duration, ok func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return poll(ctx, ok, "poll")
}

// poll calls ok every 10 ms until it is true or ctx ends.
func poll(ctx context.Context, ok func() bool, what string) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !ok() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// isMemcached reports whether pid is a running memcached, so that a stale
// pid file never makes us kill an unrelated process.
func isMemcached(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(b)) != "memcached" {
		return false
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	// A zombie (state Z) is dead already.
	if i := strings.LastIndexByte(string(st), ')'); err == nil && i > 0 && i+2 < len(st) && st[i+2] == 'Z' {
		return false
	}
	return true
}
