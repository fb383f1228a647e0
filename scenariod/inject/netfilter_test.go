package inject_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/stack/stacktest"
	"github.com/mcchaos/mcchaos/scenariod/inject"
	"github.com/mcchaos/mcchaos/scenariod/inject/injecttest"
)

var tableSeq atomic.Int32

// testTable returns an nftables table name unique to this process and call.
func testTable() string {
	return fmt.Sprintf("mcchaos_itest_%d_%d", os.Getpid(), tableSeq.Add(1))
}

// testNetfilter returns a Netfilter on a table of the test's own, deleted at
// the end; it skips the test when nftables cannot be used here.
func testNetfilter(t *testing.T) *inject.Netfilter {
	t.Helper()
	nf := &inject.Netfilter{Table: testTable()}
	stacktest.NeedNetfilter(t, nf.Available(t.Context()))
	t.Cleanup(func() { nf.Clear(context.Background()) })
	return nf
}

// sink listens on a free loopback port and discards what it reads.
func sink(t *testing.T) (addr string, port int) {
	t.Helper()
	a := injecttest.Serve(t, "127.0.0.1:0", func(c net.Conn) { io.Copy(io.Discard, c); c.Close() })
	return a.String(), a.Port
}

// stream writes to addr, reconnecting on errors, until the table has
// matched at least n packets of port.
func stream(t *testing.T, nf *inject.Netfilter, addr string, port int, n int64) inject.Counter {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1400)
		for ctx.Err() == nil {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				continue
			}
			stop := context.AfterFunc(ctx, func() { c.Close() })
			// Lost packets back off the retransmission timer: a write
			// may wait seconds, which is not an error here.
			for ctx.Err() == nil {
				if _, err := c.Write(buf); err != nil {
					break
				}
			}
			stop()
			c.Close()
		}
	}()
	defer func() { cancel(); <-done }()
	var last inject.Counter
	var next time.Time
	err := inject.Poll(t.Context(), 30*time.Second, func() bool {
		// One nft call per 200 ms, not per poll.
		if time.Now().Before(next) {
			return false
		}
		next = time.Now().Add(200 * time.Millisecond)
		last = counterOf(t, nf, port)
		return last.Matched >= n
	})
	if err != nil {
		t.Fatalf("%v: counters %+v", err, last)
	}
	return last
}

func counterOf(t *testing.T, nf *inject.Netfilter, port int) inject.Counter {
	t.Helper()
	cs, err := nf.Counters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if len(c.Ports) == 1 && c.Ports[0] == port {
			return c
		}
	}
	return inject.Counter{}
}

// TestNetfilterCounters: a 10 % rule drops 10 % (±3 points) of the
// packets it matches; a count-only port (loss 0) is matched and never
// dropped; a rule on another interface matches nothing.
func TestNetfilterCounters(t *testing.T) {
	nf := testNetfilter(t)
	lossyAddr, lossy := sink(t)
	healthyAddr, healthy := sink(t)
	if err := nf.SetLoss(t.Context(), map[int]float64{lossy: 10, healthy: 0}); err != nil {
		t.Fatal(err)
	}
	c := stream(t, nf, lossyAddr, lossy, 3000)
	got := 100 * float64(c.Dropped) / float64(c.Matched)
	t.Logf("requested 10%%, measured %.2f%% of %d packets", got, c.Matched)
	if got < 7 || got > 13 {
		t.Errorf("measured %.2f%% loss, want 10±3", got)
	}
	h := stream(t, nf, healthyAddr, healthy, 500)
	if h.Dropped != 0 {
		t.Errorf("count-only port dropped %d of %d", h.Dropped, h.Matched)
	}
	if d, err := nf.Dropped(t.Context()); err != nil || d < c.Dropped {
		t.Errorf("Dropped = %d, %v; counters say at least %d", d, err, c.Dropped)
	}

	// The compose case: the rule is there, the traffic passes elsewhere.
	other := &inject.Netfilter{Table: nf.Table, Interface: "mcchaos0"}
	if err := other.SetLoss(t.Context(), map[int]float64{lossy: 10}); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", lossyAddr)
	if err != nil {
		t.Fatal(err)
	}
	conn.Write(make([]byte, 1<<16))
	conn.Close()
	if c := counterOf(t, nf, lossy); c.Matched != 0 || c.Dropped != 0 {
		t.Errorf("rule on another interface counted %+v", c)
	}
}

// TestNetfilterScript: the script counts every port and drops only where
// loss is above 0, on the configured interface.
func TestNetfilterScript(t *testing.T) {
	nf := &inject.Netfilter{Table: "t", Interface: "eth0"}
	s := nf.Script(map[int]float64{21211: 10, 21212: 0, 21213: 100})
	for _, want := range []string{
		`iifname "eth0" tcp dport 21211 counter comment "matched 21211"`,
		`iifname "eth0" tcp sport 21211 numgen random mod 10000 < 1000 counter drop comment "dropped 21211"`,
		`iifname "eth0" tcp sport 21212 counter comment "matched 21212"`,
		`iifname "eth0" tcp dport 21213 counter drop comment "dropped 21213"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "dropped 21212") {
		t.Errorf("count-only port has a drop rule:\n%s", s)
	}
	if got := nf.Script(nil); got != "add table inet t\ndelete table inet t\n" {
		t.Errorf("empty script %q", got)
	}
}

// TestNetfilterCommand: nft may be run through another command (sudo on a
// CI runner); a missing one makes netfilter unavailable, saying which.
func TestNetfilterCommand(t *testing.T) {
	nf := testNetfilter(t)
	// env stands in for sudo -n: a prefix that runs nft.
	wrapped := &inject.Netfilter{Table: nf.Table, Command: []string{"env", "nft"}}
	if err := wrapped.Available(t.Context()); err != nil {
		t.Errorf("through env: %v", err)
	}
	missing := &inject.Netfilter{Table: nf.Table, Command: []string{"/nonexistent/sudo", "nft"}}
	if err := missing.Available(t.Context()); !errors.Is(err, inject.ErrNetfilterUnavailable) || !strings.Contains(err.Error(), "/nonexistent/sudo") {
		t.Errorf("missing command: %v", err)
	}
}
