package stack_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/internal/stack/stacktest"
)

// TestKillStale leaves a real memcached behind as a killed run would and
// checks that KillStale kills it only once the run's lock is free, and
// never a memcached whose command line is not the recorded one.
func TestKillStale(t *testing.T) {
	bin := stacktest.NeedBinary(t, "memcached")
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	argv := []string{bin, "-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0"}
	if os.Geteuid() == 0 {
		argv = append(argv, "-u", "root")
	}
	mc := exec.Command(argv[0], argv[1:]...)
	if err := mc.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { mc.Wait(); close(exited) }()
	t.Cleanup(func() { mc.Process.Kill() })

	reports := t.TempDir()
	run := filepath.Join(reports, "killed-run")
	os.MkdirAll(filepath.Join(run, "stack"), 0o755)
	raw, _ := json.Marshal(argv)
	os.WriteFile(filepath.Join(run, "stack", "mc1.argv.json"), raw, 0o644)
	os.WriteFile(filepath.Join(run, "stack", "mc1.pid"), fmt.Appendf(nil, "%d\n", mc.Process.Pid), 0o644)

	// The run is live (this process holds its lock): nothing is killed.
	l, err := stack.Registry{Dir: t.TempDir()}.Lock(run)
	if err != nil {
		t.Fatal(err)
	}
	if got := stack.KillStale(run); len(got) != 0 {
		t.Fatalf("killed %v of a live run", got)
	}
	l.Release()
	// A recorded command line that differs: not provably ours.
	other, _ := json.Marshal(append(argv[:len(argv):len(argv)], "-v"))
	os.WriteFile(filepath.Join(run, "stack", "mc1.argv.json"), other, 0o644)
	if got := stack.KillStale(run); len(got) != 0 {
		t.Fatalf("killed %v whose command line is not the recorded one", got)
	}
	// The run is dead and the command line matches: killed.
	os.WriteFile(filepath.Join(run, "stack", "mc1.argv.json"), raw, 0o644)
	if got := stack.KillStale(run); len(got) != 1 {
		t.Fatalf("killed %v, want the one memcached", got)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("memcached still runs after KillStale")
	}
}
