package scenariod

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

// TestLatencyOnTargetOnly: +200 ms on mc1 shows as about +200 ms on mc1 and
// nothing on mc2 and mc3, and is gone in recovery.
func TestLatencyOnTargetOnly(t *testing.T) {
	s := startStack(t)
	table := testTable()
	base := medianRTT(t, server(s, "mc1").ProxyAddr, 5)
	m := runWith(t, s, table, scenario(fault.KindLatency, map[string]float64{"latency_ms": 200}, "mc1"),
		func() {
			d := medianRTT(t, server(s, "mc1").ProxyAddr, 5)
			t.Logf("fault on: mc1 median %v (baseline %v)", d, base)
			if extra := d - base; extra < 190*time.Millisecond || extra > 300*time.Millisecond {
				t.Errorf("mc1: +%v, want about +200ms", extra)
			}
			for _, n := range []string{"mc2", "mc3"} {
				if d := medianRTT(t, server(s, n).ProxyAddr, 5); d > 50*time.Millisecond {
					t.Errorf("%s: %v, want no added latency", n, d)
				}
			}
		},
		func() {
			if d := medianRTT(t, server(s, "mc1").ProxyAddr, 5); d > 50*time.Millisecond {
				t.Errorf("recovery: mc1 %v, want the latency gone", d)
			}
		})
	f := m.Scenarios[0].Faults[0]
	if f.Injector != manifest.InjectorToxiproxy || f.Fidelity != manifest.FidelityExact || f.Applied.IsZero() || f.Removed.Before(f.Applied) {
		t.Errorf("manifest fault %+v", f)
	}
}

