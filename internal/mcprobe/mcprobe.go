// Package mcprobe asks a memcached (or a proxy in front of one) whether it
// answers: the one health probe of the stack, loadgen and scenariod.
package mcprobe

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Version dials addr, sends memcached's version command and checks the
// answer, all within timeout.
func Version(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "version\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "VERSION ") {
		return fmt.Errorf("unexpected answer %q to version", strings.TrimSpace(line))
	}
	return nil
}

// Pid dials addr, sends memcached's stats command and returns the pid it
// reports, all within timeout: whether the server that answers on a port
// is the process one started there, or another that took the port first.
func Pid(addr string, timeout time.Duration) (int, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "stats\r\n"); err != nil {
		return 0, err
	}
	r := bufio.NewReader(c)
	pid := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		line = strings.TrimSpace(line)
		if line == "END" {
			break
		}
		if _, err := fmt.Sscanf(line, "STAT pid %d", &pid); err == nil {
			continue
		}
		if !strings.HasPrefix(line, "STAT ") {
			return 0, fmt.Errorf("unexpected answer %q to stats", line)
		}
	}
	if pid == 0 {
		return 0, fmt.Errorf("stats from %s name no pid", addr)
	}
	return pid, nil
}
