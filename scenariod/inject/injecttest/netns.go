// Package injecttest gives tests of fault injection private network
// namespaces, so that they can add interfaces, qdiscs and NAT rules on a
// real kernel without touching the host's.
package injecttest

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Netns starts a process holding a new network namespace and returns the
// prefix that runs a command in it ({"nsenter", "-t", PID, "-n"}). It
// returns only once the namespace exists: until unshare has made it,
// nsenter would enter the host's. It skips t where namespaces cannot be
// made (no unshare or nsenter, no privilege).
func Netns(t testing.TB) []string {
	t.Helper()
	for _, bin := range []string{"unshare", "nsenter"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s: %v", bin, err)
		}
	}
	own, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Skipf("network namespaces: %v", err)
	}
	cmd := exec.Command("unshare", "-n", "sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Skipf("unshare -n: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := strconv.Itoa(cmd.Process.Pid)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		// WARNING: never return before the holder is in its own
		// namespace, or the caller's commands change the host's network.
		ns, err := os.Readlink("/proc/" + pid + "/ns/net")
		if err == nil && ns != own {
			return []string{"nsenter", "-t", pid, "-n"}
		}
		select {
		case <-ctx.Done():
			t.Skipf("unshare -n did not make a namespace (no privilege?): %v", err)
		case <-tick.C:
		}
	}
}
