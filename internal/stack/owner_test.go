package stack

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
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

// TestReserveAcrossProcesses: a port another process has claimed (flock(1)
// holding its claim file) is not FreePortList's to take; once that
// process is gone, it is.
func TestReserveAcrossProcesses(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) not installed (util-linux)")
	}
	port := 1 // a port no run ever asks for
	dir := filepath.Join(DefaultRegistryDir(), "ports")
	os.MkdirAll(dir, 0o755)
	cmd := exec.Command("flock", "-n", filepath.Join(dir, strconv.Itoa(port)), "cat")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	in, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill := func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() }
	defer in.Close()
	// Until flock(1) holds it, reserve may win: poll for the refusal.
	deadline := time.Now().Add(5 * time.Second)
	for reserve(port) {
		given.Lock()
		reserved[len(reserved)-1].Close() // undo our own claim and try again
		reserved = reserved[:len(reserved)-1]
		given.Unlock()
		if time.Now().After(deadline) {
			kill()
			t.Fatal("reserve took a port another process holds")
		}
		time.Sleep(10 * time.Millisecond)
	}
	kill()
	// cat, killed with flock, may take a moment to let go.
	for deadline := time.Now().Add(5 * time.Second); !reserve(port); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the claim of a dead process still blocks the port")
		}
	}
}
