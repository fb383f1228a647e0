package scenariod

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
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
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotScraped, err)
	}
	papi := v1.NewAPI(c)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var missing []string
	var last error
	for {
		missing, last = missing[:0], nil
		for _, job := range jobs {
			qctx, qcancel := context.WithTimeout(ctx, 2*time.Second)
			v, _, _, err := papi.Query(qctx, fmt.Sprintf("up{job=%q} == 1", job), time.Now())
			qcancel()
			if err != nil {
				last = err
				missing = append(missing, job)
				continue
			}
			if vec, ok := v.(model.Vector); !ok || len(vec) == 0 {
				missing = append(missing, job)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			why := ""
			if last != nil {
				why = fmt.Sprintf(" (last error: %v)", last)
			}
			return fmt.Errorf("%w: up{job=...} not 1 for %s at %s after %v%s; check that Prometheus scrapes them", ErrNotScraped, strings.Join(missing, ", "), url, timeout, why)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
