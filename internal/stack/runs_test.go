package stack_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/stack"
)

// TestRunLock: a locked run is live and not stale; a second lock of the
// same directory fails naming the holder; once released (or its holder
// died) the run is stale, exactly once, and Forget drops it.
func TestRunLock(t *testing.T) {
	reg := stack.Registry{Dir: t.TempDir()}
	run := t.TempDir()
	l, err := reg.Lock(run)
	if err != nil {
		t.Fatal(err)
	}
	if !stack.Live(run) {
		t.Fatal("a locked run is not live")
	}
	if s := reg.Stale(); len(s) != 0 {
		t.Fatalf("stale %v while the run holds its lock", s)
	}
	var held *stack.HeldError
	if _, err := reg.Lock(run); !errors.As(err, &held) || !strings.Contains(held.Holder, "pid ") {
		t.Fatalf("second lock: %v, want a HeldError naming the holder", err)
	}
	if l.Key != stack.RunKey(run) || len(l.Key) != 12 {
		t.Fatalf("key %q, want RunKey's 12 hex digits", l.Key)
	}

	l.Release()
	l.Release() // twice is fine
	if stack.Live(run) {
		t.Fatal("a released run is live")
	}
	if s := reg.Stale(); len(s) != 0 {
		t.Fatalf("a released run is stale: %v (Release unregisters it)", s)
	}
}

// TestStaleRun: a run registered and locked by another process (flock(1)
// holding the lock while cat waits on its stdin) is live and not stale;
// killed with SIGKILL, it is stale, and Forget drops it.
func TestStaleRun(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) not installed (util-linux)")
	}
	reg := stack.Registry{Dir: t.TempDir()}
	dir := t.TempDir()
	// What Registry.Lock does in the other process: its entry ...
	if err := os.Symlink(dir, filepath.Join(reg.Dir, stack.RunKey(dir))); err != nil {
		t.Fatal(err)
	}
	// ... and its lock, held until the process dies.
	cmd := exec.Command("flock", "-n", filepath.Join(dir, stack.LockFile), "cat")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // flock and its cat, killed as one
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill := func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	defer in.Close()
	defer kill()
	eventually(t, "the other process's run live", func() bool { return stack.Live(dir) })
	if s := reg.Stale(); len(s) != 0 {
		t.Fatalf("stale %v while its holder runs", s)
	}
	kill()
	cmd.Wait()
	eventually(t, "the killed run not live", func() bool { return !stack.Live(dir) })
	s := reg.Stale()
	if len(s) != 1 || s[0].Dir != dir || s[0].Key != stack.RunKey(dir) {
		t.Fatalf("stale %+v, want the killed run %s", s, dir)
	}
	if err := reg.Forget(s[0]); err != nil {
		t.Fatal(err)
	}
	if s := reg.Stale(); len(s) != 0 {
		t.Fatalf("stale %v after Forget", s)
	}
}

// eventually polls cond every 10 ms for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5 s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLockDefaultPorts: one holder at a time, the refusal names it, and
// release frees the ports for the next run.
func TestLockDefaultPorts(t *testing.T) {
	reg := stack.Registry{Dir: t.TempDir()}
	release, err := reg.LockDefaultPorts("reports/first")
	if err != nil {
		t.Fatal(err)
	}
	_, err = reg.LockDefaultPorts("reports/second")
	var held *stack.HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second lock: %v, want a HeldError", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "the default ports") || !strings.Contains(msg, "reports/first") || !strings.Contains(msg, "pid ") {
		t.Fatalf("refusal %q does not name the holder run and pid", msg)
	}
	release()
	release2, err := reg.LockDefaultPorts("reports/second")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	release2()
}
