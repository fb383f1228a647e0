package grafana

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/mcchaos/mcchaos/collect/results"
)

// fakeProm answers every range query with one series of three points and
// records the queries.
type fakeProm struct {
	mu      sync.Mutex
	queries []string
}

func (f *fakeProm) QueryRange(_ context.Context, q string, r v1.Range, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	ss := &model.SampleStream{Metric: model.Metric{"server": "mc1", "result": "ok"}}
	for i := range 3 {
		ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(r.Start.Add(time.Duration(i) * r.Step).UnixNano()), Value: model.SampleValue(i)})
	}
	return model.Matrix{ss}, nil, nil, nil
}

// grafanaContract is an httptest Grafana that holds the recorded contract of
// the two calls collect makes: GET /api/dashboards/uid/<uid> and POST
// /api/snapshots. The response bodies are in testdata/ (the shapes of
// Grafana's HTTP API documentation; the dashboard is ours). It fails the
// test on any request that breaks the contract.
func grafanaContract(t *testing.T, auth string) (*httptest.Server, *[]map[string]any) {
	t.Helper()
	dash, err := os.ReadFile(filepath.Join("testdata", "get_dashboard_response.json"))
	if err != nil {
		t.Fatal(err)
	}
	created, err := os.ReadFile(filepath.Join("testdata", "create_snapshot_response.json"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var bodies []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != auth {
			t.Errorf("%s %s: Authorization %q, want %q", r.Method, r.URL.Path, got, auth)
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"Unauthorized"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/dashboards/uid/"+DefaultDashboardUID:
			w.Write(dash)
		case r.Method == http.MethodPost && r.URL.Path == "/api/snapshots":
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("snapshot Content-Type %q", ct)
			}
			b, _ := io.ReadAll(r.Body)
			var body map[string]any
			if err := json.Unmarshal(b, &body); err != nil {
				t.Errorf("snapshot body: %v", err)
			}
			mu.Lock()
			bodies = append(bodies, body)
			mu.Unlock()
			w.Write(created)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &bodies
}

func testRun() *results.Run {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ph := func(name string, a, b time.Duration) results.Phase {
		return results.Phase{Name: name, Start: t0.Add(a), End: t0.Add(b), WindowStart: t0.Add(a), WindowEnd: t0.Add(b)}
	}
	return &results.Run{RunID: "run1", Scenarios: []results.Scenario{
		{Name: "packet-loss-100-pct", Phases: []results.Phase{ph("stabilization", 0, 10*time.Second), ph("testing", 10*time.Second, 40*time.Second), ph("recovery", 40*time.Second, 55*time.Second)}},
		{Name: "latency-200ms-1s", Phases: []results.Phase{ph("stabilization", 60*time.Second, 70*time.Second)}},
	}}
}

func TestSnapshotsContract(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:secret"))
	for _, tc := range []struct {
		name string
		cfg  Config
		auth string
	}{
		{"token", Config{Token: "glsa_token"}, "Bearer glsa_token"},
		{"basic auth", Config{User: "admin", Password: "secret"}, basic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, bodies := grafanaContract(t, tc.auth)
			tc.cfg.URL = srv.URL
			dir := filepath.Join(t.TempDir(), "grafana")
			prom := &fakeProm{}
			snaps, warns := Snapshots(context.Background(), tc.cfg, prom, testRun(), dir)
			if len(warns) > 0 {
				t.Fatalf("warnings: %q", warns)
			}
			if len(snaps) != 2 || snaps[0].URL != "http://grafana.example/dashboard/snapshot/YYYYYYY" || snaps[0].Key != "YYYYYYY" {
				t.Fatalf("snapshots = %+v", snaps)
			}
			if len(*bodies) != 2 {
				t.Fatalf("%d snapshot requests, want 2", len(*bodies))
			}
			body := (*bodies)[0]
			if name, _ := body["name"].(string); name != "mcchaos run1 packet-loss-100-pct" {
				t.Errorf("name %q", name)
			}
			d, _ := body["dashboard"].(map[string]any)
			tr, _ := d["time"].(map[string]any)
			if tr["from"] != "2026-11-27T12:00:00Z" || tr["to"] != "2026-11-27T12:00:55Z" {
				t.Errorf("time range %v, want the scenario's", tr)
			}
			withData := 0
			for _, p := range allPanels(d["panels"].([]any)) {
				if _, ok := p["targets"]; !ok {
					continue
				}
				sd, ok := p["snapshotData"].([]any)
				if !ok || len(sd) == 0 {
					t.Errorf("panel %v: no snapshotData", p["title"])
					continue
				}
				withData++
				frame := sd[0].(map[string]any)
				fields := frame["fields"].([]any)
				if len(fields) != 2 || len(fields[0].(map[string]any)["values"].([]any)) != 3 {
					t.Errorf("panel %v: frame %v", p["title"], frame)
				}
			}
			if withData < 10 {
				t.Errorf("%d panels with data, want every panel with a query", withData)
			}
			for _, q := range prom.queries {
				if strings.Contains(q, "$") {
					t.Errorf("query with an unexpanded variable: %s", q)
				}
			}
			// The snapshot JSON is kept, importable without Prometheus.
			if _, err := os.Stat(filepath.Join(dir, "packet-loss-100-pct.json")); err != nil {
				t.Error(err)
			}
			if snaps[0].File != filepath.Join("grafana", "packet-loss-100-pct.json") {
				t.Errorf("file %q", snaps[0].File)
			}
		})
	}
}

// TestSnapshotsUnreachable: warnings, never an error, and one try only.
func TestSnapshotsUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	snaps, warns := Snapshots(context.Background(), Config{URL: "http://" + addr}, &fakeProm{}, testRun(), t.TempDir())
	if len(snaps) != 0 || len(warns) != 1 || !strings.Contains(warns[0], "unreachable") {
		t.Errorf("snaps %v warnings %q, want one 'unreachable' warning", snaps, warns)
	}
	// With the dashboard from a file, the JSON is still written and the
	// failed POST is one warning.
	dir := t.TempDir()
	cfg := Config{URL: "http://" + addr, DashboardFile: filepath.Join("..", "..", "deploy", "grafana", "dashboards", "memcache-client-perf.json")}
	snaps, warns = Snapshots(context.Background(), cfg, &fakeProm{}, testRun(), dir)
	if len(snaps) != 0 || len(warns) != 1 || !strings.Contains(warns[0], "not created") {
		t.Errorf("snaps %v warnings %q", snaps, warns)
	}
	if _, err := os.Stat(filepath.Join(dir, "packet-loss-100-pct.json")); err != nil {
		t.Error(err)
	}
}

