package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

const dashboardPath = "grafana/dashboards/memcache-client-perf.json"

// TestDashboardGenerated checks that the committed JSON is what
// cmd/dashboards writes from Dashboard.
func TestDashboardGenerated(t *testing.T) {
	if abs, _ := filepath.Abs(dashboardPath); DashboardPath() != abs {
		t.Errorf("DashboardPath() = %s, want %s", DashboardPath(), abs)
	}
	want, err := DashboardJSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		i := 0
		for i < len(gl) && i < len(wl) && gl[i] == wl[i] {
			i++
		}
		line := func(ls []string) string {
			if i < len(ls) {
				return ls[i]
			}
			return "(end of file)"
		}
		t.Fatalf("%s is not the generated dashboard (run `go generate ./deploy`); first difference at line %d:\n committed: %s\n generated: %s",
			dashboardPath, i+1, line(gl), line(wl))
	}
}

// TestDashboard checks the dashboard against the project's contract
// without Prometheus: uid, 1 s refresh, a `server` variable used wherever a
// query filters on server, only the provisioned Prometheus, metric names
// that something exports, and a panel for each thing issues 7 and 22 ask
// to see.
func TestDashboard(t *testing.T) {
	d, err := Dashboard()
	if err != nil {
		t.Fatal(err)
	}
	if *d.Uid != DashboardUID || *d.Refresh != "1s" {
		t.Errorf("uid %q, refresh %q; want %q, 1s", *d.Uid, *d.Refresh, DashboardUID)
	}
	if len(d.Templating.List) != 1 || d.Templating.List[0].Name != "server" {
		t.Errorf("variables %v, want one named server", d.Templating.List)
	}
	for _, p := range d.Panels {
		if p.Panel == nil {
			continue
		}
		if ds := p.Panel.Datasource; p.Panel.Type != "row" && (ds == nil || *ds.Uid != DatasourceUID) {
			t.Errorf("panel %q: data source %v, want uid %q", *p.Panel.Title, ds, DatasourceUID)
		}
		for _, tg := range p.Panel.Targets {
			if ds := tg.(prometheus.Dataquery).Datasource; ds == nil || *ds.Uid != DatasourceUID {
				t.Errorf("panel %q: target data source %v, want uid %q", *p.Panel.Title, ds, DatasourceUID)
			}
		}
	}
	qs, err := Queries(d)
	if err != nil {
		t.Fatal(err)
	}
	expand := Expander(d)
	if errs := checkNames(qs, expand, KnownMetricNames()); len(errs) > 0 {
		t.Error(errs)
	}
	used := map[string]bool{}
	for _, q := range qs {
		names, _ := MetricNames(expand(q.Expr))
		for _, n := range names {
			used[n] = true
		}
		if strings.Contains(q.Expr, "server") && !strings.Contains(q.Expr, "$server") && strings.Contains(q.Expr, "{") {
			t.Errorf("%s filters on server without the $server variable: %s", q.Where, q.Expr)
		}
	}
	for _, n := range []string{
		"memcache_client_operations_total",                  // throughput, operation share by server
		"memcache_client_errors_total",                      // error ratio by class, per-server errors
		"memcache_client_operation_duration_seconds_bucket", // p50/p99 by op
		"memcache_client_server_duration_seconds_bucket",    // per-server latency
		"memcache_client_circuit_breaker_state",             // breaker state per server
		"memcache_client_circuit_breaker_transitions_total",
		"memcache_client_pool_connections",               // pool, open connections
		"memcache_client_pool_connections_created_total", // dial storms
		"memcache_client_integrity_violations_total",
		"loadgen_offered_operations_total",
		"loadgen_dropped_operations_total",
		"scenario_phase", // phases as bands
		"fault_active",   // active faults as bands
		"fault_value",
		"ALERTS",                              // alert states
		"go_goroutines",                       // leaks
		"memcache_client_wire_requests_total", // retry amplification
	} {
		if !used[n] {
			t.Errorf("no panel shows %s", n)
		}
	}
}

