package stack

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Process is a child process whose output goes to a log file. It is in its
// own process group and gets a signal when its parent dies (SysProcAttr). Its methods are
// safe for concurrent use.
type Process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

// StartProcess starts bin with args, appending its stdout and stderr to the
// file at logPath and, when tee is not nil, writing them to tee as well.
// The child gets SIGKILL when its parent dies.
func StartProcess(name, bin string, args []string, logPath string, tee io.Writer) (*Process, error) {
	return startProcess(name, bin, args, logPath, tee, syscall.SIGKILL)
}

// StartCleaner is StartProcess for a child that must clean up after its
// parent's hard death (scenariod removes its packet-drop rules): it gets
// SIGTERM, not SIGKILL, when the parent dies, and handles it as an
// interrupt.
func StartCleaner(name, bin string, args []string, logPath string, tee io.Writer) (*Process, error) {
	return startProcess(name, bin, args, logPath, tee, syscall.SIGTERM)
}

func startProcess(name, bin string, args []string, logPath string, tee io.Writer, deathSig syscall.Signal) (*Process, error) {
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	var out io.Writer = f
	if tee != nil {
		out = io.MultiWriter(f, tee)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = SysProcAttr(deathSig)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Args returns the command line it was started with.
func (p *Process) Args() []string { return p.cmd.Args }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns how the process exited (nil for exit 0); valid after Done.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig unless the process has exited.
func (p *Process) Signal(sig os.Signal) {
	if !p.Exited() {
		p.cmd.Process.Signal(sig)
	}
}

// Stop sends SIGTERM, then SIGKILL when the process has not exited after
// grace, and returns how it exited. It is safe to call again.
func (p *Process) Stop(grace time.Duration) error {
	return p.StopWith(syscall.SIGTERM, grace)
}

// StopWith is Stop with another first signal (SIGINT lets scenariod remove
// its faults). It reports a kill as an error.
func (p *Process) StopWith(sig os.Signal, grace time.Duration) error {
	p.Signal(sig)
	select {
	case <-p.done:
		return p.err
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s after %v and was killed", p.Name, grace, sig)
	}
}

// Tail returns the last n lines of the log, for error messages.
func (p *Process) Tail(n int) string {
	b, _ := os.ReadFile(p.LogPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
