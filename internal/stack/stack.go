// Package stack runs the local stack of mcchaos: three memcached servers,
// the toxiproxy server in front of them and Prometheus, as child processes
// bound to 127.0.0.1. It waits until each is healthy, and stops all of them
// on Stop, whatever state they are in.
//
// The same Stack value also describes a stack someone else runs (Attach):
// the compose stack after `docker compose up --wait`, or services already
// running in CI.
package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mcchaos/mcchaos/internal/mcprobe"
	"github.com/mcchaos/mcchaos/internal/plan"
	"github.com/mcchaos/mcchaos/internal/promwait"
	"github.com/mcchaos/mcchaos/internal/toxiproxy"
)

// Default ports of DESIGN.md.
const (
	DefaultMemcachedPort  = 11211
	DefaultProxyPort      = 21211
	DefaultToxiproxyPort  = 8474
	DefaultPrometheusPort = 9091
	DefaultServers        = 3
)

// DefaultStartTimeout bounds how long Start waits for every process to be healthy.
const DefaultStartTimeout = 30 * time.Second

// Ports are the loopback ports of the local stack.
type Ports struct {
	Memcached  []int // one per server
	Proxy      []int // toxiproxy listen port per server
	Toxiproxy  int   // toxiproxy API
	Prometheus int
}

// DefaultPorts returns DESIGN.md's ports for n servers.
func DefaultPorts(n int) Ports {
	p := Ports{Toxiproxy: DefaultToxiproxyPort, Prometheus: DefaultPrometheusPort}
	for i := range n {
		p.Memcached = append(p.Memcached, DefaultMemcachedPort+i)
		p.Proxy = append(p.Proxy, DefaultProxyPort+i)
	}
	return p
}

// FreePorts returns free loopback ports for n servers, for tests and for
// running beside another stack.
func FreePorts(n int) (Ports, error) {
	all, err := FreePortList(2*n + 2)
	if err != nil {
		return Ports{}, err
	}
	return Ports{Memcached: all[:n], Proxy: all[n : 2*n], Toxiproxy: all[2*n], Prometheus: all[2*n+1]}, nil
}

