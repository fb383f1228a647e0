package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// OwnerFile is the file in a run directory naming the pid of the bench
// that runs it: a run whose owner is gone left its processes behind.
const OwnerFile = "bench.pid"

// KillStale finds memcached processes that dead runs under reportsDir left
// behind (a bench killed with SIGKILL, or a memcached restarted by the
// process fault of such a run) and kills them. A process counts as a dead
// run's only when the run's OwnerFile names a process that is gone, the
// run's <server>.pid names it and its command line is the one the run's
// <server>.argv.json recorded: nothing else is ever touched. It returns
// one line per process killed.
func KillStale(reportsDir string) []string {
	pids, _ := filepath.Glob(filepath.Join(reportsDir, "*", "stack", "*.pid"))
	var killed []string
	for _, f := range pids {
		runDir := filepath.Dir(filepath.Dir(f))
		if ob, err := os.ReadFile(filepath.Join(runDir, OwnerFile)); err != nil {
			continue
		} else if owner, err := strconv.Atoi(strings.TrimSpace(string(ob))); err != nil || syscall.Kill(owner, 0) == nil {
			continue // its bench still runs (or the file is not ours)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 || !isMemcached(pid) {
			continue
		}
		var argv []string
		raw, err := os.ReadFile(strings.TrimSuffix(f, ".pid") + ".argv.json")
		if err != nil || json.Unmarshal(raw, &argv) != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Equal(bytes.TrimRight(cmdline, "\x00"), []byte(strings.Join(argv, "\x00"))) {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed = append(killed, fmt.Sprintf("memcached pid %d left by %s", pid, runDir))
		}
	}
	return killed
}

// LiveRuns returns the run directories under reportsDir whose bench still
// runs (this one's included).
func LiveRuns(reportsDir string) []string {
	owners, _ := filepath.Glob(filepath.Join(reportsDir, "*", OwnerFile))
	var live []string
	for _, f := range owners {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 && syscall.Kill(pid, 0) == nil {
			live = append(live, filepath.Dir(f))
		}
	}
	return live
}
