package scenariod

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/internal/plan"
	"github.com/mcchaos/mcchaos/internal/profile"
	"github.com/mcchaos/mcchaos/internal/shard"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

// Options are scenariod's command-line flags. They are defined here, once,
// so that cmd/scenariod and bench (which parses -scenariod-args with them
// to build the plan) read the same flags the same way.
type Options struct {
	// Plan is a plan.json to run (-plan): it gives the profile, the
	// scenarios, the sides and the arms, and replaces the selection flags.
	Plan string
	// List and Check print the catalogue or the selection and exit.
	List, Check bool

	// The selection, when scenariod runs alone (see Resolve).
	Scenario string
	Files    []string
	Profile  string
	// Stabilization, Recovery and MaxFault, when not zero, replace the
	// profile's values (the profile keeps its name; the plan has the values).
	Stabilization, Recovery, MaxFault time.Duration
	// Shard, "i/n", narrows the selection to shard i of n, balanced by
	// duration (SelectShard); the plan and manifest record it.
	Shard string

	// How to run.
	Toxiproxy          string
	ToxiproxyTimeout   time.Duration
	LossInjector       string
	NetemExec          string
	NFTable            string
	NFTCommand         string
	StackDir           string
	Stack              string
	RunID              string
	Manifest           string
	Listen             string
	WaitScraped        string
	WaitScrapedJobs    string
	WaitScrapedTimeout time.Duration
	Linger             time.Duration
}

// selectionFlags are the flags a plan replaces.
var selectionFlags = []string{"scenario", "scenario-file", "profile", "stabilization", "recovery", "max-fault", "shard"}

// DefaultOptions returns the flags' defaults.
func DefaultOptions() Options {
	return Options{
		Profile:            profile.Default,
		Toxiproxy:          inject.DefaultToxiproxyURL,
		ToxiproxyTimeout:   inject.DefaultCallTimeout,
		LossInjector:       LossAuto,
		NFTable:            inject.DefaultTable,
		NFTCommand:         "nft",
		Listen:             DefaultListen,
		WaitScrapedJobs:    DefaultWaitScrapedJobs,
		WaitScrapedTimeout: DefaultWaitScrapeTimeout,
		Linger:             3 * time.Second,
	}
}

type stringList struct{ l *[]string }

func (s stringList) String() string {
	if s.l == nil {
		return ""
	}
	return strings.Join(*s.l, ",")
}
func (s stringList) Set(v string) error { *s.l = append(*s.l, v); return nil }

// Register defines the flags on fs, each defaulting to o's value.
func (o *Options) Register(fs *flag.FlagSet) {
	fs.StringVar(&o.Plan, "plan", o.Plan, "plan.json to run (bench writes it): profile values, scenarios, sides, arms and their proxies; replaces -scenario, -scenario-file, -profile, -stabilization, -recovery, -max-fault")
	fs.BoolVar(&o.List, "list", o.List, "print the scenarios (name, fault, target, phase lengths per profile) and exit")
	fs.BoolVar(&o.Check, "check", o.Check, "check the flags, scenario files and selection, print the selected scenarios and exit (exit 2 on bad input)")
	fs.StringVar(&o.Scenario, "scenario", o.Scenario, "scenarios to run: all (the 14), extended, NAME[,NAME...]; default: the profile's selection, or the scenario files' scenarios")
	fs.Var(stringList{&o.Files}, "scenario-file", "YAML or JSON file of more scenarios (repeatable)")
	fs.StringVar(&o.Profile, "profile", o.Profile, "profile: phase lengths ("+strings.Join(profile.Names(), ", ")+")")
	fs.DurationVar(&o.Stabilization, "stabilization", o.Stabilization, "override the profile's stabilization length (the plan and manifest record the values)")
	fs.DurationVar(&o.Recovery, "recovery", o.Recovery, "override the profile's recovery length (the plan and manifest record the values)")
	fs.StringVar(&o.Shard, "shard", o.Shard, "run only shard `i/n` of the selection: a share balanced by duration (1-based; the plan and manifest record it)")
	fs.DurationVar(&o.MaxFault, "max-fault", o.MaxFault, "override the profile's cap on fault times not stated in the scenario name")
	fs.StringVar(&o.Toxiproxy, "toxiproxy", o.Toxiproxy, "toxiproxy API URL")
	fs.DurationVar(&o.ToxiproxyTimeout, "toxiproxy-timeout", o.ToxiproxyTimeout, "deadline of one toxiproxy API attempt (calls are retried)")
	fs.StringVar(&o.LossInjector, "loss-injector", o.LossInjector, "packet loss injector: auto (netfilter when usable here), netfilter (per packet), netem (per packet, in toxiproxy's namespace: the compose helper), toxiproxy (per connection)")
	fs.StringVar(&o.NetemExec, "netem-exec", o.NetemExec, "with -loss-injector netem: the command that runs tc and ip in toxiproxy's network namespace (default: docker compose exec -T netem)")
	fs.StringVar(&o.NFTable, "nft-table", o.NFTable, "nftables table holding our rules (deleted at start, at fault end, on exit)")
	fs.StringVar(&o.NFTCommand, "nft-command", o.NFTCommand, "the command that runs nft, e.g. \"sudo -n nft\" where only sudo grants CAP_NET_ADMIN (file capabilities on scenariod do not reach the nft it runs)")
	fs.StringVar(&o.StackDir, "stack-dir", o.StackDir, "local stack directory with <server>.pid and .argv.json (for process faults)")
	fs.StringVar(&o.Stack, "stack", o.Stack, "stack kind recorded in the manifest: local, compose, external")
	fs.StringVar(&o.RunID, "run-id", o.RunID, "run id (default: the start time, 20060102-150405)")
	fs.StringVar(&o.Manifest, "manifest", o.Manifest, "manifest path (default reports/<run-id>/manifest.json)")
	fs.StringVar(&o.Listen, "listen", o.Listen, "address serving /metrics")
	fs.StringVar(&o.WaitScraped, "wait-scraped", o.WaitScraped, "Prometheus URL: before the first scenario, wait until it scrapes the -wait-scraped-jobs")
	fs.StringVar(&o.WaitScrapedJobs, "wait-scraped-jobs", o.WaitScrapedJobs, "jobs whose up must be 1 before the first scenario")
	fs.DurationVar(&o.WaitScrapedTimeout, "wait-scraped-timeout", o.WaitScrapedTimeout, "how long to wait for the scrape")
	fs.DurationVar(&o.Linger, "linger", o.Linger, "keep serving /metrics this long after the last scenario, so the final idle phase is scraped")
}

