package stack

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/mcprobe"
)

// TestOwnChild: a real memcached answers stats with its own pid and holds
// its listening socket; a check for another pid (this test's) on its port
// is refused as not ours, which is what stops a health wait from adopting
// another run's server.
func TestOwnChild(t *testing.T) {
	bin, err := exec.LookPath("memcached")
	if err != nil {
		// stacktest.NeedBinary, which this package's own tests cannot import.
		if os.Getenv("MCCHAOS_REQUIRE_STACK") == "1" {
			t.Fatalf("memcached not installed: run make deps (%v)", err)
		}
		t.Skipf("needs memcached: run make deps (%v)", err)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root")
	}
	mc := exec.Command(bin, args...)
	if err := mc.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { mc.Process.Kill(); mc.Wait() }()
	addr := hostPort(port)
	var pid int
	deadline := time.Now().Add(10 * time.Second)
	for pid, err = mcprobe.Pid(addr, time.Second); err != nil; pid, err = mcprobe.Pid(addr, time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("memcached never answered stats: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if pid != mc.Process.Pid {
		t.Fatalf("stats pid %d, want our child's %d", pid, mc.Process.Pid)
	}
	if err := listens(mc.Process.Pid, port); err != nil {
		t.Fatalf("our child's port: %v", err)
	}
	if err := listens(os.Getpid(), port); !errors.Is(err, errNotOurs) {
		t.Fatalf("another pid on its port: %v, want errNotOurs", err)
	}
}
