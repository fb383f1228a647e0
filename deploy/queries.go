package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/VictoriaMetrics/metricsql"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// Builtins are the values given to Grafana's built-in variables when a query
// is run outside Grafana. They match a 15-minute view of a 1 s scrape.
var Builtins = map[string]string{
	"__rate_interval":    "5s",
	"__rate_interval_ms": "5000",
	"__interval":         "1s",
	"__interval_ms":      "1000",
	"__range":            "15m",
	"__range_s":          "900",
	"__range_ms":         "900000",
}

// Query is one PromQL expression of a dashboard.
type Query struct {
	// Where names the place in the dashboard: `panel "Throughput" A`,
	// `annotation "Faults"`, `variable server`.
	Where string
	// Expr is the expression as written, with template variables.
	Expr string
}

var registerPlugins sync.Once

// ReadDashboard reads a Grafana dashboard JSON file into the Foundation
// SDK's types, with the SDK's panel and query types registered so that
// Prometheus targets come back as *prometheus.Dataquery.
func ReadDashboard(path string) (dashboard.Dashboard, error) {
	registerPlugins.Do(plugins.RegisterDefaultPlugins)
	var d dashboard.Dashboard
	b, err := os.ReadFile(path)
	if err != nil {
		return d, fmt.Errorf("deploy: read dashboard: %w", err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("deploy: dashboard %s: %w", path, err)
	}
	return d, nil
}

// Queries returns the PromQL of every panel target, every Prometheus
// annotation and every query variable of d, in dashboard order. A target
// that is not a Prometheus query is an error: every panel reads a
// Prometheus.
func Queries(d dashboard.Dashboard) ([]Query, error) {
	var qs []Query
	var panels []dashboard.Panel
	for _, p := range d.Panels {
		switch {
		case p.Panel != nil:
			panels = append(panels, *p.Panel)
		case p.RowPanel != nil:
			panels = append(panels, p.RowPanel.Panels...) // a collapsed row's
		}
	}
	for _, p := range panels {
		title := ""
		if p.Title != nil {
			title = *p.Title
		}
		for i, t := range p.Targets {
			var q prometheus.Dataquery
			switch t := t.(type) {
			case prometheus.Dataquery:
				q = t
			case *prometheus.Dataquery:
				q = *t
			default:
				return nil, fmt.Errorf("deploy: panel %q target %d is %T, not a Prometheus query", title, i, t)
			}
			ref := ""
			if q.RefId != nil {
				ref = *q.RefId
			}
			// The panel's data source decides how the SDK reads its targets.
			if ds := q.Datasource; ds != nil && ds.Type != nil && *ds.Type != "prometheus" {
				return nil, fmt.Errorf("deploy: panel %q target %s reads data source type %s, not a Prometheus", title, ref, *ds.Type)
			}
			qs = append(qs, Query{Where: fmt.Sprintf("panel %q %s", title, ref), Expr: q.Expr})
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != nil && *a.Expr != "" {
			qs = append(qs, Query{Where: fmt.Sprintf("annotation %q", a.Name), Expr: *a.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != dashboard.VariableTypeQuery || v.Query == nil {
			continue
		}
		q := ""
		if v.Query.String != nil {
			q = *v.Query.String
		} else if s, ok := v.Query.Map["query"].(string); ok {
			q = s
		}
		expr, ok := variableExpr(q)
		if !ok {
			return nil, fmt.Errorf("deploy: variable %s: query %q is not label_values(metric, label)", v.Name, q)
		}
		qs = append(qs, Query{Where: "variable " + v.Name, Expr: expr})
	}
	return qs, nil
}

var labelValuesRE = regexp.MustCompile(`^\s*label_values\(\s*(.*\S)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)

// variableExpr turns a variable's label_values(m, l), which reads the label
// l of the series of m, into PromQL that does the same: count by (l) (m).
func variableExpr(q string) (string, bool) {
	m := labelValuesRE.FindStringSubmatch(q)
	if m == nil {
		return "", false
	}
	return fmt.Sprintf("count by (%s) (%s)", m[2], m[1]), true
}

// Expander returns a function that substitutes d's template variables and
// Grafana's built-in ones (Builtins) in an expression, in the $name and
// ${name} forms. A variable's value is its allValue, else its current
// single value, else ".*" (every value). Unknown names stay as they are.
func Expander(d dashboard.Dashboard) func(expr string) string {
	vals := map[string]string{}
	for k, v := range Builtins {
		vals[k] = v
	}
	for _, v := range d.Templating.List {
		switch {
		case v.AllValue != nil && *v.AllValue != "":
			vals[v.Name] = *v.AllValue
		case v.Current != nil && v.Current.Value.String != nil && *v.Current.Value.String != "$__all":
			vals[v.Name] = *v.Current.Value.String
		default:
			vals[v.Name] = ".*"
		}
	}
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	// Longest first: strings.Replacer tries its pairs in order, and
	// $__interval is a prefix of $__interval_ms.
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	var pairs []string
	for _, n := range names {
		pairs = append(pairs, "${"+n+"}", vals[n], "$"+n, vals[n])
	}
	return strings.NewReplacer(pairs...).Replace
}

// MetricNames returns the metric names that a PromQL expression selects
// (MetricsQL's parser, a superset of PromQL's), sorted, without
// duplicates. A selector without a name ({job="x"}) names none.
func MetricNames(expr string) ([]string, error) {
	e, err := metricsql.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("deploy: parse %q: %w", expr, err)
	}
	var names []string
	metricsql.VisitAll(e, func(e metricsql.Expr) {
		if me, ok := e.(*metricsql.MetricExpr); ok {
			for _, lfs := range me.LabelFilterss {
				for _, lf := range lfs {
					if lf.Label == "__name__" && !lf.IsRegexp && !lf.IsNegative {
						names = append(names, lf.Value)
					}
				}
			}
		}
	})
	slices.Sort(names)
	return slices.Compact(names), nil
}
