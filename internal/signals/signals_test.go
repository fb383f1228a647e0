package signals_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/signals"
)

// helperEnv names the file where the helper process (this test binary,
// run again) writes what cancelled its context.
const helperEnv = "MCCHAOS_SIGNALS_HELPER_OUT"

// TestMain runs the helper when asked: Notify, say ready, wait for the
// cancel, write its cause.
func TestMain(m *testing.M) {
	if out := os.Getenv(helperEnv); out != "" {
		ctx, stop := signals.Notify(nil, nil)
		os.WriteFile(out+".ready", nil, 0o644)
		<-ctx.Done()
		// As scenariod does: say so first (its stderr may be a pipe to a dead parent).
		fmt.Fprintln(os.Stderr, "helper: cleaning up")
		os.WriteFile(out+".tmp", []byte(context.Cause(ctx).Error()), 0o644)
		os.Rename(out+".tmp", out) // whole, for the poll
		stop()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// waitFile polls for path for up to 10 s and returns its content.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil {
			return string(b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s not written within 10 s", path)
	return ""
}

// TestSIGHUP: a hang-up (closed terminal or SSH session) is a first
// signal, not a silent death.
func TestSIGHUP(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cause")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFile(t, out+".ready")
	cmd.Process.Signal(syscall.SIGHUP)
	if got := waitFile(t, out); got != "signal hangup" {
		t.Fatalf("cause %q, want signal hangup", got)
	}
	cmd.Wait()
}

// TestParentGone: the helper's parent (a shell) is killed with SIGKILL;
// the helper's context ends with ErrParentGone within the poll interval,
// with no death signal set; its stderr, a pipe whose reader is gone, does
// not kill it with SIGPIPE before it cleans up.
func TestParentGone(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cause")
	sh := exec.Command("sh", "-c", `"$0" -test.run='^$' & wait`, os.Args[0])
	sh.Env = append(os.Environ(), helperEnv+"="+out)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	sh.Stderr = w
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	waitFile(t, out+".ready")
	r.Close() // the parent's end of the pipe goes with it
	sh.Process.Kill()
	sh.Wait()
	start := time.Now()
	got := waitFile(t, out)
	if got != signals.ErrParentGone.Error() {
		t.Fatalf("cause %q, want %q", got, signals.ErrParentGone)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("noticed after %s, want within a few polls of %s", d, signals.ParentPoll)
	}
}
