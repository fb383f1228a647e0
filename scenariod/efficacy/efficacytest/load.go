// Package efficacytest makes memcached traffic for tests of fault
// efficacy: loss counters need packets to count.
package efficacytest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Load runs conns memcached clients on every address, each setting and
// getting a key of its own in a loop, until the returned stop is called
// (or the test ends); stop returns how many set+get pairs completed.
func Load(t testing.TB, addrs []string, conns int) (stop func() int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ops atomic.Int64
	for _, addr := range addrs {
		for i := range conns {
			wg.Go(func() { client(ctx, addr, fmt.Sprintf("efficacy-%s-%d", addr, i), &ops) })
		}
	}
	stop = func() int64 { cancel(); wg.Wait(); return ops.Load() }
	t.Cleanup(func() { stop() })
	return stop
}

// client sets and gets key through addr until ctx ends, reconnecting on errors.
func client(ctx context.Context, addr, key string, ops *atomic.Int64) {
	for ctx.Err() == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			continue
		}
		unhook := context.AfterFunc(ctx, func() { c.Close() })
		rd := bufio.NewReader(c)
		for ctx.Err() == nil {
			c.SetDeadline(time.Now().Add(3 * time.Second))
			if _, err := fmt.Fprintf(c, "set %s 0 0 5\r\nhello\r\nget %s\r\n", key, key); err != nil {
				break
			}
			if !readUntil(rd, "END\r\n") {
				break
			}
			ops.Add(1)
		}
		unhook()
		c.Close()
	}
}

func readUntil(rd *bufio.Reader, last string) bool {
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return false
		}
		if line == last {
			return true
		}
	}
}
