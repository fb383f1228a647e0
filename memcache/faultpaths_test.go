package memcache

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"runtime"
	"testing"
	"time"
)

// Tests of the fault paths of issue 13: each failed before its fix.

// TestTokenCheckedBeforeValue: a response whose opaque token is not the
// request's is refused from its status line, without reading (or waiting
// for) the value it announces. The server is scripted: memcached never
// sends another request's response; a connection wrongly reused after a
// timeout does.
func TestTokenCheckedBeforeValue(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for {
					if _, err := br.ReadString('\n'); err != nil {
						return
					}
					// A stale response: another token, a large value that never comes.
					nc.Write([]byte("VA 500000 O4242\r\n"))
				}
			}()
		}
	}()
	const timeout = 500 * time.Millisecond
	c := newClient(t, Config{Servers: []string{l.Addr().String()}, Timeout: timeout, DisableBreaker: true})
	start := time.Now()
	_, err = c.Get(ctxT(t), "k")
	if took := time.Since(start); Classify(err) != ClassProtocol || took > timeout/2 {
		t.Fatalf("Get of a mismatched response = %v (class %s) after %v, want a protocol error at once", err, Classify(err), took)
	}
}

// TestValueSizeCapped: a value larger than Config.MaxValueSize is refused
// before it is allocated, by Get and GetMulti; the connection is destroyed.
func TestValueSizeCapped(t *testing.T) {
	mc := startMemcached(t, "-I", "4m")
	ctx := ctxT(t)
	big := bytes.Repeat([]byte("x"), 3<<20)
	writer := newClient(t, Config{Servers: []string{mc.Addr}, MaxValueSize: 4 << 20})
	if err := writer.Set(ctx, &Item{Key: "big", Value: big}); err != nil {
		t.Fatal(err)
	}
	if it, err := writer.Get(ctx, "big"); err != nil || !bytes.Equal(it.Value, big) {
		t.Fatalf("Get under a 4 MiB limit: %v", err)
	}
	c := newClient(t, Config{Servers: []string{mc.Addr}}) // DefaultMaxValueSize, 1 MiB
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := c.Get(ctx, "big")
	_, errMulti := c.GetMulti(ctx, []string{"big"})
	runtime.ReadMemStats(&after)
	for _, e := range []error{err, errMulti} {
		if !errors.Is(e, ErrProtocol) {
			t.Fatalf("reading a 3 MiB value with a 1 MiB limit = %v, want a protocol error", e)
		}
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("refusing the value allocated %d bytes", alloc)
	}
	eventually(t, time.Second, "both connections destroyed", func() bool { return c.Stats()[0].Pool.Destroyed == 2 })
}
