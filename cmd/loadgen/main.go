// Command loadgen drives a memcache client under test with a configurable
// workload, checks the integrity of every value it reads, and serves the
// client's metrics for Prometheus on -listen (/metrics).
//
// It runs until -duration has passed or until SIGINT/SIGTERM; then it stops
// the load and keeps /metrics up for -linger so that the last counts are
// scraped (a second signal exits at once). Exit codes: 0 ok, 1 integrity
// violations (with -fail-on-violation), 2 could not run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	sigs "github.com/mcchaos/mcchaos/internal/signals"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/mcchaos/mcchaos/loadgen"
	"github.com/mcchaos/mcchaos/loadgen/driver"
)

func main() {
	ctx, stop, abort := signals()
	defer stop()
	err := run(ctx, abort, os.Stdout, os.Stderr, os.Args[1:])
	if err != nil && !errors.Is(err, flag.ErrHelp) { // flag printed its own
		fmt.Fprintln(os.Stderr, "loadgen:", err)
	}
	stop()
	os.Exit(exitCode(err))
}

// exitCode maps run's error: 0 ok (or -h), 1 integrity violations (with
// -fail-on-violation), 2 could not run.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, loadgen.ErrIntegrityViolation):
		return 1
	}
	return 2
}

// signals returns a context canceled by the first SIGINT or SIGTERM and a
// channel closed by the second.
func signals() (context.Context, func(), <-chan struct{}) {
	abort := make(chan struct{})
	ctx, stop := sigs.Notify(nil, func() {
		close(abort)
		select {} // run returns and main exits
	})
	return ctx, stop, abort
}

func run(ctx context.Context, abort <-chan struct{}, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg     = loadgen.ServeConfig{Abort: abort, Stderr: stderr}
		s       = &cfg.Settings
		b       = &s.Breaker
		l       = &cfg.Load
		servers string
		sizes   string
	)
	fs.StringVar(&cfg.Listen, "listen", loadgen.DefaultListen, "serve /metrics on this address")
	fs.StringVar(&servers, "servers", loadgen.DefaultServers, "memcached servers as name=host:port,... (a bare host:port list names them mc1..mcN)")
	fs.StringVar(&l.WorkloadName, "workload", loadgen.DefaultWorkload, "operation mix: "+strings.Join(loadgen.WorkloadNames(), "|"))
	fs.StringVar(&l.Keys.Prefix, "key-prefix", "", "prefix of every key, so several loadgens can share the servers (placement ignores it)")
	fs.IntVar(&l.Keys.Size, "keyspace", loadgen.DefaultKeyspace, "number of distinct keys")
	fs.IntVar(&l.Keys.HotKeys, "hot-keys", loadgen.DefaultHotKeys, "size of the hot key set (0: none)")
	fs.Float64Var(&l.Keys.HotRatio, "hot-ratio", loadgen.DefaultHotRatio, "fraction of operations on the hot keys (0: none)")
	fs.StringVar(&sizes, "value-size", loadgen.DefaultSizes, "value sizes in bytes: N, MIN-MAX (uniform) or N:W,M:W (weighted)")
	fs.BoolVar(&l.NoPreload, "no-preload", false, "do not write every key once before the load starts")
	fs.Float64Var(&l.Rate, "rate", 0, "open-loop rate in operations per second (0: closed loop)")
	fs.IntVar(&l.Concurrency, "concurrency", loadgen.DefaultConcurrency, "closed-loop workers, or the open-loop in-flight cap")
	fs.DurationVar(&l.Duration, "duration", 0, "how long to run (0: until SIGINT/SIGTERM)")
	fs.StringVar(&cfg.Client, "client", driver.Default, "client under test: "+strings.Join(driver.Kinds(), "|"))
	fs.IntVar(&cfg.MaxProcs, "max-procs", loadgen.DefaultMaxProcs, "GOMAXPROCS (negative: leave as is)")
	fs.DurationVar(&s.DialTimeout, "dial-timeout", driver.DefaultDialTimeout, "client: connection dial timeout")
	fs.DurationVar(&s.Timeout, "timeout", driver.DefaultTimeout, "client: per-operation timeout")
	fs.IntVar(&s.PoolSize, "pool-size", driver.DefaultPoolSize, "client: max connections per server")
	fs.DurationVar(&s.PoolMaxLifetime, "pool-max-lifetime", driver.DefaultPoolMaxLifetime, "client: max connection lifetime")
	fs.DurationVar(&s.PoolMaxIdle, "pool-max-idle", driver.DefaultPoolMaxIdle, "client: max connection idle time")
	fs.DurationVar(&s.HealthCheck, "health-check", driver.DefaultHealthCheck, "client: pool health check period")
	fs.BoolVar(&s.DisableBreaker, "no-breaker", false, "client: disable the circuit breakers")
	fs.BoolVar(&s.Failover, "failover", false, "client: send operations for a server that is out to the next one (ours only)")
	maxReq := fs.Uint("breaker-max-requests", driver.DefaultBreakerMaxRequests, "breaker: requests let through when half-open")
	fs.DurationVar(&b.Interval, "breaker-interval", driver.DefaultBreakerInterval, "breaker: counting window while closed")
	fs.DurationVar(&b.Timeout, "breaker-timeout", driver.DefaultBreakerTimeout, "breaker: time open before half-open")
	fs.DurationVar(&b.BucketPeriod, "breaker-bucket", driver.DefaultBreakerBucket, "breaker: rolling window bucket")
	consec := fs.Uint("breaker-consecutive-failures", driver.DefaultBreakerConsecutive, "breaker: trip at this many consecutive failures")
	fs.Float64Var(&b.FailureRatio, "breaker-failure-ratio", driver.DefaultBreakerFailureRatio, "breaker: trip at this failure ratio ...")
	minReq := fs.Uint("breaker-min-requests", driver.DefaultBreakerMinRequests, "breaker: ... over at least this many requests")
	fs.DurationVar(&cfg.StartupTimeout, "startup-timeout", loadgen.DefaultStartupTimeout, "wait this long for the servers to answer before starting")
	fs.DurationVar(&cfg.Linger, "linger", loadgen.DefaultLinger, "after the load stops, keep /metrics up this long (negative: exit at once)")
	fs.BoolVar(&cfg.FailOnViolation, "fail-on-violation", false, "exit 1 if any integrity violation was seen")
	check := fs.Bool("check", false, "check the flags, then exit (0: they are good) without starting anything")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (all settings are flags; see -h)", fs.Args())
	}
	s.KeyPrefix = l.Keys.Prefix
	b.MaxRequests, b.ConsecutiveFailures, b.MinRequests = uint32(*maxReq), uint32(*consec), uint32(*minReq)
	var err error
	if s.Servers, err = loadgen.ParseServers(servers); err != nil {
		return err
	}
	if l.Sizes, err = loadgen.ParseSizes(sizes); err != nil {
		return err
	}
	if l.Keys.HotKeys == 0 || l.Keys.HotRatio == 0 { // flag 0 means none, not the default
		l.Keys.HotKeys, l.Keys.HotRatio = -1, -1
	}
	if cfg.Linger == 0 {
		cfg.Linger = -1
	}
	if !slices.Contains(driver.Kinds(), cfg.Client) {
		return fmt.Errorf("-client: unknown client %q (known: %s)", cfg.Client, strings.Join(driver.Kinds(), ", "))
	}
	if *check {
		return nil
	}
	return loadgen.Serve(ctx, cfg)
}
