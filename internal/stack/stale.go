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

// KillStale kills the memcached processes the dead run in runDir left
// behind (its bench was killed, or scenariod's process fault restarted
// one). The caller has established that the run is dead (Registry.Stale).
// A process is killed only when the run's stack/<server>.pid names it and
// its command line is the one stack/<server>.argv.json recorded: nothing
// else is ever touched. It returns one line per process killed.
func KillStale(runDir string) []string {
	if Live(runDir) {
		return nil
	}
	return KillRecorded(filepath.Join(runDir, "stack"))
}

// KillRecorded kills every memcached that stackDir's <server>.pid files
// name, when its command line is the one <server>.argv.json recorded; it
// returns one line per process killed. scenariod calls it when its bench
// died: the memcached its process fault restarted is its own child, which
// no death signal of bench reaches.
func KillRecorded(stackDir string) []string {
	pids, _ := filepath.Glob(filepath.Join(stackDir, "*.pid"))
	var killed []string
	for _, f := range pids {
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
			killed = append(killed, fmt.Sprintf("memcached pid %d", pid))
		}
	}
	return killed
}
