// Package grafana makes Grafana snapshots of a run: one per scenario, over
// the scenario's time range, with the query results embedded in every panel
// (snapshotData) so the snapshot renders without Prometheus. It talks to
// Grafana through github.com/grafana/grafana-openapi-client-go.
//
// Snapshots are a convenience: a Grafana that cannot be reached gives
// warnings, never a failed run.
package grafana

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mcchaos/mcchaos/internal/atomicfile"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	goapi "github.com/grafana/grafana-openapi-client-go/client"
	"github.com/grafana/grafana-openapi-client-go/client/dashboards"
	"github.com/grafana/grafana-openapi-client-go/models"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/mcchaos/mcchaos/collect/results"
)

// Defaults of Config.
const (
	DefaultDashboardUID = "memcache-client-perf"
	DefaultTimeout      = 15 * time.Second
	// RateInterval replaces $__rate_interval: four 1 s scrapes.
	RateInterval = "4s"
	// MaxPoints bounds the points per embedded series.
	MaxPoints = 600
)

// Querier is the part of the Prometheus API the snapshots need.
type Querier interface {
	QueryRange(ctx context.Context, query string, r v1.Range, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error)
}

// Config says where Grafana is. The zero value of each field but URL means
// the documented default.
type Config struct {
	// URL is Grafana's base URL, e.g. http://127.0.0.1:3000; user:password
	// in it is used as basic auth.
	URL string
	// Token is a service account token (Authorization: Bearer). It wins
	// over basic auth.
	Token string
	// User and Password are basic auth credentials.
	User, Password string
	// DashboardUID is the dashboard to snapshot. If empty, DefaultDashboardUID.
	DashboardUID string
	// DashboardFile is read when Grafana does not serve the dashboard
	// (e.g. deploy/grafana/dashboards/memcache-client-perf.json). If
	// empty, there is no fallback.
	DashboardFile string
	// Timeout bounds each API call. If zero, DefaultTimeout.
	Timeout time.Duration
	// HTTPClient is used for the API calls. If nil, a default client.
	HTTPClient *http.Client
}

// Snapshot is one snapshot made.
type Snapshot struct {
	Scenario  string `json:"scenario"`
	URL       string `json:"url"`
	Key       string `json:"key"`
	DeleteURL string `json:"delete_url,omitempty"`
	// File is the snapshot's JSON (the request body, importable into any
	// Grafana), relative to the run directory.
	File string `json:"file"`
}

// ErrUnreachable wraps errors of talking to Grafana.
var ErrUnreachable = errors.New("grafana: unreachable")

// Snapshots makes one snapshot per scenario of run and writes each one's
// JSON to dir/<scenario>.json. Failures become warnings; after a failure to
// reach Grafana at all, the remaining scenarios are not tried.
func Snapshots(ctx context.Context, cfg Config, q Querier, run *results.Run, dir string) ([]Snapshot, []string) {
	api, err := newAPI(cfg)
	if err != nil {
		return nil, []string{"Grafana snapshots skipped: " + err.Error()}
	}
	dash, err := dashboard(ctx, api, cfg)
	if err != nil {
		return nil, []string{fmt.Sprintf("Grafana snapshots skipped: %v", err)}
	}
	var snaps []Snapshot
	var warns []string
	for _, sc := range run.Scenarios {
		if len(sc.Phases) == 0 {
			continue
		}
		from, to := sc.Phases[0].Start, sc.Phases[len(sc.Phases)-1].WindowEnd
		body, err := Build(ctx, q, dash, fmt.Sprintf("mcchaos %s %s", run.RunID, sc.Name), from, to)
		if err != nil {
			warns = append(warns, fmt.Sprintf("Grafana snapshot of %s: %v", sc.Name, err))
			continue
		}
		b, err := json.MarshalIndent(body, "", "  ")
		if err != nil {
			warns = append(warns, fmt.Sprintf("Grafana snapshot of %s: %v", sc.Name, err))
			continue
		}
		file := filepath.Join(dir, sc.Name+".json")
		if err := atomicfile.Write(file, append(b, '\n')); err != nil {
			warns = append(warns, err.Error())
			continue
		}
		s := Snapshot{Scenario: sc.Name, File: filepath.Join(filepath.Base(dir), sc.Name+".json")}
		resp, err := create(ctx, api, cfg, body)
		if err != nil {
			warns = append(warns, fmt.Sprintf("Grafana snapshot of %s not created (its JSON is in %s): %v", sc.Name, s.File, err))
			if errors.Is(err, ErrUnreachable) {
				break
			}
			continue
		}
		s.URL, s.Key, s.DeleteURL = resp.URL, resp.Key, resp.DeleteURL
		snaps = append(snaps, s)
	}
	return snaps, warns
}

