package stack_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/internal/stack/stacktest"
)

func TestStartScrapesAndStops(t *testing.T) {
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "# TYPE probe_total counter\nprobe_total 1")
	}))
	defer exporter.Close()
	target := strings.TrimPrefix(exporter.URL, "http://")
	s := stacktest.Start(t, stacktest.Options{Prometheus: true, ScrapeTargets: map[string]string{"loadgen": target, "scenariod": target}})

	if len(s.Servers) != 3 {
		t.Fatalf("servers = %d, want 3", len(s.Servers))
	}
	for _, srv := range s.Servers {
		for _, addr := range []string{srv.Addr, srv.ProxyAddr} {
			if err := setGet(addr); err != nil {
				t.Errorf("%s via %s: %v", srv.Name, addr, err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.WaitScraped(ctx, "loadgen", "scenariod"); err != nil {
		t.Fatal(err)
	}

	pids := childPids(t, s.Dir)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("pid %d still alive after Stop", pid)
		}
	}
	for _, srv := range s.Servers {
		if c, err := net.DialTimeout("tcp", srv.ProxyAddr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Stop", srv.ProxyAddr)
		}
	}
}

func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	ports, err := stack.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	ports.Memcached[1] = busy
	_, err = stack.Start(context.Background(), stack.Config{Dir: t.TempDir(), Ports: ports, Services: stack.Memcached | stack.Toxiproxy})
	var inUse *stack.PortInUseError
	if !errors.As(err, &inUse) || inUse.Port != busy || !strings.Contains(err.Error(), "memcached mc2") {
		t.Fatalf("err = %v, want PortInUseError for %d naming memcached mc2", err, busy)
	}
}

func TestMissingBinary(t *testing.T) {
	_, err := stack.Start(context.Background(), stack.Config{Dir: t.TempDir(), MemcachedBin: "memcached-does-not-exist", Services: stack.Memcached | stack.Toxiproxy})
	var missing *stack.MissingBinaryError
	if !errors.As(err, &missing) || !strings.Contains(err.Error(), "make deps") {
		t.Fatalf("err = %v, want MissingBinaryError with the fix", err)
	}
}

func TestPrometheusConfigChecks(t *testing.T) {
	f := t.TempDir() + "/prometheus.yml"
	if err := os.WriteFile(f, stack.PrometheusConfig(map[string]string{"loadgen": "127.0.0.1:9090", "scenariod": "127.0.0.1:9092"}), 0o644); err != nil {
		t.Fatal(err)
	}
	stacktest.NeedBinary(t, "promtool")
	if out, err := exec.Command("promtool", "check", "config", f).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}

func setGet(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("set k 0 0 1\r\nv\r\nget k\r\n")); err != nil {
		return err
	}
	want := "STORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n"
	buf := make([]byte, 0, 64)
	for len(buf) < len(want) {
		tmp := make([]byte, 64)
		n, err := c.Read(tmp)
		if err != nil {
			return err
		}
		buf = append(buf, tmp[:n]...)
	}
	if string(buf) != want {
		return fmt.Errorf("got %q, want %q", buf, want)
	}
	return nil
}

func childPids(t *testing.T, dir string) []int {
	t.Helper()
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
		if len(f) > 1 && f[1] == fmt.Sprint(os.Getpid()) {
			pids = append(pids, pid)
		}
	}
	if len(pids) < 5 {
		t.Fatalf("found %d children, want at least 5 (3 memcached, toxiproxy, prometheus)", len(pids))
	}
	return pids
}