// ErrPlanAndSelection is returned (wrapped) when -plan comes with a
// selection flag: the plan selects.
var ErrPlanAndSelection = errors.New("the plan selects the scenarios and the profile")

// CheckPlanFlags refuses selection flags set in fs beside -plan.
func CheckPlanFlags(fs *flag.FlagSet) error {
	var bad []string
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(selectionFlags, f.Name) {
			bad = append(bad, "-"+f.Name)
		}
	})
	if len(bad) > 0 {
		return fmt.Errorf("%s with -plan: %w", strings.Join(bad, ", "), ErrPlanAndSelection)
	}
	return nil
}

// RunArgs returns the flags set in fs other than the selection (and -plan,
// -list, -check), as arguments: what a scenariod run by a plan still takes.
func RunArgs(fs *flag.FlagSet) []string {
	var args []string
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(selectionFlags, f.Name) || f.Name == "plan" || f.Name == "list" || f.Name == "check" {
			return
		}
		args = append(args, "-"+f.Name+"="+f.Value.String())
	})
	return args
}

// Resolve returns the plan of the selection: the profile's values (with
// any lengths the flags replace) and the scenarios the selection names,
// from the catalogue and the scenario files. The plan has no sides or
// arms: faults go on the servers' own proxies.
func (o *Options) Resolve() (*plan.Plan, error) {
	catalogue, fromFiles, err := Catalogue(o.Files...)
	if err != nil {
		return nil, err
	}
	prof, err := profile.Get(o.Profile)
	if err != nil {
		return nil, err
	}
	prof.Stabilization = cmpOr(o.Stabilization, prof.Stabilization)
	prof.Recovery = cmpOr(o.Recovery, prof.Recovery)
	prof.MaxFault = cmpOr(o.MaxFault, prof.MaxFault)
	spec := o.Scenario
	switch {
	case spec != "":
	case len(fromFiles) > 0:
		spec = strings.Join(fromFiles, ",")
	case prof.Scenarios != nil:
		spec = strings.Join(prof.Scenarios, ",")
	default:
		spec = SetAll
	}
	scenarios, err := Select(catalogue, spec)
	if err != nil {
		return nil, err
	}
	var rec *shard.Record
	if o.Shard != "" {
		spec, err := shard.Parse(o.Shard)
		if err != nil {
			return nil, err
		}
		if scenarios, rec, err = SelectShard(prof, scenarios, spec); err != nil {
			return nil, err
		}
	}
	return &plan.Plan{Version: plan.Version, Profile: prof, Scenarios: scenarios, Shard: rec}, nil
}

func cmpOr(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}