// TestQueries reads the generated JSON back with the SDK's types: every
// target comes back as a Prometheus query, the same as built.
func TestQueries(t *testing.T) {
	d, err := Dashboard()
	if err != nil {
		t.Fatal(err)
	}
	built, err := Queries(d)
	if err != nil {
		t.Fatal(err)
	}
	read, err := ReadDashboard(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Queries(read)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, built) || len(got) < 30 {
		t.Errorf("queries read from %s:\n%q\nwant the %d built:\n%q", dashboardPath, got, len(built), built)
	}
	if want := (Query{"variable server", "count by (server) (memcache_client_operations_total)"}); !slices.Contains(got, want) {
		t.Errorf("no %q among the queries", want)
	}
	if want := (Query{`annotation "Faults"`, `max by (server, kind, injector) (fault_active{server=~"$server"} == 1)`}); !slices.Contains(got, want) {
		t.Errorf("no %q among the queries", want)
	}

	// A target of another data source type is an error, not skipped: on
	// a Loki panel, or on a Prometheus panel.
	for _, panelDS := range []string{"loki", "prometheus"} {
		d, err = ReadDashboard(writeDashboard(t, panelDS, `{"refId": "A", "datasource": {"type": "loki", "uid": "x"}, "expr": "{job=\"x\"}"}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Queries(d); err == nil || !strings.Contains(err.Error(), "not a Prometheus") {
			t.Errorf("a Loki target on a %s panel: error %v, want one saying it is not a Prometheus", panelDS, err)
		}
	}
	if _, err := ReadDashboard(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("a missing file: no error")
	}
}

// writeDashboard writes a dashboard of one time series panel reading a data
// source of type panelDS whose only target is the JSON object tgt, and
// returns its path.
func writeDashboard(t *testing.T, panelDS, tgt string) string {
	t.Helper()
	doc := fmt.Sprintf(`{"uid": "x", "schemaVersion": 39, "templating": {"list": []}, "annotations": {"list": []},
		"panels": [{"type": "timeseries", "title": "P", "datasource": {"type": %q, "uid": "x"}, "targets": [%s]}]}`, panelDS, tgt)
	path := filepath.Join(t.TempDir(), "d.json")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// promDashboard writes a dashboard built with the SDK: a `server` variable
// and one panel "P" with one Prometheus query expr, and returns its path.
func promDashboard(t *testing.T, expr string) string {
	t.Helper()
	d, err := dashboard.NewDashboardBuilder("test").Uid("x").
		WithVariable(dashboard.NewQueryVariableBuilder("server").AllValue(".*").
			Query(dashboard.StringOrMap{String: cog.ToPtr("label_values(up, instance)")})).
		WithPanel(timeseries.NewPanelBuilder().Title("P").Datasource(promDS).Targets(targets([]target{{expr, ""}}))).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "d.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		// a plain selector with matchers; label names and values are not metrics
		{`up{job="loadgen", server=~"mc1|mc2"}`, []string{"up"}},
		// aggregation with a by clause before the parenthesis, and a range
		{`sum by (op, server) (rate(memcache_client_operations_total[5s]))`, []string{"memcache_client_operations_total"}},
		// binary operators, vector matching and group modifiers
		{`a / ignoring (class) group_left () b and on(server) c unless d or vector(0)`, []string{"a", "b", "c", "d"}},
		// strings hold no names, even with braces, quotes or keywords inside
		{`label_replace(up, "dst", "$1 {x} \" y", 'src', ` + "`(.*)`" + `)`, []string{"up"}},
		// the name as a matcher; a selector without a name names none
		{`{__name__="foo"} + count by (server) ({server!=""})`, []string{"foo"}},
		// a duplicate is reported once, sorted; a subquery
		{`max_over_time(rate(b[5s])[1m:1s]) + a + b`, []string{"a", "b"}},
	}
	for _, tt := range tests {
		if got, err := MetricNames(tt.expr); err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("MetricNames(%q) = %q, %v; want %q", tt.expr, got, err, tt.want)
		}
	}
	if _, err := MetricNames(`sum(rate(x[1m])`); err == nil {
		t.Error("an unclosed parenthesis: no error")
	}
}

func TestExpander(t *testing.T) {
	d := dashboard.Dashboard{Templating: dashboard.DashboardDashboardTemplating{List: []dashboard.VariableModel{
		{Name: "server", AllValue: cog.ToPtr(".*")},
		{Name: "op", Current: &dashboard.VariableOption{Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("get")}}},
		{Name: "inst", Current: &dashboard.VariableOption{Value: dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}}}},
	}}}
	expand := Expander(d)
	tests := []struct{ in, want string }{
		// allValue, current value, neither (every value); both syntaxes
		{`m{server=~"$server",op="${op}",instance=~"$inst"}`, `m{server=~".*",op="get",instance=~".*"}`},
		// built-ins: the longest name wins ($__interval_ms, not $__interval)
		{`rate(m[$__rate_interval]) / $__interval_ms`, `rate(m[5s]) / 1000`},
		{`increase(m[${__range}])`, `increase(m[15m])`},
		// unknown names stay, as in Grafana ($1 in label_replace)
		{`label_replace(m, "a", "$1", "b", "(.*)")`, `label_replace(m, "a", "$1", "b", "(.*)")`},
	}
	for _, tt := range tests {
		if got := expand(tt.in); got != tt.want {
			t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
