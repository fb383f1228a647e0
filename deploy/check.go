// Package deploy holds the compose stack's files (Prometheus configs and
// alert rules, Grafana provisioning and the dashboard, the toxiproxy config,
// the Dockerfile) and the checks that keep them honest. The dashboard is Go
// code (Dashboard, built with the Grafana Foundation SDK) from which
// cmd/dashboards writes grafana/dashboards/*.json; CheckDashboard runs every
// query of that JSON against a real Prometheus.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// ExportedMetrics returns every metric name that Prometheus at promURL holds
// (its /api/v1/label/__name__/values over the whole retention).
func ExportedMetrics(ctx context.Context, promURL string) ([]string, error) {
	c, err := api.NewClient(api.Config{Address: promURL})
	if err != nil {
		return nil, fmt.Errorf("deploy: prometheus client for %s: %w", promURL, err)
	}
	vals, _, _, err := v1.NewAPI(c).LabelValues(ctx, "__name__", nil, time.Time{}, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("deploy: metric names from prometheus at %s: %w", promURL, err)
	}
	names := make([]string, len(vals))
	for i, v := range vals {
		names[i] = string(v)
	}
	return names, nil
}

// CheckDashboard reads the Grafana dashboard at dashboardPath and checks each
// of its queries (panel targets, Prometheus annotations, query variables)
// against the Prometheus at promURL: the query, with template variables
// expanded (see Expander), must run as an instant query without error, and
// every metric it names must be in exported, or be one of RuleMetrics or
// PendingMetrics (see there why those may be missing). If exported is nil,
// the names that Prometheus holds are used (ExportedMetrics), so call it
// after a run in which loadgen and scenariod were scraped.
//
// The error lists every problem, one per line, each naming the panel.
func CheckDashboard(ctx context.Context, promURL, dashboardPath string, exported []string) error {
	d, err := ReadDashboard(dashboardPath)
	if err != nil {
		return err
	}
	qs, err := Queries(d)
	if err != nil {
		return err
	}
	if exported == nil {
		if exported, err = ExportedMetrics(ctx, promURL); err != nil {
			return err
		}
	}
	if len(exported) == 0 {
		return fmt.Errorf("deploy: prometheus at %s holds no metrics: check the dashboard after a run that scraped loadgen and scenariod", promURL)
	}
	c, err := api.NewClient(api.Config{Address: promURL})
	if err != nil {
		return fmt.Errorf("deploy: prometheus client for %s: %w", promURL, err)
	}
	prom := v1.NewAPI(c)
	known := append(slices.Clone(exported), RuleMetrics...)
	for n := range PendingMetrics {
		known = append(known, n)
	}
	expand := Expander(d)
	errs := checkNames(qs, expand, known)
	now := time.Now()
	for _, q := range qs {
		if _, _, _, err := prom.Query(ctx, expand(q.Expr), now); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("deploy: check dashboard %s: %w", dashboardPath, ctx.Err())
			}
			errs = append(errs, fmt.Errorf("%s: query fails: %w (expr: %s)", q.Where, err, q.Expr))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("deploy: dashboard %s has %d problem(s):\n%w", dashboardPath, len(errs), errors.Join(errs...))
	}
	return nil
}

// checkNames returns an error for each metric that a query names and known
// lacks, and for each query that does not parse.
func checkNames(qs []Query, expand func(string) string, known []string) []error {
	var errs []error
	for _, q := range qs {
		names, err := MetricNames(expand(q.Expr))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", q.Where, err))
		}
		for _, n := range names {
			if !slices.Contains(known, n) {
				errs = append(errs, fmt.Errorf("%s: metric %s is exported by nothing (expr: %s)", q.Where, n, q.Expr))
			}
		}
	}
	return errs
}