// TestSnapshotsRejected: a Grafana that refuses the credentials is a
// warning naming the HTTP status.
func TestSnapshotsRejected(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"message":"invalid API key"}`))
	}))
	defer srv.Close()
	snaps, warns := Snapshots(context.Background(), Config{URL: srv.URL, Token: "wrong"}, &fakeProm{}, testRun(), t.TempDir())
	if len(snaps) != 0 || len(warns) != 1 || !strings.Contains(warns[0], "HTTP 401") {
		t.Errorf("snaps %v warnings %q, want one warning with HTTP 401", snaps, warns)
	}
}

func TestExpand(t *testing.T) {
	for in, want := range map[string]string{
		`rate(x{server=~"$server"}[$__rate_interval])`: `rate(x{server=~".*"}[4s])`,
		`increase(x[${__range}])`:                      `increase(x[55s])`,
		`sum(x)`:                                       `sum(x)`,
	} {
		if got := expand(in, 55*time.Second); got != want {
			t.Errorf("expand(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		// a password is replaced, the user and the rest are kept
		{"http://admin:s3cret@127.0.0.1:3000/grafana", "http://admin:xxxxx@127.0.0.1:3000/grafana"},
		// no credentials: unchanged
		{"http://127.0.0.1:3000", "http://127.0.0.1:3000"},
		// a URL that does not parse (bad port, bad escape) loses its userinfo
		{"http://admin:s3cret@host:port/%zz", "http://xxxxx@host:port/%zz"},
		{"admin:s3cret@host:3000%", "xxxxx@host:3000%"},
		// no scheme: parses as scheme "admin", opaque "s3cret@host:3000"
		{"admin:s3cret@host:3000", "xxxxx@host:3000"},
		// no scheme, no credentials: unchanged
		{"127.0.0.1:3000/x", "127.0.0.1:3000/x"},
	} {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestWarningsHideCredentials: whatever goes wrong, no warning prints the
// password of a -grafana-url with user:password (they reach report.md and
// the PR comment), and the credentials are still used.
func TestWarningsHideCredentials(t *testing.T) {
	const secret = "s3cret-Pa55"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	var gotAuth string
	rejecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"message":"invalid username or password"}`))
	}))
	defer rejecting.Close()
	dashFile := filepath.Join("..", "..", "deploy", "grafana", "dashboards", "memcache-client-perf.json")
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		// nothing listens: the dashboard GET fails
		{"unreachable", Config{URL: "http://admin:" + secret + "@" + down}},
		// nothing listens, dashboard from the file: the snapshot POST fails
		{"unreachable create", Config{URL: "http://admin:" + secret + "@" + down, DashboardFile: dashFile}},
		// Grafana refuses the credentials
		{"rejected", Config{URL: "http://admin:" + secret + "@" + strings.TrimPrefix(rejecting.URL, "http://")}},
		// the URL does not parse, or has no scheme
		{"bad URL", Config{URL: "http://admin:" + secret + "@host:port/%zz"}},
		{"no scheme", Config{URL: "admin:" + secret + "@127.0.0.1:3000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, warns := Snapshots(context.Background(), tc.cfg, &fakeProm{}, testRun(), t.TempDir())
			if len(warns) == 0 {
				t.Fatal("no warning")
			}
			for _, w := range warns {
				if strings.Contains(w, secret) {
					t.Errorf("warning prints the password: %s", w)
				}
			}
		})
	}
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+secret)); gotAuth != want {
		t.Errorf("Authorization %q, want the URL's credentials as basic auth", gotAuth)
	}
}
