package stack

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// errNotOurs marks a health check that reached a process other than the
// one the stack started: polling longer cannot help.
var errNotOurs = errors.New("not the process this stack started")

// listens reports an error unless process pid itself listens on TCP port
// of 127.0.0.1: that the server a health check reached is our child, not
// another run's that took the port between the port check and our start.
// It reads /proc (Linux); where /proc/net/tcp is missing it cannot tell
// and reports nil.
func listens(pid, port int) error {
	inodes := map[string]bool{}
	found := false
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		found = true
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st ... inode
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
				continue
			}
			i := strings.LastIndexByte(fs[1], ':')
			if p, err := strconv.ParseInt(fs[1][i+1:], 16, 32); err == nil && int(p) == port {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
		f.Close()
	}
	if !found {
		return nil
	}
	if len(inodes) == 0 {
		return fmt.Errorf("nothing listens on port %d", port)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return fmt.Errorf("pid %d: %w", pid, err)
	}
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name())); err == nil && inodes[l] {
			return nil
		}
	}
	return fmt.Errorf("port %d is served by another process than pid %d: %w", port, pid, errNotOurs)
}