// Redact returns raw for printing: a password in it is replaced by "xxxxx"
// (url.URL.Redacted). When raw is not a URL with a host (it does not parse,
// or lacks the scheme, as in "admin:pw@host:3000"), everything before the
// last '@' of what would be its authority is replaced instead. Every message
// of this package names Grafana's URL through Redact, because warnings reach
// report.md and so the PR comment (issue 12).
func Redact(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Redacted()
	}
	rest, scheme := raw, ""
	if i := strings.Index(raw, "://"); i >= 0 {
		scheme, rest = raw[:i+3], raw[i+3:]
	}
	auth, path := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		auth, path = rest[:i], rest[i:]
	}
	if i := strings.LastIndex(auth, "@"); i >= 0 {
		auth = "xxxxx" + auth[i:]
	}
	return scheme + auth + path
}

func newAPI(cfg Config) (*goapi.GrafanaHTTPAPI, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("bad -grafana-url %q: want http(s)://host:port", Redact(cfg.URL))
	}
	tc := &goapi.TransportConfig{
		Host:     u.Host,
		BasePath: strings.TrimSuffix(u.Path, "/") + "/api",
		Schemes:  []string{u.Scheme},
		APIKey:   cfg.Token,
		Client:   cmp.Or(cfg.HTTPClient, &http.Client{}),
	}
	if cfg.Token == "" {
		switch {
		case cfg.User != "":
			tc.BasicAuth = url.UserPassword(cfg.User, cfg.Password)
		case u.User != nil:
			tc.BasicAuth = u.User
		}
	}
	return goapi.NewHTTPClientWithConfig(nil, tc), nil
}

func timeout(cfg Config) time.Duration { return cmp.Or(cfg.Timeout, DefaultTimeout) }

// dashboard returns the dashboard JSON model: from Grafana by uid, else from
// the fallback file.
func dashboard(ctx context.Context, api *goapi.GrafanaHTTPAPI, cfg Config) (map[string]any, error) {
	uid := cmp.Or(cfg.DashboardUID, DefaultDashboardUID)
	cctx, cancel := context.WithTimeout(ctx, timeout(cfg))
	defer cancel()
	resp, err := api.Dashboards.GetDashboardByUIDWithParams(dashboards.NewGetDashboardByUIDParamsWithContext(cctx).WithUID(uid))
	if err == nil {
		if d, ok := resp.Payload.Dashboard.(map[string]any); ok {
			return d, nil
		}
		err = fmt.Errorf("dashboard %s: unexpected payload %T", uid, resp.Payload.Dashboard)
	}
	var apiErr interface{ Code() int }
	if errors.As(err, &apiErr) {
		err = fmt.Errorf("get dashboard %s from %s: HTTP %d", uid, Redact(cfg.URL), apiErr.Code())
	} else {
		err = fmt.Errorf("%w: get dashboard %s from %s: %v", ErrUnreachable, uid, Redact(cfg.URL), err)
	}
	if cfg.DashboardFile == "" {
		return nil, err
	}
	b, ferr := os.ReadFile(cfg.DashboardFile)
	if ferr != nil {
		return nil, fmt.Errorf("%w; fallback: %v", err, ferr)
	}
	var d map[string]any
	if ferr := json.Unmarshal(b, &d); ferr != nil {
		return nil, fmt.Errorf("dashboard %s: %v", cfg.DashboardFile, ferr)
	}
	return d, nil
}

func create(ctx context.Context, api *goapi.GrafanaHTTPAPI, cfg Config, body *models.CreateDashboardSnapshotCommand) (*models.CreateDashboardSnapshotOKBody, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout(cfg))
	defer cancel()
	resp, err := api.Dashboards.CreateDashboardSnapshotWithParams(dashboards.NewCreateDashboardSnapshotParamsWithContext(cctx).WithBody(body))
	if err != nil {
		var apiErr interface{ Code() int }
		if errors.As(err, &apiErr) {
			return nil, fmt.Errorf("create snapshot: HTTP %d: %v", apiErr.Code(), err)
		}
		return nil, fmt.Errorf("%w: create snapshot at %s: %v", ErrUnreachable, Redact(cfg.URL), err)
	}
	if resp.Payload == nil {
		return nil, errors.New("create snapshot: empty response")
	}
	return resp.Payload, nil
}

