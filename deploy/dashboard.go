// Package deploy holds the compose stack's files (Prometheus configs, Grafana
// provisioning and dashboards, the toxiproxy config, the Dockerfile) and the
// checks that keep them honest: the Grafana dashboard is read here, its
// queries are expanded the way Grafana expands them, and CheckDashboard runs
// every one of them against a real Prometheus.
package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
)

// DashboardUID is the uid of the dashboard in dashboards/, which collect's
// Grafana snapshots and the README link to.
const DashboardUID = "memcache-client-perf"

// DatasourceUID is the uid of the provisioned Prometheus data source.
const DatasourceUID = "prometheus"

// DashboardPath returns the path of the committed dashboard
// (deploy/grafana/dashboards/memcache-client-perf.json), located from this
// source file so that a test in any package can pass it to CheckDashboard.
// It is meant for tests: a binary built with -trimpath has no such path.
func DashboardPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "grafana", "dashboards", DashboardUID+".json")
}

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

// Dashboard is what the checks need from a Grafana dashboard JSON.
type Dashboard struct {
	UID     string
	Title   string
	Refresh string
	// Variables maps each template variable to the value it is given when
	// a query is expanded: its allValue, else its current single value,
	// else ".*" (every value).
	Variables map[string]string
	// Queries are the PromQL expressions of every panel target, every
	// Prometheus annotation and every query variable, as written.
	Queries []Query
	// Datasources are the data source uids that panels, targets,
	// annotations and variables name (Grafana's own excluded).
	Datasources []string
}

// Query is one PromQL expression of a dashboard.
type Query struct {
	// Where names the place in the dashboard: `panel "Throughput" A`,
	// `annotation "Faults"`, `variable server`.
	Where string
	// Expr is the expression as written, with template variables.
	Expr string
}

type dsRef struct {
	UID string `json:"uid"`
}

// UnmarshalJSON accepts both forms Grafana writes: an object with a uid, or
// a bare data source name (older dashboards).
func (d *dsRef) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		d.UID = s
		return nil
	}
	type plain dsRef
	return json.Unmarshal(b, (*plain)(d))
}

type jsonPanel struct {
	Title      string      `json:"title"`
	Type       string      `json:"type"`
	Datasource *dsRef      `json:"datasource"`
	Targets    []jsonTgt   `json:"targets"`
	Panels     []jsonPanel `json:"panels"` // a row's panels
}

type jsonTgt struct {
	RefID      string `json:"refId"`
	Expr       string `json:"expr"`
	Datasource *dsRef `json:"datasource"`
}