// TestLatencyJitter: 200 ± 100 ms spreads the delays over about 100..300 ms.
func TestLatencyJitter(t *testing.T) {
	s := startStack(t)
	runWith(t, s, testTable(), scenario(fault.KindLatency, map[string]float64{"latency_ms": 200, "jitter_ms": 100}, "mc1"),
		func() {
			c := dial(t, server(s, "mc1").ProxyAddr)
			lo, hi := time.Hour, time.Duration(0)
			for range 8 {
				d, _, err := ask(c, "version", 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				lo, hi = min(lo, d), max(hi, d)
			}
			t.Logf("jitter: min %v max %v", lo, hi)
			if lo < 90*time.Millisecond || hi > 400*time.Millisecond || hi-lo < 40*time.Millisecond {
				t.Errorf("delays in [%v, %v], want spread within about 100..300ms", lo, hi)
			}
		}, func() {})
}

// slowShare sends n requests over conns parallel connections to addr and
// returns the share slower than 150 ms (TCP retransmission scale on
// loopback: the minimum RTO is 200 ms).
func slowShare(t *testing.T, addr string, conns, n int) float64 {
	t.Helper()
	var mu sync.Mutex
	slow, total := 0, 0
	var wg sync.WaitGroup
	for range conns {
		c := dial(t, addr)
		wg.Go(func() {
			for range n {
				d, _, err := ask(c, "version", 10*time.Second)
				mu.Lock()
				total++
				if err != nil || d > 150*time.Millisecond {
					slow++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return float64(slow) / float64(total)
}

// TestNetfilterLoss10: 10 % per-packet loss gives a retransmission-scale tail
// on mc1's port only, and none in recovery.
func TestNetfilterLoss10(t *testing.T) {
	s := startStack(t)
	table := testTable()
	needNetfilter(t, table)
	m := runWith(t, s, table, scenario(fault.KindPacketLoss, map[string]float64{"loss_pct": 10}, "mc1"),
		func() {
			// Connections are made before the measure starts counting, but a
			// lost SYN would only delay dial; the requests are what count.
			mc1 := slowShare(t, server(s, "mc1").ProxyAddr, 10, 15)
			mc2 := slowShare(t, server(s, "mc2").ProxyAddr, 10, 20)
			t.Logf("10%% netfilter loss: slow requests mc1 %.1f%%, mc2 %.1f%%", 100*mc1, 100*mc2)
			if mc1 < 0.05 || mc1 > 0.45 {
				t.Errorf("mc1: %.1f%% of requests > 150ms, want about 10..20%% (one draw per packet, request and response)", 100*mc1)
			}
			if mc2 > 0.01 {
				t.Errorf("mc2: %.1f%% slow, want none", 100*mc2)
			}
			n, err := (&inject.Netfilter{Table: table}).Dropped(t.Context())
			t.Logf("nftables counters: %d packets dropped", n)
			if err != nil || n == 0 {
				t.Errorf("nftables dropped %d packets (err %v)", n, err)
			}
		},
		func() {
			if mc1 := slowShare(t, server(s, "mc1").ProxyAddr, 10, 20); mc1 > 0.01 {
				t.Errorf("recovery: mc1 %.1f%% slow, want none", 100*mc1)
			}
		})
	f := m.Scenarios[0].Faults[0]
	if f.Injector != manifest.InjectorNetfilter || f.Fidelity != manifest.FidelityPerPacket {
		t.Errorf("manifest fault %+v, want netfilter per-packet", f)
	}
}

// TestNetfilterLoss100TwoServers: 100 % loss on mc1 and mc2 stops both and
// leaves mc3 alone.
func TestNetfilterLoss100TwoServers(t *testing.T) {
	s := startStack(t)
	table := testTable()
	needNetfilter(t, table)
	conns := map[string]net.Conn{}
	for _, n := range []string{"mc1", "mc2", "mc3"} {
		conns[n] = dial(t, server(s, n).ProxyAddr)
	}
	runWith(t, s, table, scenario(fault.KindPacketLoss, map[string]float64{"loss_pct": 100}, "mc1", "mc2"),
		func() {
			for n, c := range conns {
				_, _, err := ask(c, "version", 300*time.Millisecond)
				if lost := err != nil; lost != (n != "mc3") {
					t.Errorf("%s: err %v", n, err)
				}
			}
		},
		func() {
			for _, n := range []string{"mc1", "mc2", "mc3"} {
				if _, err := version(t, server(s, n).ProxyAddr, 2*time.Second); err != nil {
					t.Errorf("recovery: %s: %v", n, err)
				}
			}
		})
}

// TestToxiproxyLossPerConnection: the toxiproxy emulation black-holes a
// share of the connections (toxicity drawn per connection), not of packets.
func TestToxiproxyLossPerConnection(t *testing.T) {
	s := startStack(t)
	table := testTable()
	sc := scenario(fault.KindPacketLoss, map[string]float64{"loss_pct": 50}, "mc1")
	r := testRunner(t, s, table, nil, sc)
	r.cfg.LossInjector = LossToxiproxy
	r.cfg.OnEvent = func(e Event) {
		switch {
		case e.Kind == EventFaultApplied:
			dead := 0
			for range 40 {
				c := dial(t, server(s, "mc1").ProxyAddr)
				// A connection either answers every request or none.
				if _, _, err := ask(c, "version", 100*time.Millisecond); err != nil {
					dead++
				} else {
					for range 3 {
						if _, _, err := ask(c, "version", time.Second); err != nil {
							t.Errorf("a live connection lost a request (%v): loss is not per connection", err)
						}
					}
				}
				c.Close()
			}
			t.Logf("toxiproxy 50%% loss: %d of 40 connections black-holed", dead)
			if dead < 8 || dead > 32 {
				t.Errorf("%d of 40 connections lost, want about 20", dead)
			}
			if _, err := version(t, server(s, "mc2").ProxyAddr, time.Second); err != nil {
				t.Errorf("mc2: %v", err)
			}
		case e.Kind == EventPhaseStart && e.Phase == manifest.PhaseRecovery:
			for range 10 {
				if _, err := version(t, server(s, "mc1").ProxyAddr, time.Second); err != nil {
					t.Errorf("recovery: %v", err)
				}
			}
		}
	}
	m, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if f := m.Scenarios[0].Faults[0]; f.Injector != manifest.InjectorToxiproxy || f.Fidelity != manifest.FidelityPerConnection {
		t.Errorf("manifest fault %+v, want toxiproxy per-connection", f)
	}
	assertClean(t, s, table)
}

// TestConnectionFaults: server down, reset and blackhole hit mc1 only and
// are gone in recovery.
func TestConnectionFaults(t *testing.T) {
	s := startStack(t)
	for _, tc := range []struct {
		kind  fault.Kind
		check func(error) error // the error of a version on mc1, fault on
	}{
		// Proxy disabled: nothing listens, connection refused.
		{fault.KindServerDown, func(err error) error {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				return fmt.Errorf("got %v, want connection refused", err)
			}
			return nil
		}},
		// reset_peer 0: the request is answered by a TCP RST (or EOF).
		{fault.KindConnectionReset, func(err error) error {
			if err == nil || !(errors.Is(err, syscall.ECONNRESET) || strings.Contains(err.Error(), "EOF")) {
				return fmt.Errorf("got %v, want connection reset", err)
			}
			return nil
		}},
		// Blackhole: connected, no answer.
		{fault.KindBlackhole, func(err error) error {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return fmt.Errorf("got %v, want a timeout", err)
			}
			return nil
		}},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			runWith(t, s, testTable(), scenario(tc.kind, nil, "mc1"),
				func() {
					var err error
					c, derr := net.DialTimeout("tcp", server(s, "mc1").ProxyAddr, time.Second)
					if err = derr; err == nil {
						_, _, err = ask(c, "version", 300*time.Millisecond)
						c.Close()
					}
					if e := tc.check(err); e != nil {
						t.Errorf("mc1: %v", e)
					}
					if _, err := version(t, server(s, "mc2").ProxyAddr, time.Second); err != nil {
						t.Errorf("mc2: %v", err)
					}
				},
				func() {
					if _, err := version(t, server(s, "mc1").ProxyAddr, time.Second); err != nil {
						t.Errorf("recovery: mc1: %v", err)
					}
				})
		})
	}
}

// getTime sets key to a value of size bytes directly on memcached and times
// a get of it through addr.
func getTime(t *testing.T, direct, addr, key string, size int) time.Duration {
	t.Helper()
	c := dial(t, direct)
	if _, line, err := ask(c, fmt.Sprintf("set %s 0 0 %d\r\n%s", key, size, strings.Repeat("x", size)), 2*time.Second); err != nil || line != "STORED" {
		t.Fatalf("set: %q %v", line, err)
	}
	p := dial(t, addr)
	start := time.Now()
	p.SetDeadline(start.Add(20 * time.Second))
	if _, err := p.Write([]byte("get " + key + "\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, size+100)
	tmp := make([]byte, 4096)
	for !strings.HasSuffix(string(buf), "END\r\n") {
		n, err := p.Read(tmp)
		if err != nil {
			t.Fatalf("get %s: %v after %d bytes", key, err, len(buf))
		}
		buf = append(buf, tmp[:n]...)
	}
	return time.Since(start)
}

// TestSlowResponseFaults: bandwidth limit and slicer slow mc1's responses
// by about what their parameters say, and not mc2's.
func TestSlowResponseFaults(t *testing.T) {
	s := startStack(t)
	for _, tc := range []struct {
		kind     fault.Kind
		params   map[string]float64
		size     int
		min, max time.Duration
	}{
		// 50 KB at 100 KB/s: about 0.5 s.
		{fault.KindBandwidth, map[string]float64{"rate_kbps": 100}, 50_000, 350 * time.Millisecond, 1500 * time.Millisecond},
		// 200 bytes in 1-byte slices 1 ms apart: about 0.2 s.
		{fault.KindSlicer, map[string]float64{"average_size_bytes": 1, "delay_us": 1000}, 200, 150 * time.Millisecond, 1500 * time.Millisecond},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			mc1, mc2 := server(s, "mc1"), server(s, "mc2")
			runWith(t, s, testTable(), scenario(tc.kind, tc.params, "mc1"),
				func() {
					d1 := getTime(t, mc1.Addr, mc1.ProxyAddr, "k", tc.size)
					d2 := getTime(t, mc2.Addr, mc2.ProxyAddr, "k", tc.size)
					t.Logf("%s: get of %d bytes: mc1 %v, mc2 %v", tc.kind, tc.size, d1, d2)
					if d1 < tc.min || d1 > tc.max {
						t.Errorf("mc1: %v, want in [%v, %v]", d1, tc.min, tc.max)
					}
					if d2 > 50*time.Millisecond {
						t.Errorf("mc2: %v, want fast", d2)
					}
				},
				func() {
					if d := getTime(t, mc1.Addr, mc1.ProxyAddr, "k", tc.size); d > 50*time.Millisecond {
						t.Errorf("recovery: mc1 %v, want fast", d)
					}
				})
		})
	}
}

// TestProcessKill: mc1's memcached is down during the fault and back with a
// cold cache in recovery; mc2 keeps its data.
func TestProcessKill(t *testing.T) {
	s := startStack(t)
	mc1, mc2 := server(s, "mc1"), server(s, "mc2")
	for _, addr := range []string{mc1.Addr, mc2.Addr} {
		if _, line, err := ask(dial(t, addr), "set warm 0 0 1\r\nx", time.Second); err != nil || line != "STORED" {
			t.Fatalf("set: %q %v", line, err)
		}
	}
	runWith(t, s, testTable(), scenario(fault.KindProcessKill, nil, "mc1"),
		func() {
			if _, err := net.DialTimeout("tcp", mc1.Addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("mc1 memcached: %v, want connection refused", err)
			}
			if _, err := version(t, mc2.ProxyAddr, time.Second); err != nil {
				t.Errorf("mc2: %v", err)
			}
		},
		func() {
			if _, line, err := ask(dial(t, mc1.ProxyAddr), "get warm", time.Second); err != nil || line != "END" {
				t.Errorf("recovery: mc1 get warm: %q %v, want a miss (cold cache)", line, err)
			}
			if _, line, err := ask(dial(t, mc2.ProxyAddr), "get warm", time.Second); err != nil || !strings.HasPrefix(line, "VALUE") {
				t.Errorf("recovery: mc2 get warm: %q %v, want a hit", line, err)
			}
		})
}
