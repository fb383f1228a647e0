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