type jsonDashboard struct {
	UID         string      `json:"uid"`
	Title       string      `json:"title"`
	Refresh     any         `json:"refresh"`
	Panels      []jsonPanel `json:"panels"`
	Annotations struct {
		List []struct {
			Name       string `json:"name"`
			Datasource *dsRef `json:"datasource"`
			Expr       string `json:"expr"`
			Target     *struct {
				Expr string `json:"expr"`
			} `json:"target"`
		} `json:"list"`
	} `json:"annotations"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Datasource *dsRef          `json:"datasource"`
			Query      json.RawMessage `json:"query"`
			AllValue   string          `json:"allValue"`
			Current    struct {
				Value any `json:"value"`
			} `json:"current"`
		} `json:"list"`
	} `json:"templating"`
}

// ReadDashboard reads and parses a Grafana dashboard JSON file.
func ReadDashboard(path string) (*Dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("deploy: read dashboard: %w", err)
	}
	d, err := ParseDashboard(b)
	if err != nil {
		return nil, fmt.Errorf("deploy: dashboard %s: %w", path, err)
	}
	return d, nil
}

// ParseDashboard parses a Grafana dashboard JSON document.
func ParseDashboard(b []byte) (*Dashboard, error) {
	var j jsonDashboard
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("not a dashboard JSON: %w", err)
	}
	d := &Dashboard{UID: j.UID, Title: j.Title, Variables: map[string]string{}}
	if s, ok := j.Refresh.(string); ok {
		d.Refresh = s
	}
	ds := map[string]bool{}
	addDS := func(r *dsRef) {
		if r != nil && r.UID != "" && !strings.HasPrefix(r.UID, "-- ") && !strings.HasPrefix(r.UID, "${") && r.UID != "grafana" {
			ds[r.UID] = true
		}
	}
	var walk func(ps []jsonPanel)
	walk = func(ps []jsonPanel) {
		for _, p := range ps {
			addDS(p.Datasource)
			for _, t := range p.Targets {
				addDS(t.Datasource)
				if t.Expr != "" {
					d.Queries = append(d.Queries, Query{Where: fmt.Sprintf("panel %q %s", p.Title, t.RefID), Expr: t.Expr})
				}
			}
			walk(p.Panels)
		}
	}
	walk(j.Panels)
	for _, a := range j.Annotations.List {
		addDS(a.Datasource)
		expr := a.Expr
		if expr == "" && a.Target != nil {
			expr = a.Target.Expr
		}
		if expr != "" {
			d.Queries = append(d.Queries, Query{Where: fmt.Sprintf("annotation %q", a.Name), Expr: expr})
		}
	}
	for _, v := range j.Templating.List {
		addDS(v.Datasource)
		d.Variables[v.Name] = variableValue(v.AllValue, v.Current.Value)
		if v.Type != "query" {
			continue
		}
		q := variableQuery(v.Query)
		if expr, ok := variableExpr(q); ok {
			d.Queries = append(d.Queries, Query{Where: "variable " + v.Name, Expr: expr})
		} else if q != "" {
			return nil, fmt.Errorf("variable %s: query %q is not one of label_values(...), query_result(...)", v.Name, q)
		}
	}
	for uid := range ds {
		d.Datasources = append(d.Datasources, uid)
	}
	sort.Strings(d.Datasources)
	return d, nil
}

func variableValue(allValue string, current any) string {
	if allValue != "" {
		return allValue
	}
	if s, ok := current.(string); ok && s != "" && s != "$__all" {
		return s
	}
	return ".*"
}

// variableQuery returns a query variable's query, which Grafana writes either
// as a string or as {"query": "..."}.
func variableQuery(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(raw, &o)
	return o.Query
}

var (
	labelValuesRE = regexp.MustCompile(`^\s*label_values\(\s*(?:(.*\S)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)
	queryResultRE = regexp.MustCompile(`^\s*query_result\((.*)\)\s*$`)
)

// variableExpr turns a Prometheus variable query into the PromQL that
// Grafana runs for it: label_values(m, l) reads the label l of the series of
// m, which `count by (l) (m)` does too; query_result(e) runs e.
func variableExpr(q string) (string, bool) {
	if m := labelValuesRE.FindStringSubmatch(q); m != nil {
		if m[1] == "" {
			return fmt.Sprintf(`count by (%s) ({%s!=""})`, m[2], m[2]), true
		}
		return fmt.Sprintf("count by (%s) (%s)", m[2], m[1]), true
	}
	if m := queryResultRE.FindStringSubmatch(q); m != nil {
		return m[1], true
	}
	return "", false
}

// varRE matches Grafana's three variable syntaxes: $name, ${name[:format]}
// and [[name[:format]]].
var varRE = regexp.MustCompile(`\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)`)

// Expand substitutes the dashboard's template variables and Grafana's
// built-in ones (Builtins) in expr. Like Grafana, it leaves unknown names
// (such as $1 in a label_replace replacement) as they are.
func (d *Dashboard) Expand(expr string) string {
	return varRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := varRE.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		if v, ok := d.Variables[name]; ok {
			return v
		}
		if v, ok := Builtins[name]; ok {
			return v
		}
		return m
	})
}

// Lint checks the dashboard against the project's contract: its uid, a 1 s
// refresh, a `server` variable, every data source being the provisioned
// Prometheus, and every metric name in its queries being in known (see
// KnownMetricNames). It does not need Prometheus.
func (d *Dashboard) Lint(known []string) error {
	var errs []error
	if d.UID != DashboardUID {
		errs = append(errs, fmt.Errorf("uid is %q, want %q", d.UID, DashboardUID))
	}
	if d.Refresh != "1s" {
		errs = append(errs, fmt.Errorf("refresh is %q, want \"1s\"", d.Refresh))
	}
	if _, ok := d.Variables["server"]; !ok {
		errs = append(errs, errors.New("no template variable named server"))
	}
	for _, uid := range d.Datasources {
		if uid != DatasourceUID {
			errs = append(errs, fmt.Errorf("data source uid %q is not the provisioned %q", uid, DatasourceUID))
		}
	}
	if len(d.Queries) == 0 {
		errs = append(errs, errors.New("no queries"))
	}
	errs = append(errs, d.checkNames(known)...)
	return errors.Join(errs...)
}

func (d *Dashboard) checkNames(known []string) []error {
	set := make(map[string]bool, len(known))
	for _, n := range known {
		set[n] = true
	}
	var errs []error
	for _, q := range d.Queries {
		for _, n := range MetricNames(d.Expand(q.Expr)) {
			if !set[n] {
				errs = append(errs, fmt.Errorf("%s: metric %s is exported by nothing (expr: %s)", q.Where, n, q.Expr))
			}
		}
	}
	return errs
}
