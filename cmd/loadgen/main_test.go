package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/internal/stack/stacktest"
	"github.com/mcchaos/mcchaos/loadgen"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	p, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", p)
}

// TestBadInput: every way to start loadgen wrongly is one clear error of
// the could-not-run kind (exit 2), before any load.
func TestBadInput(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dead := freeAddr(t) // nothing listens there
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-bogus"}, "flag provided but not defined"},
		{"stray argument", []string{"extra"}, "unexpected arguments"},
		{"bad servers", []string{"-servers", "mc1=nohostport"}, "missing port"},
		{"bad value size", []string{"-value-size", "10-1"}, "value size"},
		{"unknown workload", []string{"-workload", "nope"}, `unknown workload "nope"`},
		{"unknown client", []string{"-client", "nope"}, `unknown client "nope"`},
		{"port in use", []string{"-listen", busy.Addr().String()}, "cannot serve metrics on " + busy.Addr().String()},
		{"no server answers", []string{"-servers", "mc1=" + dead, "-startup-timeout", "300ms"}, "no memcached server answered within 300ms: mc1=" + dead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			args := append([]string{"-listen", "127.0.0.1:0", "-linger", "0"}, tt.args...)
			err := run(context.Background(), nil, io.Discard, &stderr, args)
			if err == nil {
				t.Fatal("run succeeded")
			}
			if code := exitCode(err); code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			if msg := err.Error() + stderr.String(); !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, stderr %q: want %q", err, stderr.String(), tt.want)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{fmt.Errorf("%w: 3 reads", loadgen.ErrIntegrityViolation), 1},
		{&loadgen.SetupError{Err: fmt.Errorf("no server")}, 2},
		{flag.ErrHelp, 0},
	} {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// TestLingerKeepsMetrics runs loadgen on the real stack, stops it as a
// SIGTERM would, and checks that /metrics still answers with the final
// counts during the linger, then that run returns.
func TestLingerKeepsMetrics(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	listen := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	abort := make(chan struct{})
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, abort, io.Discard, pw, []string{
			"-listen", listen, "-servers", s.ProxyAddrs(), "-rate", "500", "-concurrency", "20",
			"-keyspace", "1000", "-linger", "1m", "-fail-on-violation",
		})
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	for _, want := range []string{"client ours", "workload mixed", "open loop at 500 ops/s", "mc1=", "http://" + listen + "/metrics"} {
		if !strings.Contains(line, want) {
			t.Errorf("start-up line %q lacks %q", line, want)
		}
	}
	// Wait for some load, then stop it.
	waitMetric(t, listen, func(body string) bool { return strings.Contains(body, `result="ok"`) })
	cancel()
	// Offered stops growing and /metrics still answers.
	var last string
	waitMetric(t, listen, func(body string) bool {
		cur := metricLine(body, "loadgen_offered_operations_total")
		same := cur == last && cur != ""
		last = cur
		return same
	})
	body := get(t, listen)
	for _, want := range []string{"loadgen_info{client=\"ours\"", "memcache_client_pool_connections{server=\"mc1\",state=\"total\"}",
		"memcache_client_circuit_breaker_state{server=\"mc3\"} 0", "process_cpu_seconds_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	select {
	case err := <-errc:
		t.Fatalf("run returned %v before the linger ended", err)
	default:
	}
	close(abort) // a second signal
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after abort")
	}
}

func get(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func waitMetric(t *testing.T, addr string, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if ok(string(b)) {
				return
			}
		}
		time.Sleep(200 * time.Millisecond) // polling interval, not a wait for state
	}
	t.Fatal("condition on /metrics not met in 20s")
}

func metricLine(body, name string) string {
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, name+" ") {
			return l
		}
	}
	return ""
}
