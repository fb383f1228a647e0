package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/internal/stack/stacktest"
)

// TestCapacity measures which open-loop rate the whole local stack
// (memcached ×3, toxiproxy, Prometheus scraping every second, and the
// loadgen binary) holds on this machine. It runs only when
// LOADGEN_CAPACITY_RATES lists rates, e.g. "1000,2000,4000", each for
// LOADGEN_CAPACITY_DURATION (default 20s), with the extra loadgen flags of
// LOADGEN_CAPACITY_ARGS, and logs one row per rate.
func TestCapacity(t *testing.T) {
	ratesEnv := os.Getenv("LOADGEN_CAPACITY_RATES")
	if ratesEnv == "" {
		t.Skip("set LOADGEN_CAPACITY_RATES=1000,2000,... to measure")
	}
	dur := 20 * time.Second
	if v := os.Getenv("LOADGEN_CAPACITY_DURATION"); v != "" {
		var err error
		if dur, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(t.TempDir(), "loadgen")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/loadgen").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	s := stacktest.Start(t, stacktest.Options{Prometheus: true, ScrapeTargets: map[string]string{"loadgen": listen}})

	t.Logf("%d s per rate, load average before: %s", int(dur.Seconds()), loadavg())
	t.Logf("%8s %9s %8s %9s %6s %8s %8s %8s %8s %8s %6s", "rate", "ops/s", "dropped", "errors", "viol", "p50", "p99", "p99.9", "loadgen", "stack", "busy")
	for _, f := range strings.Split(ratesEnv, ",") {
		rate, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			t.Fatal(err)
		}
		args := append([]string{"-listen", listen, "-servers", s.ProxyAddrs(),
			"-rate", fmt.Sprint(rate), "-duration", dur.String(), "-linger", "1m"},
			strings.Fields(os.Getenv("LOADGEN_CAPACITY_ARGS"))...)
		cmd := exec.Command(bin, args...)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stackBefore := childrenCPU(t, cmd.Process.Pid)
		machineBefore := machineCPU(t)
		// The load runs for dur after the preload; then loadgen lingers.
		mf := waitFinal(t, listen, dur+time.Minute)
		machineAfter := machineCPU(t)
		lgCPU := procCPU(t, cmd.Process.Pid)
		stackAfter := childrenCPU(t, cmd.Process.Pid)
		cmd.Process.Signal(os.Interrupt)
		cmd.Process.Signal(os.Interrupt) // second: no linger
		cmd.Wait()

		offered := counter(mf, "loadgen_offered_operations_total")
		dropped := counter(mf, "loadgen_dropped_operations_total")
		ops := counter(mf, "memcache_client_operations_total")
		errs := counter(mf, "memcache_client_errors_total")
		viol := counter(mf, "memcache_client_integrity_violations_total")
		h := mergedHistogram(mf["memcache_client_operation_duration_seconds"])
		busy := 1 - (machineAfter.idle-machineBefore.idle)/(machineAfter.total-machineBefore.total)
		window := machineAfter.at.Sub(machineBefore.at).Seconds()
		var stackCPU time.Duration
		var parts []string
		for _, name := range slices.Sorted(maps.Keys(stackAfter)) {
			d := stackAfter[name] - stackBefore[name]
			stackCPU += d
			parts = append(parts, fmt.Sprintf("%s %.2fc", name, d.Seconds()/window))
		}
		t.Logf("%8g %9.1f %7.3f%% %9g %6g %8s %8s %8s %7.2fc %7.2fc %5.0f%%",
			rate, ops/dur.Seconds(), 100*dropped/offered, errs, viol,
			quantile(h, 0.5), quantile(h, 0.99), quantile(h, 0.999),
			lgCPU.Seconds()/window, stackCPU.Seconds()/window, 100*busy)
		t.Logf("%8s stack: %s", "", strings.Join(parts, ", "))
	}
	t.Logf("load average after: %s", loadavg())
}

// waitFinal polls loadgen's /metrics until its offered count stops
// growing (the load ended and it lingers) and returns that scrape.
func waitFinal(t *testing.T, addr string, timeout time.Duration) map[string]*dto.MetricFamily {
	deadline := time.Now().Add(timeout)
	last := -1.0
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond) // polling interval
		mf, err := scrape(addr)
		if err != nil {
			continue
		}
		n := counter(mf, "loadgen_offered_operations_total")
		if n > 0 && n == last {
			return mf
		}
		last = n
	}
	t.Fatalf("loadgen on %s did not finish within %s", addr, timeout)
	return nil
}

func scrape(addr string) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

func counter(mf map[string]*dto.MetricFamily, name string) float64 {
	var sum float64
	if f := mf[name]; f != nil {
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

type bucket struct{ le, n float64 }

// mergedHistogram adds up the buckets of every series of a histogram.
func mergedHistogram(f *dto.MetricFamily) []bucket {
	byLe := map[float64]float64{}
	for _, m := range f.GetMetric() {
		for _, b := range m.GetHistogram().GetBucket() {
			if !math.IsInf(b.GetUpperBound(), 1) {
				byLe[b.GetUpperBound()] += float64(b.GetCumulativeCount())
			}
		}
		byLe[math.Inf(1)] += float64(m.GetHistogram().GetSampleCount())
	}
	var out []bucket
	for le, n := range byLe {
		out = append(out, bucket{le, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].le < out[j].le })
	return out
}

// quantile interpolates like histogram_quantile.
func quantile(h []bucket, q float64) time.Duration {
	if len(h) == 0 || h[len(h)-1].n == 0 {
		return 0
	}
	rank := q * h[len(h)-1].n
	lo, prev := 0.0, 0.0
	for _, b := range h {
		if b.n >= rank {
			if math.IsInf(b.le, 1) {
				return time.Duration(lo * 1e9)
			}
			return time.Duration((lo + (b.le-lo)*(rank-prev)/(b.n-prev)) * 1e9).Round(time.Microsecond)
		}
		lo, prev = b.le, b.n
	}
	return 0
}

type cpuSample struct {
	idle, total float64
	at          time.Time
}

// machineCPU reads the machine's CPU jiffies from /proc/stat.
func machineCPU(t *testing.T) cpuSample {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	var s cpuSample
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseFloat(f, 64)
		s.total += v
		if i == 3 || i == 4 { // idle, iowait
			s.idle += v
		}
	}
	s.at = time.Now()
	return s
}

const clockTick = 100 // USER_HZ on Linux

// procCPU returns the CPU time used by pid so far.
func procCPU(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return time.Duration((ut + st) / clockTick * 1e9)
}

// childrenCPU is the CPU time of this test's child processes (the stack),
// except the one with pid except, by command name.
func childrenCPU(t *testing.T, except int) map[string]time.Duration {
	sum := make(map[string]time.Duration)
	entries, _ := os.ReadDir("/proc")
	me := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == except {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		comm, rest, _ := strings.Cut(string(b), ") ")
		f := strings.Fields(rest)
		if len(f) > 1 && f[1] == strconv.Itoa(me) {
			_, name, _ := strings.Cut(comm, "(")
			sum[name] += procCPU(t, pid)
		}
	}
	return sum
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Scan()
	f := strings.Fields(sc.Text())
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
