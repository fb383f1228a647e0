package loadgen

import (
	"context"
	"fmt"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mcchaos/mcchaos/loadgen/driver"
)

// TestOracleRealStack: both real clients, both workloads, through latency
// (one connection in five beyond the timeout, so writes fail and may land
// late) and slicer on every server, many concurrent writers per hot key:
// the oracle finds no violation.
func TestOracleRealStack(t *testing.T) {
	s := startStack(t)
	// The toxics are added once, before any connection: toxiproxy 2.5.0
	// panics (link.go:186, index out of range) when a toxic is added while
	// links of earlier connections are still being torn down.
	defer s.reset(t)
	for _, sv := range s.Servers {
		p, err := s.tp.Proxy(sv.Name)
		if err != nil {
			t.Fatal(err)
		}
		for j, tx := range []struct {
			kind     string
			toxicity float32
			attrs    toxiproxy.Attributes
		}{
			{"latency", 1, toxiproxy.Attributes{"latency": 3, "jitter": 3}},
			{"latency", 0.2, toxiproxy.Attributes{"latency": 150}},
			{"slicer", 1, toxiproxy.Attributes{"average_size": 64, "size_variation": 60, "delay": 20}},
		} {
			if _, err := p.AddToxic(fmt.Sprintf("%s_%d", tx.kind, j), tx.kind, "downstream", tx.toxicity, tx.attrs); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, client := range []string{"ours", "gomemcache"} {
		for _, workload := range []string{"mixed", "multi"} {
			t.Run(client+"/"+workload, func(t *testing.T) {
				m := NewMetrics(prometheus.NewRegistry())
				d := s.open(t, client, m, driver.Settings{Timeout: 100 * time.Millisecond, DisableBreaker: true})
				var log syncBuffer
				sum, err := Run(context.Background(), Config{
					Driver: d, Servers: s.names(), Metrics: m, Log: &log, WorkloadName: workload,
					Keys:        Keyspace{Size: 300, HotKeys: 5, HotRatio: 0.5},
					Sizes:       UniformSize{100, 5000},
					Concurrency: 32, Duration: 2 * time.Second,
				})
				if err != nil {
					t.Fatal(err)
				}
				if sum.Violations != 0 {
					t.Fatalf("%d violations; log:\n%s", sum.Violations, log.String())
				}
				if sum.Errors == 0 {
					t.Error("no operation failed: the slow connections did not bite")
				}
				for op, w := range Workloads[workload].(Mix) {
					var n float64
					for _, sv := range s.names() {
						for res := range numResults {
							n += testutil.ToFloat64(m.Operations.WithLabelValues(Op(op).String(), sv, res.String()))
						}
					}
					if w > 0 && n == 0 {
						t.Errorf("no %s operation", Op(op))
					}
				}
				t.Logf("%+v", sum)
			})
		}
	}
}
