package scenariod

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/internal/promwait"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Defaults of the metrics endpoint and the scrape wait.
const (
	DefaultListen            = "127.0.0.1:9092"
	DefaultWaitScrapedJobs   = "scenariod,loadgen"
	DefaultWaitScrapeTimeout = 60 * time.Second
)

// ErrNotScraped is returned (wrapped) by WaitScraped when Prometheus has
// not scraped every job before the deadline.
var ErrNotScraped = errors.New("scenariod: not scraped by Prometheus")

// Serve serves reg's metrics on addr at /metrics until ctx ends. It returns
// once the listener is bound (so the address is taken or an error is
// returned at once); the returned func stops the server.
func Serve(ctx context.Context, addr string, reg *prometheus.Registry) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w (pick a free port with -listen)", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}, nil
}

// WaitScraped polls Prometheus at url until up{job=J} == 1 for every job,
// or until timeout (DefaultWaitScrapeTimeout if zero) or ctx ends.
func WaitScraped(ctx context.Context, url string, jobs []string, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultWaitScrapeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var ws []promwait.Want
	for _, j := range jobs {
		ws = append(ws, promwait.Want{Job: j, Targets: 1})
	}
	if err := promwait.Wait(ctx, url, ws...); err != nil {
		return fmt.Errorf("%w within %v: %v", ErrNotScraped, timeout, strings.TrimPrefix(err.Error(), promwait.ErrNotScraped.Error()+": "))
	}
	return nil
}
