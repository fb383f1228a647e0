package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/internal/stack/stacktest"
)

const repoRoot = ".."

// tool returns the path of an external program the test needs. A missing
// one skips the test, naming it and how to install it, unless
// MCCHAOS_REQUIRE_STACK=1 (make test), when it fails the test.
func tool(t *testing.T, name, install string, extraDirs ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range extraDirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found in PATH: %s", name, install)
	if os.Getenv(stacktest.RequireEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func run(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestGrafanaProvisioning(t *testing.T) {
	var ds struct {
		Datasources []struct {
			UID, Type, URL string
			IsDefault      bool `yaml:"isDefault"`
		}
	}
	readYAML(t, "grafana/provisioning/datasources/prometheus.yml", &ds)
	if len(ds.Datasources) != 1 {
		t.Fatalf("%d data sources, want 1", len(ds.Datasources))
	}
	if got := ds.Datasources[0]; got.UID != DatasourceUID || got.Type != "prometheus" || got.URL != "http://prometheus:9090" || !got.IsDefault {
		t.Errorf("data source %+v, want the default prometheus with uid %q at http://prometheus:9090", got, DatasourceUID)
	}
	var dash struct {
		Providers []struct {
			Type    string
			Options struct{ Path string }
		}
	}
	readYAML(t, "grafana/provisioning/dashboards/mcchaos.yml", &dash)
	if len(dash.Providers) != 1 || dash.Providers[0].Type != "file" || dash.Providers[0].Options.Path != "/var/lib/grafana/dashboards" {
		t.Errorf("dashboard providers %+v, want one file provider of /var/lib/grafana/dashboards", dash.Providers)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestPrometheusConfigs runs promtool on every Prometheus config in deploy/
// and checks the scrape contract: jobs loadgen and scenariod, every second.
func TestPrometheusConfigs(t *testing.T) {
	configs, err := filepath.Glob("prometheus/*.yml")
	if err != nil || len(configs) == 0 {
		t.Fatalf("no Prometheus configs in deploy/prometheus: %v", err)
	}
	promtool := tool(t, "promtool", "run `make deps` (or: apt-get install prometheus)")
	for _, c := range configs {
		if out, err := run(t, ".", nil, promtool, "check", "config", c); err != nil {
			t.Errorf("promtool check config %s: %v\n%s", c, err, out)
		}
		var cfg struct {
			Global struct {
				ScrapeInterval string `yaml:"scrape_interval"`
			}
			ScrapeConfigs []struct {
				JobName string `yaml:"job_name"`
			} `yaml:"scrape_configs"`
		}
		readYAML(t, c, &cfg)
		var jobs []string
		for _, sc := range cfg.ScrapeConfigs {
			jobs = append(jobs, sc.JobName)
		}
		sort.Strings(jobs)
		if cfg.Global.ScrapeInterval != "1s" || !slices.Equal(jobs, []string{"loadgen", "scenariod"}) {
			t.Errorf("%s: scrape_interval %q, jobs %q; want 1s and exactly loadgen, scenariod", c, cfg.Global.ScrapeInterval, jobs)
		}
	}
}

type toxiproxyProxy struct {
	Name     string `json:"name"`
	Listen   string `json:"listen"`
	Upstream string `json:"upstream"`
	Enabled  bool   `json:"enabled"`
}

// TestToxiproxyConfig checks the proxies of deploy/toxiproxy.json and that
// the real toxiproxy server creates them from it at start.
func TestToxiproxyConfig(t *testing.T) {
	b, err := os.ReadFile("toxiproxy.json")
	if err != nil {
		t.Fatal(err)
	}
	var proxies []toxiproxyProxy
	if err := json.Unmarshal(b, &proxies); err != nil {
		t.Fatal(err)
	}
	if len(proxies) != 3 {
		t.Fatalf("%d proxies, want 3", len(proxies))
	}
	for i, p := range proxies {
		n := i + 1
		want := toxiproxyProxy{fmt.Sprintf("mc%d", n), fmt.Sprintf("0.0.0.0:%d", 21210+n), fmt.Sprintf("memcached%d:11211", n), true}
		if p != want {
			t.Errorf("proxy %d = %+v, want %+v", n, p, want)
		}
	}

	// The same proxies on free loopback ports, served by the real server.
	bin, err := stack.ToxiproxyBinary(context.Background(), "")
	var missing *stack.MissingBinaryError
	if errors.As(err, &missing) && os.Getenv(stacktest.RequireEnv) != "1" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := range proxies {
		port, err := stack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		proxies[i].Listen = "127.0.0.1:" + strconv.Itoa(port)
	}
	cfg := filepath.Join(t.TempDir(), "toxiproxy.json")
	b, _ = json.Marshal(proxies)
	if err := os.WriteFile(cfg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	apiPort, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-host=127.0.0.1", "-port="+strconv.Itoa(apiPort), "-config="+cfg)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	var got map[string]toxiproxyProxy
	deadline := time.Now().Add(10 * time.Second)
	for {
		got = nil
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/proxies", apiPort))
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("toxiproxy API never answered: %v\n%s", err, log.String())
		}
		time.Sleep(50 * time.Millisecond) // poll interval, not a wait for state
	}
	for _, p := range proxies {
		if g := got[p.Name]; g != p {
			t.Errorf("toxiproxy created %s as %+v, want %+v\n%s", p.Name, g, p, log.String())
		}
	}
}

// composeFile is what the checks read from `docker-compose config`.
type composeFile struct {
	Services map[string]struct {
		Image       string
		Build       any
		Profiles    []string
		Ports       []string
		ExtraHosts  []string `yaml:"extra_hosts"`
		Command     []string
		Healthcheck *struct{ Test []string }
		Volumes     []string
		NetworkMode string   `yaml:"network_mode"`
		CapAdd      []string `yaml:"cap_add"`
	}
}

// TestCompose has docker-compose (v1, offline) validate the compose file
// with and without the apps and netem profiles, then checks the contract
// on its normalized output: images pinned by digest, host ports on
// 127.0.0.1 (a range for the arms' proxies), a healthcheck wherever `up
// --wait` has to wait, Prometheus reaching the host, the netem helper in
// toxiproxy's network namespace with NET_ADMIN.
func TestCompose(t *testing.T) {
	dc := tool(t, "docker-compose", "apt-get install docker-compose")
	for _, args := range [][]string{
		{"config", "-q"},
		{"--profile", "apps", "config", "-q"},
		{"--profile", "netem", "config", "-q"},
	} {
		if out, err := run(t, repoRoot, nil, dc, args...); err != nil {
			t.Errorf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, promCfg := range []string{"", "prometheus-apps.yml"} {
		out, err := run(t, repoRoot, []string{"MCCHAOS_PROMETHEUS_CONFIG=" + promCfg}, dc, "--profile", "apps", "--profile", "netem", "config")
		if err != nil {
			t.Fatalf("docker-compose config: %v\n%s", err, out)
		}
		var cf composeFile
		if err := yaml.Unmarshal([]byte(out), &cf); err != nil {
			t.Fatalf("docker-compose config output: %v", err)
		}
		checkCompose(t, cf, promCfg)
	}
}

var pinnedImage = regexp.MustCompile(`^[^@\s]+:[^@\s]+@sha256:[0-9a-f]{64}$`)

func checkCompose(t *testing.T, cf composeFile, promCfg string) {
	t.Helper()
	want := []string{"grafana", "loadgen", "memcached1", "memcached2", "memcached3", "netem", "prometheus", "scenariod", "toxiproxy"}
	var got []string
	for name := range cf.Services {
		got = append(got, name)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("services %q, want %q", got, want)
	}
	for name, s := range cf.Services {
		if s.Build == nil && !pinnedImage.MatchString(s.Image) {
			t.Errorf("%s: image %q is not pinned as name:tag@sha256:digest", name, s.Image)
		}
		if s.Build != nil && !slices.Equal(s.Profiles, []string{"apps"}) && !slices.Equal(s.Profiles, []string{"netem"}) {
			t.Errorf("%s: built here but not only in the apps or netem profile: %q", name, s.Profiles)
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %q is not bound to 127.0.0.1", name, p)
			}
		}
		if name != "scenariod" && (s.Healthcheck == nil || len(s.Healthcheck.Test) == 0) {
			t.Errorf("%s: no healthcheck, so `up --wait` cannot wait for it", name)
		}
	}
	toxiproxyPorts := []string{"127.0.0.1:8474:8474/tcp"}
	for p := 21211; p <= 21299; p++ {
		toxiproxyPorts = append(toxiproxyPorts, fmt.Sprintf("127.0.0.1:%d:%d/tcp", p, p))
	}
	wantPorts := map[string][]string{
		"memcached1": {"127.0.0.1:11211:11211/tcp"},
		"memcached2": {"127.0.0.1:11212:11211/tcp"},
		"memcached3": {"127.0.0.1:11213:11211/tcp"},
		"toxiproxy":  toxiproxyPorts,
		"prometheus": {"127.0.0.1:9091:9090/tcp"},
		"grafana":    {"127.0.0.1:3000:3000/tcp"},
		"loadgen":    {"127.0.0.1:9090:9090/tcp"},
		"scenariod":  {"127.0.0.1:9092:9092/tcp"},
	}
	for name, ports := range wantPorts {
		if got := cf.Services[name].Ports; !slices.Equal(got, ports) {
			t.Errorf("%s: ports %q, want %q", name, got, ports)
		}
	}
	if n := cf.Services["netem"]; n.NetworkMode != "service:toxiproxy" || !slices.Equal(n.CapAdd, []string{"NET_ADMIN"}) {
		t.Errorf("netem: network_mode %q, cap_add %q; want service:toxiproxy, NET_ADMIN", n.NetworkMode, n.CapAdd)
	}
	prom := cf.Services["prometheus"]
	if !slices.Contains(prom.ExtraHosts, "host.docker.internal:host-gateway") {
		t.Errorf("prometheus: extra_hosts %q lacks host.docker.internal:host-gateway", prom.ExtraHosts)
	}
	if promCfg == "" {
		promCfg = "prometheus.yml"
	}
	if !slices.Contains(prom.Command, "--config.file=/etc/mcchaos/"+promCfg) {
		t.Errorf("prometheus: command %q does not load %s", prom.Command, promCfg)
	}
	if _, err := os.Stat(filepath.Join("prometheus", promCfg)); err != nil {
		t.Error(err)
	}
}

// TestActionlint lints the GitHub workflows.
func TestActionlint(t *testing.T) {
	gopath, _ := run(t, ".", nil, "go", "env", "GOPATH")
	bin := tool(t, "actionlint", "go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.7 (or make deps)", filepath.Join(strings.TrimSpace(gopath), "bin"))
	for _, wf := range []string{"ci.yml", "bench.yml", "bench-command.yml", "bench-report.yml"} {
		if _, err := os.Stat(filepath.Join(repoRoot, ".github", "workflows", wf)); err != nil {
			t.Error(err)
		}
	}
	if out, err := run(t, repoRoot, nil, bin, "-no-color"); err != nil {
		t.Errorf("actionlint: %v\n%s", err, out)
	}
}

var usesRE = regexp.MustCompile(`(?m)^\s*(?:-\s*)?uses:\s*(\S+)`)

// TestWorkflows checks what actionlint does not: every action is pinned to a
// full commit SHA, and every workflow starts from no or read-only token
// permissions (jobs widen them one by one).
func TestWorkflows(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, ".github", "workflows", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows: %v", err)
	}
	pinned := regexp.MustCompile(`^[\w.-]+/[\w./-]+@[0-9a-f]{40}$`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range usesRE.FindAllStringSubmatch(string(b), -1) {
			if !pinned.MatchString(m[1]) {
				t.Errorf("%s: %s is not pinned to a commit SHA", filepath.Base(f), m[1])
			}
		}
		var wf struct {
			Permissions any `yaml:"permissions"`
		}
		if err := yaml.Unmarshal(b, &wf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		switch p := wf.Permissions.(type) {
		case map[string]any:
			for scope, level := range p {
				if level != "read" && level != "none" {
					t.Errorf("%s: workflow-wide permission %s: %v; widen it in the job that needs it", filepath.Base(f), scope, level)
				}
			}
		default:
			t.Errorf("%s: no workflow-wide permissions block (the default token may write)", filepath.Base(f))
		}
	}
}

// TestWorkflowScripts runs the tests of the workflow scripts in
// .github/scripts (the PR comment and the /bench command) with Node.js
// (GitHub's runners have it; .ci/run installs it).
func TestWorkflowScripts(t *testing.T) {
	node := tool(t, "node", "the tests of .github/scripts need Node.js 18 or later (apt-get install nodejs)")
	// The files, not the directory: node 22 reads --test arguments as globs.
	tests, err := filepath.Glob(filepath.Join(repoRoot, ".github", "scripts", "*.test.js"))
	if err != nil || len(tests) < 2 {
		t.Fatalf("tests of .github/scripts: %q, %v; want bench-comment and bench-command", tests, err)
	}
	for i, f := range tests {
		tests[i], _ = filepath.Rel(repoRoot, f)
	}
	if out, err := run(t, repoRoot, nil, node, append([]string{"--test"}, tests...)...); err != nil {
		t.Errorf("node --test %s: %v\n%s", strings.Join(tests, " "), err, out)
	}
}