// Build returns the snapshot command for dash over [from, to]: a copy of
// the dashboard whose panels carry their query results as snapshotData.
func Build(ctx context.Context, q Querier, dash map[string]any, name string, from, to time.Time) (*models.CreateDashboardSnapshotCommand, error) {
	var d map[string]any
	b, err := json.Marshal(dash)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &d); err != nil { // deep copy
		return nil, err
	}
	d["time"] = map[string]any{"from": from.UTC().Format(time.RFC3339Nano), "to": to.UTC().Format(time.RFC3339Nano)}
	d["refresh"] = ""
	d["title"] = name
	delete(d, "id")
	step := max(time.Second, to.Sub(from)/MaxPoints).Truncate(time.Second)
	panels, _ := d["panels"].([]any)
	for _, p := range allPanels(panels) {
		targets, _ := p["targets"].([]any)
		var frames []any
		for _, t := range targets {
			tm, _ := t.(map[string]any)
			expr, _ := tm["expr"].(string)
			if expr == "" {
				continue
			}
			fs, err := query(ctx, q, tm, expand(expr, to.Sub(from)), from, to, step)
			if err != nil {
				return nil, err
			}
			frames = append(frames, fs...)
		}
		if len(targets) > 0 {
			if frames == nil {
				frames = []any{}
			}
			p["snapshotData"] = frames
		}
	}
	return &models.CreateDashboardSnapshotCommand{Dashboard: d, Name: name}, nil
}

// allPanels lists the panels, including those nested in collapsed rows.
func allPanels(ps []any) []map[string]any {
	var out []map[string]any
	for _, p := range ps {
		pm, ok := p.(map[string]any)
		if !ok {
			continue
		}
		out = append(out, pm)
		if sub, ok := pm["panels"].([]any); ok {
			out = append(out, allPanels(sub)...)
		}
	}
	return out
}

var varRE = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// expand replaces Grafana's variables: interval variables by fixed values,
// dashboard variables by their "All" value.
func expand(expr string, rng time.Duration) string {
	return varRE.ReplaceAllStringFunc(expr, func(v string) string {
		name := strings.Trim(v, "${}")
		switch name {
		case "__rate_interval":
			return RateInterval
		case "__interval", "__interval_ms":
			if name == "__interval_ms" {
				return "1000"
			}
			return "1s"
		case "__range":
			return fmt.Sprintf("%ds", int(rng.Seconds()))
		}
		return ".*"
	})
}

var legendRE = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

func query(ctx context.Context, q Querier, target map[string]any, expr string, from, to time.Time, step time.Duration) ([]any, error) {
	v, _, _, err := q.QueryRange(ctx, expr, v1.Range{Start: from, End: to, Step: step})
	if err != nil {
		return nil, fmt.Errorf("query %s: %v", expr, err)
	}
	mat, _ := v.(model.Matrix)
	refID, _ := target["refId"].(string)
	legend, _ := target["legendFormat"].(string)
	var frames []any
	for _, ss := range mat {
		ts := make([]int64, len(ss.Values))
		vs := make([]any, len(ss.Values))
		for i, p := range ss.Values {
			ts[i] = int64(p.Timestamp)
			f := float64(p.Value)
			if f != f { // NaN is not JSON
				vs[i] = nil
			} else {
				vs[i] = f
			}
		}
		labels := map[string]string{}
		for k, lv := range ss.Metric {
			labels[string(k)] = string(lv)
		}
		display := ss.Metric.String()
		if legend != "" && legend != "__auto" {
			display = legendRE.ReplaceAllStringFunc(legend, func(m string) string {
				return labels[legendRE.FindStringSubmatch(m)[1]]
			})
		}
		frames = append(frames, map[string]any{
			"refId": refID,
			"name":  display,
			"fields": []any{
				map[string]any{"name": "Time", "type": "time", "config": map[string]any{}, "values": ts},
				map[string]any{"name": "Value", "type": "number", "labels": labels,
					"config": map[string]any{"displayNameFromDS": display}, "values": vs},
			},
		})
	}
	return frames, nil
}
