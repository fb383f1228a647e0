package loadgen

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcchaos/mcchaos/loadgen/driver"
)

// TestReady: /ready answers 200 only while loading with every breaker
// closed, and names what it waits for otherwise.
func TestReady(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	var loading atomic.Bool
	srv := httptest.NewServer(metricsHandler(reg, &loading, m))
	defer srv.Close()
	get := func() (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/ready")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	now := time.Now()
	for _, step := range []struct {
		do       func()
		code     int
		contains string
	}{
		{func() {}, http.StatusServiceUnavailable, "not loading yet"},
		{func() { loading.Store(true) }, http.StatusOK, "loading"},
		{func() { m.BreakerChanged("mc2", driver.BreakerClosed, driver.BreakerOpen, now) }, http.StatusServiceUnavailable, "not closed: mc2 (open)"},
		{func() { m.BreakerChanged("mc1", driver.BreakerClosed, driver.BreakerOpen, now) }, http.StatusServiceUnavailable, "mc1 (open), mc2 (open)"},
		{func() { m.BreakerChanged("mc1", driver.BreakerOpen, driver.BreakerClosed, now) }, http.StatusServiceUnavailable, "not closed: mc2 (open)"},
		{func() { m.BreakerChanged("mc2", driver.BreakerOpen, driver.BreakerHalfOpen, now) }, http.StatusServiceUnavailable, "mc2 (half-open)"},
		{func() { m.BreakerChanged("mc2", driver.BreakerHalfOpen, driver.BreakerClosed, now) }, http.StatusOK, "loading"},
	} {
		step.do()
		if code, body := get(); code != step.code || !strings.Contains(body, step.contains) {
			t.Errorf("after step: /ready %d %q, want %d containing %q", code, body, step.code, step.contains)
		}
	}
}
