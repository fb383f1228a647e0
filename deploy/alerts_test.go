package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// ruleFile is what the checks read from a Prometheus rule file.
type ruleFile struct {
	Groups []struct {
		Name  string
		Rules []struct {
			Alert, Record, Expr, For string
			Labels, Annotations      map[string]string
		}
	}
}

// ruleTestFile is what the checks read from a promtool test file.
type ruleTestFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		AlertRuleTest []struct {
			Alertname string
			ExpAlerts []any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	}
}

// TestAlertRules runs promtool on the alert rules of prometheus/rules
// (check rules, and test rules on their unit tests), and checks what
// promtool does not: each alert has a severity, a summary, a description, a
// runbook line and a runbook section in prometheus/README.md, a unit test
// in which it fires and one in which it does not, and names only metrics
// that something exports.
func TestAlertRules(t *testing.T) {
	rules, _ := filepath.Glob("prometheus/rules/*.rules.yml")
	tests, _ := filepath.Glob("prometheus/rules/*.test.yml")
	if len(rules) == 0 || len(tests) == 0 {
		t.Fatalf("rule files %q, test files %q; want both", rules, tests)
	}
	promtool := tool(t, "promtool", "run `make deps` (or: apt-get install prometheus)")
	if out, err := run(t, ".", nil, promtool, append([]string{"check", "rules"}, rules...)...); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
	if out, err := run(t, ".", nil, promtool, append([]string{"test", "rules"}, tests...)...); err != nil {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}

	fires, silent := map[string]bool{}, map[string]bool{}
	for _, f := range tests {
		var tf ruleTestFile
		readYAML(t, f, &tf)
		for _, tc := range tf.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname] = true
				} else {
					silent[a.Alertname] = true
				}
			}
		}
	}
	runbook, err := os.ReadFile("prometheus/README.md")
	if err != nil {
		t.Fatal(err)
	}
	known := KnownMetricNames()
	var alerts []string
	for _, f := range rules {
		var rf ruleFile
		readYAML(t, f, &rf)
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				alerts = append(alerts, r.Alert)
				if s := r.Labels["severity"]; s != "warning" && s != "critical" {
					t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
				}
				for _, a := range []string{"summary", "description", "runbook"} {
					if r.Annotations[a] == "" {
						t.Errorf("%s: no %s annotation", r.Alert, a)
					}
				}
				if !strings.Contains(string(runbook), "\n### "+r.Alert+"\n") {
					t.Errorf("%s: no section \"### %s\" in prometheus/README.md", r.Alert, r.Alert)
				}
				if !fires[r.Alert] || !silent[r.Alert] {
					t.Errorf("%s: promtool tests where it fires: %v, where it does not: %v; want both", r.Alert, fires[r.Alert], silent[r.Alert])
				}
				names, err := MetricNames(r.Expr)
				if err != nil {
					t.Errorf("%s: %v", r.Alert, err)
				}
				for _, n := range names {
					if !slices.Contains(known, n) {
						t.Errorf("%s: metric %s is exported by nothing", r.Alert, n)
					}
				}
			}
		}
	}
	// The five of issue 22, and scrape failures split into two.
	want := []string{"MemcacheClientCircuitBreakerOpenTooLong", "MemcacheClientErrorRatioHigh", "MemcacheClientIntegrityViolation",
		"MemcacheClientLatencyP99OverBudget", "MemcacheClientMetricsAbsent", "MemcacheClientScrapeDown"}
	slices.Sort(alerts)
	if !slices.Equal(alerts, want) {
		t.Errorf("alerts %q, want %q", alerts, want)
	}
}

// TestAlertPanels runs the dashboard's alert panels on the rules with
// promtool: with one alert firing and another pending, "Alert states"
// shows 2 and 1 for them and "Firing alerts" counts 1.
func TestAlertPanels(t *testing.T) {
	promtool := tool(t, "promtool", "run `make deps` (or: apt-get install prometheus)")
	d, err := Dashboard()
	if err != nil {
		t.Fatal(err)
	}
	qs, err := Queries(d)
	if err != nil {
		t.Fatal(err)
	}
	expr := map[string]string{}
	for _, q := range qs {
		expr[q.Where] = Expander(d)(q.Expr)
	}
	states, firing := expr[`panel "Alert states" A`], expr[`panel "Firing alerts" A`]
	if states == "" || firing == "" {
		t.Fatalf("no panels \"Alert states\" and \"Firing alerts\" among %q", qs)
	}
	rules, err := filepath.Abs("prometheus/rules/memcache-client.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	// At 1m: one integrity violation (fires at once), and 10 % errors
	// since 0s (pending: not yet for a minute).
	doc := map[string]any{
		"rule_files":          []string{rules},
		"evaluation_interval": "15s",
		"tests": []any{map[string]any{
			"interval": "15s",
			"input_series": []any{
				map[string]string{"series": `memcache_client_integrity_violations_total{job="loadgen",instance="a",op="get",server="mc1"}`, "values": "0 0 0 0 1 1 1"},
				map[string]string{"series": `memcache_client_operations_total{job="loadgen",instance="a",op="get",server="mc1",result="ok"}`, "values": "0+90x6"},
				map[string]string{"series": `memcache_client_errors_total{job="loadgen",instance="a",op="get",server="mc1",class="timeout"}`, "values": "0+10x6"},
			},
			"promql_expr_test": []any{
				map[string]any{"expr": states, "eval_time": "1m", "exp_samples": []any{
					map[string]any{"labels": `{alertname="MemcacheClientErrorRatioHigh"}`, "value": 1},
					map[string]any{"labels": `{alertname="MemcacheClientIntegrityViolation"}`, "value": 2},
				}},
				map[string]any{"expr": firing, "eval_time": "1m", "exp_samples": []any{
					map[string]any{"labels": `{}`, "value": 1},
				}},
				// nothing pending or firing yet: no states, and 0 firing
				map[string]any{"expr": states, "eval_time": "0s", "exp_samples": []any{}},
				map[string]any{"expr": firing, "eval_time": "0s", "exp_samples": []any{
					map[string]any{"labels": `{}`, "value": 0},
				}},
			},
		}},
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "panels.test.yml")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, ".", nil, promtool, "test", "rules", f); err != nil {
		t.Errorf("promtool test rules on the alert panels: %v\n%s\n%s", err, out, b)
	}
}