// FreePortList returns n distinct free TCP ports on 127.0.0.1: each is
// held until all are found, so none is handed out twice. They come from
// below the kernel's ephemeral range when there is room: a port chosen
// now is bound later (after the stack starts), and in between any
// outgoing connection (the arms' thousands of them, Prometheus's scrapes)
// may take a just-released ephemeral port as its source, so the listener
// fails with "address already in use".
func FreePortList(n int) ([]int, error) {
	given.Lock()
	defer given.Unlock()
	ports := make([]int, 0, n)
	lo, hi := portRange()
	for tries := 0; len(ports) < n && tries < 50*n; tries++ {
		port := lo + rand.IntN(hi-lo)
		if slices.Contains(ports, port) || given.ports[port] || wellKnown(port) || !reserve(port) {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		defer l.Close()
		ports = append(ports, port)
	}
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("stack: find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, p := range ports {
		given.ports[p] = true
	}
	return ports, nil
}

// wellKnown reports whether port is near a fixed port of DESIGN.md's
// stack or the compose file (memcached 11211…, proxies 21211…, compose
// 31211…, Prometheus 9090…, toxiproxy, Grafana): a stack started on the
// defaults (make bench) takes them after FreePortList has chosen.
func wellKnown(port int) bool {
	for _, base := range []int{DefaultMemcachedPort, DefaultProxyPort, DefaultMemcachedPort + 20000, 9090, DefaultToxiproxyPort, 3000} {
		if port >= base && port < base+100 {
			return true
		}
	}
	return false
}

// reserve takes a host-wide claim on port for the life of this process:
// an flock on <registry>/ports/<port>, which FreePortList in every other
// process (another run on -free-ports) respects. A port is chosen long
// before it is bound (the arms' proxies, after the stack started), and
// without the claim two runs picked the same one. Where the registry
// cannot be written, every port is free to take.
func reserve(port int) bool {
	dir := filepath.Join(DefaultRegistryDir(), "ports")
	if err := sharedDir(dir); err != nil {
		return true
	}
	f, err := openShared(filepath.Join(dir, strconv.Itoa(port)))
	if err != nil {
		return true
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return false
	}
	reserved = append(reserved, f) // held until the process exits
	return true
}

// reserved are the port claims this process holds (under given's lock).
var reserved []*os.File

// given are the ports FreePortList handed out in this process: a later
// call (the arms' ports after the stack's) must not hand one out again,
// although nothing may listen on it yet.
var given = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// portRange is where FreePortList looks first: from 10000 to the start of
// the ephemeral range (net.ipv4.ip_local_port_range), or [10000, 32768)
// when that cannot be read.
func portRange() (lo, hi int) {
	lo, hi = 10000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if start, err := strconv.Atoi(f[0]); err == nil {
				hi = start
			}
		}
	}
	if hi-lo < 1000 {
		lo, hi = 1024, max(hi, 2048)
	}
	return lo, hi
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listened on a moment ago.
func FreePort() (int, error) {
	ports, err := FreePortList(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// Config says what to start. The zero value starts DESIGN.md's stack in a
// temporary directory, without scrape targets.
type Config struct {
	// Dir holds logs, the generated Prometheus config and its data, and
	// the memcached pid files. If empty, a temporary directory is made and
	// removed by Stop.
	Dir string
	// Servers is the number of memcached servers. If zero, DefaultServers.
	Servers int
	// Ports are the ports to bind. If Memcached is nil, DefaultPorts.
	Ports Ports
	// ScrapeTargets maps a Prometheus job name ("loadgen", "scenariod") to
	// the host:port Prometheus scrapes every second.
	ScrapeTargets map[string]string
	// Targets are more scrape targets, each with its own labels (the
	// arms of a run: job "loadgen", labels side and arm).
	Targets []Target
	// Services are the services to start. If zero, All. Prometheus alone
	// serves the data of an earlier run to query it again.
	Services Service
	// PrometheusData is Prometheus' storage directory. If empty,
	// <Dir>/prometheus-data.
	PrometheusData string
	// MemcachedBin, ToxiproxyBin, PrometheusBin override the binaries. If
	// empty, memcached and prometheus are looked up in PATH; toxiproxy in
	// PATH as toxiproxy-server, then in <repo>/bin, and else built there
	// from the Go module.
	MemcachedBin, ToxiproxyBin, PrometheusBin string
	// StartTimeout bounds the health waits. If zero, DefaultStartTimeout.
	StartTimeout time.Duration
	// Log receives one line per started process. If nil, nothing is printed.
	Log io.Writer
}

// Server is one memcached server and its proxy.
type Server struct {
	Name      string // "mc1": the toxiproxy proxy name and the metrics' server label
	Addr      string // memcached itself, host:port
	ProxyAddr string // where clients dial: the proxy's listen address
	Upstream  string // the proxy's upstream as toxiproxy sees it
}

// Stack is a running stack. Its fields are read-only after Start.
type Stack struct {
	Servers       []Server
	ToxiproxyURL  string
	PrometheusURL string // empty without Prometheus
	Dir           string

	mu      sync.Mutex
	procs   []*Process
	tempDir bool
	log     io.Writer
}

// MissingBinaryError says that a program the stack needs is not installed.
type MissingBinaryError struct {
	Name string // "memcached"
	Fix  string // how to install it
}

func (e *MissingBinaryError) Error() string {
	return fmt.Sprintf("%s not found in PATH: %s", e.Name, e.Fix)
}

// PortInUseError says that a port the stack must bind is taken.
type PortInUseError struct {
	Port int
	What string // "memcached mc1"
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %d (for %s) is in use on 127.0.0.1: stop what listens there (ss -ltnp 'sport = :%d') or choose other ports", e.Port, e.What, e.Port)
}

// Start starts the local stack and waits until every part is healthy. On
// error, whatever was started is stopped again. It composes one starter
// per service (starters): find the binary, check the ports, spawn, wait
// until healthy.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	if cfg.Services == 0 {
		cfg.Services = All
	}
	if cfg.Servers == 0 {
		cfg.Servers = DefaultServers
	}
	def := DefaultPorts(cfg.Servers)
	if cfg.Services.has(Memcached|Toxiproxy) && cfg.Ports.Memcached == nil {
		cfg.Ports = def
	}
	if cfg.Ports.Prometheus == 0 {
		cfg.Ports.Prometheus = def.Prometheus
	}
	if cfg.Services.has(Memcached|Toxiproxy) && (len(cfg.Ports.Memcached) != cfg.Servers || len(cfg.Ports.Proxy) != cfg.Servers) {
		return nil, fmt.Errorf("stack: %d servers need %d memcached and proxy ports, got %d and %d",
			cfg.Servers, cfg.Servers, len(cfg.Ports.Memcached), len(cfg.Ports.Proxy))
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.PrometheusData == "" && cfg.Dir != "" {
		cfg.PrometheusData = filepath.Join(cfg.Dir, "prometheus-data")
	}
	var run []starter
	for _, st := range starters {
		if cfg.Services.has(st.service) {
			run = append(run, st)
		}
	}
	bins := make([]string, len(run))
	for i, st := range run {
		if bins[i], err = st.binary(ctx, cfg); err != nil {
			return nil, err
		}
	}
	for _, st := range run {
		for _, u := range st.ports(cfg) {
			if err := checkPort(u.port, u.what); err != nil {
				return nil, err
			}
		}
	}

	s := &Stack{Dir: cfg.Dir, log: cfg.Log}
	if s.log == nil {
		s.log = io.Discard
	}
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "mcchaos-stack-"); err != nil {
			return nil, fmt.Errorf("stack: %w", err)
		}
		s.tempDir = true
		if cfg.PrometheusData == "" {
			cfg.PrometheusData = filepath.Join(s.Dir, "prometheus-data")
		}
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	// Spawn everything, then wait for each: the processes start in parallel.
	for i, st := range run {
		if err := st.spawn(s, cfg, bins[i]); err != nil {
			return nil, err
		}
	}
	for _, st := range run {
		if err := st.ready(ctx, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Service is one kind of process of the local stack.
type Service int

// The services; All is every one.
const (
	Memcached Service = 1 << iota
	Toxiproxy
	Prometheus
	All = Memcached | Toxiproxy | Prometheus
)

func (s Service) has(o Service) bool { return s&o != 0 }

// portUse is a port a service binds and what for (for the error).
type portUse struct {
	port int
	what string
}

// starter starts one service: its binary, the ports it binds, how to
// spawn it and how to know it is healthy.
type starter struct {
	service Service
	binary  func(ctx context.Context, cfg Config) (string, error)
	ports   func(cfg Config) []portUse
	spawn   func(s *Stack, cfg Config, bin string) error
	ready   func(ctx context.Context, s *Stack) error
}

// starters are the services in the order they start.
var starters = []starter{
	{
		service: Memcached,
		binary: func(_ context.Context, cfg Config) (string, error) {
			return lookPath(cfg.MemcachedBin, "memcached", "run `make deps` (or: apt-get install memcached)")
		},
		ports: func(cfg Config) []portUse {
			var us []portUse
			for i, p := range cfg.Ports.Memcached {
				us = append(us, portUse{p, fmt.Sprintf("memcached mc%d", i+1)})
			}
			return us
		},
		spawn: func(s *Stack, cfg Config, bin string) error {
			for i := range cfg.Servers {
				srv := Server{
					Name:      fmt.Sprintf("mc%d", i+1),
					Addr:      hostPort(cfg.Ports.Memcached[i]),
					ProxyAddr: hostPort(cfg.Ports.Proxy[i]),
				}
				srv.Upstream = srv.Addr
				s.Servers = append(s.Servers, srv)
				args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(cfg.Ports.Memcached[i]), "-U", "0", "-m", "64", "-c", "4096", "-t", "2"}
				if os.Geteuid() == 0 {
					args = append(args, "-u", "root")
				}
				p, err := s.spawn(srv.Name, bin, args)
				if err != nil {
					return err
				}
				if err := writeProcFiles(s.Dir, srv.Name, p); err != nil {
					return err
				}
			}
			return nil
		},
		ready: func(ctx context.Context, s *Stack) error {
			for _, srv := range s.Servers {
				// Its stats pid proves the answer came from our child.
				own := s.proc(srv.Name).Pid()
				if err := s.waitHealthy(ctx, srv.Name, func() error {
					pid, err := mcprobe.Pid(srv.Addr, time.Second)
					if err == nil && pid != own {
						return fmt.Errorf("%s answers as memcached pid %d, ours is pid %d: %w", srv.Addr, pid, own, errNotOurs)
					}
					return err
				}); err != nil {
					return err
				}
			}
			return nil
		},
	},
	{
		service: Toxiproxy,
		binary:  func(ctx context.Context, cfg Config) (string, error) { return ToxiproxyBinary(ctx, cfg.ToxiproxyBin) },
		ports: func(cfg Config) []portUse {
			us := []portUse{{cfg.Ports.Toxiproxy, "the toxiproxy API"}}
			for i, p := range cfg.Ports.Proxy {
				us = append(us, portUse{p, fmt.Sprintf("toxiproxy proxy mc%d", i+1)})
			}
			return us
		},
		spawn: func(s *Stack, cfg Config, bin string) error {
			s.ToxiproxyURL = "http://" + hostPort(cfg.Ports.Toxiproxy)
			_, err := s.spawn("toxiproxy", bin, []string{"-host", "127.0.0.1", "-port", strconv.Itoa(cfg.Ports.Toxiproxy)})
			return err
		},
		ready: func(ctx context.Context, s *Stack) error {
			if err := s.waitHealthy(ctx, "toxiproxy", func() error {
				return s.ownHTTP(ctx, "toxiproxy", s.ToxiproxyURL, "/version")
			}); err != nil {
				return err
			}
			return s.createProxies(ctx)
		},
	},
	{
		service: Prometheus,
		binary: func(_ context.Context, cfg Config) (string, error) {
			return lookPath(cfg.PrometheusBin, "prometheus", "run `make deps` (or: apt-get install prometheus)")
		},
		ports: func(cfg Config) []portUse { return []portUse{{cfg.Ports.Prometheus, "prometheus"}} },
		spawn: func(s *Stack, cfg Config, bin string) error {
			conf := filepath.Join(s.Dir, "prometheus.yml")
			if err := os.WriteFile(conf, PrometheusConfig(cfg.ScrapeTargets, cfg.Targets...), 0o644); err != nil {
				return fmt.Errorf("stack: %w", err)
			}
			s.PrometheusURL = "http://" + hostPort(cfg.Ports.Prometheus)
			_, err := s.spawn("prometheus", bin, []string{
				"--config.file=" + conf,
				"--storage.tsdb.path=" + cfg.PrometheusData,
				"--storage.tsdb.retention.time=7d",
				"--web.listen-address=" + hostPort(cfg.Ports.Prometheus),
				"--log.level=warn",
			})
			return err
		},
		ready: func(ctx context.Context, s *Stack) error {
			return s.waitHealthy(ctx, "prometheus", func() error {
				return s.ownHTTP(ctx, "prometheus", s.PrometheusURL, "/-/ready")
			})
		},
	},
}

// Attach describes a stack that runs already (compose, CI services): the
// proxies are read from toxiproxy, and Stop leaves everything running.
func Attach(ctx context.Context, toxiproxyURL, prometheusURL string) (*Stack, error) {
	s := &Stack{ToxiproxyURL: toxiproxyURL, PrometheusURL: prometheusURL, log: io.Discard}
	proxies, err := (&toxiproxy.Client{URL: toxiproxyURL}).Proxies(ctx)
	if err != nil {
		return nil, fmt.Errorf("stack: toxiproxy at %s: %w", toxiproxyURL, err)
	}
	for i := 1; ; i++ {
		name := fmt.Sprintf("mc%d", i)
		p, ok := proxies[name]
		if !ok {
			break
		}
		_, port, _ := net.SplitHostPort(p.Listen)
		s.Servers = append(s.Servers, Server{Name: name, ProxyAddr: "127.0.0.1:" + port, Upstream: p.Upstream})
	}
	if len(s.Servers) == 0 {
		return nil, fmt.Errorf("stack: toxiproxy at %s has no proxies named mc1, mc2, ...", toxiproxyURL)
	}
	if prometheusURL != "" {
		if err := httpOK(ctx, prometheusURL+"/-/ready"); err != nil {
			return nil, fmt.Errorf("stack: prometheus at %s: %w", prometheusURL, err)
		}
	}
	return s, nil
}

// ProxyAddrs returns "mc1=127.0.0.1:21211,..." as loadgen's -servers takes it.
func (s *Stack) ProxyAddrs() string {
	var b strings.Builder
	for i, srv := range s.Servers {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(srv.Name + "=" + srv.ProxyAddr)
	}
	return b.String()
}

// Stop stops every process of the stack (and any memcached that another
// process restarted from the pid files), SIGTERM first and SIGKILL after 5 s.
// It is safe to call more than once and on a partly started stack.
func (s *Stack) Stop() error {
	s.mu.Lock()
	procs := s.procs
	s.procs = nil
	s.mu.Unlock()
	var wg sync.WaitGroup
	for i := len(procs) - 1; i >= 0; i-- {
		wg.Add(1)
		go func(p *Process) { defer wg.Done(); p.Stop(5 * time.Second) }(procs[i])
	}
	wg.Wait()
	if s.Dir != "" {
		KillRecorded(s.Dir) // a memcached another process restarted is not our child
	}
	if s.tempDir {
		return os.RemoveAll(s.Dir)
	}
	return nil
}

// WaitScraped waits until Prometheus reports up == 1 for every job, that is
// until it has scraped each exporter at least once.
func (s *Stack) WaitScraped(ctx context.Context, jobs ...string) error {
	var ws []promwait.Want
	for _, j := range jobs {
		ws = append(ws, promwait.Want{Job: j, Targets: 1})
	}
	return s.wait(ctx, ws...)
}

// WaitTargets waits until Prometheus has scraped at least n targets of job
// successfully (up == 1): every arm, before the first scenario.
func (s *Stack) WaitTargets(ctx context.Context, job string, n int) error {
	return s.wait(ctx, promwait.Want{Job: job, Targets: n})
}

func (s *Stack) wait(ctx context.Context, ws ...promwait.Want) error {
	if s.PrometheusURL == "" {
		return errors.New("stack: no Prometheus to wait for")
	}
	if err := promwait.Wait(ctx, s.PrometheusURL, ws...); err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	return nil
}

// Target is one scrape target with the labels Prometheus puts on every
// series it scrapes there.
type Target struct {
	Job    string
	Addr   string
	Labels map[string]string
}

// PrometheusConfig returns a Prometheus configuration that scrapes each
// target every second under its job name: the plain job→address map and
// the labelled targets (one static config each, so each keeps its labels).
func PrometheusConfig(targets map[string]string, labelled ...Target) []byte {
	all := slices.Clone(labelled)
	for _, job := range sortedKeys(targets) {
		all = append(all, Target{Job: job, Addr: targets[job]})
	}
	var jobs []string
	byJob := map[string][]Target{}
	for _, t := range all {
		if _, ok := byJob[t.Job]; !ok {
			jobs = append(jobs, t.Job)
		}
		byJob[t.Job] = append(byJob[t.Job], t)
	}
	slices.Sort(jobs)
	var b bytes.Buffer
	b.WriteString("# Generated by mcchaos internal/stack.\nglobal:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n")
	for _, job := range jobs {
		fmt.Fprintf(&b, "  - job_name: %q\n    static_configs:\n", job)
		for _, t := range byJob[job] {
			fmt.Fprintf(&b, "      - targets: [%q]\n", t.Addr)
			if len(t.Labels) > 0 {
				b.WriteString("        labels:\n")
				for _, k := range sortedKeys(t.Labels) {
					fmt.Fprintf(&b, "          %s: %q\n", k, t.Labels[k])
				}
			}
		}
	}
	if len(jobs) == 0 {
		b.WriteString("  []\n")
	}
	return b.Bytes()
}

func (s *Stack) createProxies(ctx context.Context) error {
	var ps []toxiproxy.Proxy
	for _, srv := range s.Servers {
		ps = append(ps, toxiproxy.Proxy{Name: srv.Name, Listen: srv.ProxyAddr, Upstream: srv.Upstream})
	}
	if _, err := s.populate(ctx, ps); err != nil {
		return err
	}
	for _, srv := range s.Servers {
		if err := s.waitHealthy(ctx, srv.Name+" proxy", func() error { return memcachedVersion(srv.ProxyAddr) }); err != nil {
			return err
		}
	}
	return nil
}

// populate creates (or replaces) proxies in one call and returns them as
// toxiproxy runs them.
func (s *Stack) populate(ctx context.Context, ps []toxiproxy.Proxy) ([]toxiproxy.Proxy, error) {
	got, err := (&toxiproxy.Client{URL: s.ToxiproxyURL}).Populate(ctx, ps)
	if err != nil {
		return nil, fmt.Errorf("stack: create toxiproxy proxies: %w", err)
	}
	return got, nil
}

// ArmTargets returns the arms as Prometheus scrape targets of job
// loadgen, labelled side and arm.
func ArmTargets(arms []plan.Arm) []Target {
	var ts []Target
	for _, a := range arms {
		ts = append(ts, Target{Job: "loadgen", Addr: a.Scrape, Labels: map[string]string{"side": a.Side, "arm": strconv.Itoa(a.Num)}})
	}
	return ts
}

// AddArms creates every arm's own proxies as the plan gives them (name
// and listen address), each with the upstream of the server it leads to,
// and returns once each answers.
func (s *Stack) AddArms(ctx context.Context, arms []plan.Arm) error {
	upstream := map[string]string{}
	for _, srv := range s.Servers {
		upstream[srv.Name] = srv.Upstream
	}
	var ps []toxiproxy.Proxy
	for _, a := range arms {
		for _, x := range a.Proxies {
			up, ok := upstream[x.Server]
			if !ok {
				return fmt.Errorf("stack: arm %s: no server %s", a.Name(), x.Server)
			}
			ps = append(ps, toxiproxy.Proxy{Name: x.Name, Listen: x.Listen, Upstream: up})
		}
	}
	got, err := s.populate(ctx, ps)
	if err != nil {
		return err
	}
	made := map[string]bool{}
	for _, p := range got {
		made[p.Name] = true
	}
	for _, a := range arms {
		for _, x := range a.Proxies {
			if !made[x.Name] {
				return fmt.Errorf("stack: toxiproxy did not create proxy %s", x.Name)
			}
			addr := x.Dial()
			if err := s.waitHealthy(ctx, x.Name+" proxy", func() error { return memcachedVersion(addr) }); err != nil {
				return err
			}
		}
	}
	return nil
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// proc returns the stack's process of that name, nil if none.
func (s *Stack) proc(name string) *Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// ownHTTP checks that base+path answers 200 and that the listener is the
// named child's own process.
func (s *Stack) ownHTTP(ctx context.Context, name, base, path string) error {
	if err := httpOK(ctx, base+path); err != nil {
		return err
	}
	p := s.proc(name)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(base, "http://"))
	return listens(p.Pid(), atoi(port))
}

// waitHealthy polls check until it passes. It gives up at once when the
// named child has exited (a port taken, a bad flag) or check reached
// another process than ours: someone else's server never becomes ours.
func (s *Stack) waitHealthy(ctx context.Context, name string, check func() error) error {
	p := s.proc(name)
	own := func() error {
		if p != nil && p.Exited() {
			return fmt.Errorf("%s exited (%v): %w", name, p.Err(), errNotOurs)
		}
		return check()
	}
	if err := poll(ctx, 50*time.Millisecond, own); err != nil {
		var tail string
		if p != nil {
			tail = p.Tail(10)
		}
		if tail != "" {
			return fmt.Errorf("stack: %s did not become healthy: %w; its log ends:\n%s", name, err, tail)
		}
		return fmt.Errorf("stack: %s did not become healthy: %w", name, err)
	}
	return nil
}

// poll calls check every interval until it returns nil or ctx ends; then it
// returns the last error of check.
func poll(ctx context.Context, interval time.Duration, check func() error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := check()
		if err == nil || errors.Is(err, errNotOurs) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

func checkPort(port int, what string) error {
	l, err := net.Listen("tcp", hostPort(port))
	if err != nil {
		return &PortInUseError{Port: port, What: what}
	}
	return l.Close()
}

func memcachedVersion(addr string) error { return mcprobe.Version(addr, time.Second) }

var httpClient = &http.Client{Timeout: 2 * time.Second}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func (s *Stack) spawn(name, bin string, args []string) (*Process, error) {
	p, err := StartProcess(name, bin, args, filepath.Join(s.Dir, "logs", name+".log"), nil)
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	fmt.Fprintf(s.log, "stack: started %s (pid %d), log %s\n", name, p.Pid(), p.LogPath)
	return p, nil
}

// PrometheusAlive reports whether the stack's own Prometheus still runs
// (true for a stack it did not start).
func (s *Stack) PrometheusAlive() bool {
	for _, p := range s.Watched() {
		if p.Name == "prometheus" && p.Exited() {
			return false
		}
	}
	return true
}

// Watched returns the stack's processes whose death ends a run: toxiproxy
// and Prometheus. memcached is left out: the process fault kills and
// restarts it on purpose (scenariod proves it back before recovery).
func (s *Stack) Watched() []*Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ps []*Process
	for _, p := range s.procs {
		if p.Name == "toxiproxy" || p.Name == "prometheus" {
			ps = append(ps, p)
		}
	}
	return ps
}

// writeProcFiles records a memcached's pid and argv in dir, so that another
// process (scenariod's process fault) can kill and restart it.
func writeProcFiles(dir, name string, p *Process) error {
	argv, _ := json.Marshal(p.Args())
	if err := os.WriteFile(filepath.Join(dir, name+".argv.json"), argv, 0o644); err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".pid"), []byte(strconv.Itoa(p.Pid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	return nil
}

// isMemcached reports whether pid is a memcached process, so that a stale pid
// file never kills an unrelated process that reused the pid.
func isMemcached(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return err == nil && strings.TrimSpace(string(b)) == "memcached"
}
