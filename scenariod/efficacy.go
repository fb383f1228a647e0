package scenariod

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcchaos/mcchaos/internal/atomicfile"
	"github.com/mcchaos/mcchaos/internal/manifest"
	"github.com/mcchaos/mcchaos/scenariod/efficacy"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

// StatusInvalid is the manifest status of a scenario whose faults the
// efficacy oracle could not prove: one did not take effect, was absent for
// more than a second, leaked onto a server it does not target, or lingered
// into recovery (issue 14). Such a scenario is excluded from verdicts.
const StatusInvalid = manifest.StatusInvalid

// EfficacyFile is the name of the oracle's records, next to the manifest:
// a JSON object from scenario name to efficacy.Record.
const EfficacyFile = "efficacy.json"

// baselineProbes is how many probes make a server's baseline round trip.
const baselineProbes = 5

// newOracle builds the efficacy oracle over the proxies found at setup,
// reading netfilter's counters when packet loss goes through it.
func (r *Runner) newOracle() error {
	fs := r.faults
	cfg := efficacy.Config{Servers: efficacy.ServersOf(fs.proxies, fs.server), Toxiproxy: &r.cfg.Toxiproxy}
	switch {
	case fs.netem != nil:
		cfg.Loss = fs.netem
	case fs.lossNF:
		cfg.Loss = fs.nf
	}
	o, err := efficacy.New(cfg)
	if err != nil {
		return err
	}
	r.oracle, r.records = o, map[string]*efficacy.Record{}
	return nil
}

// efficacyFaults returns s's faults as the oracle checks them: with the
// injector the runner uses.
func (r *Runner) efficacyFaults(s Scenario) []manifest.Fault {
	var out []manifest.Fault
	for _, f := range s.Faults {
		inj, _ := r.faults.injectorFor(f)
		out = append(out, manifest.Fault{Fault: f, Made: manifest.Made{Injector: inj}})
	}
	return out
}

// scenarioCheck is the oracle's work on one scenario: a baseline before
// the faults, a watch while they are on, the check that they are gone and
// the verdict. Its methods do nothing when the oracle is off.
type scenarioCheck struct {
	r      *Runner
	name   string
	faults []manifest.Fault
	watch  *efficacy.Watch
	rec    *efficacy.Record   // the watch's, then the judged one
	judged chan judged        // finish's result; nil before finish
	err    error              // the verdict, once received
	cur    *manifest.Scenario // gets the verdict's line
}

// judged is what finish's goroutine hands back.
type judged struct {
	rec *efficacy.Record
	err error
}

func (r *Runner) newCheck(s Scenario, cur *manifest.Scenario) *scenarioCheck {
	return &scenarioCheck{r: r, name: s.Name, faults: r.efficacyFaults(s), cur: cur}
}

// baseline measures the servers' round trips; call it with no fault on.
func (c *scenarioCheck) baseline(ctx context.Context) {
	if c.r.oracle == nil {
		return
	}
	if err := c.r.oracle.Baseline(ctx, baselineProbes); err != nil {
		c.r.logf("efficacy baseline: %v", err)
	}
}

// start watches the faults; call it once they are all in place.
func (c *scenarioCheck) start(ctx context.Context) {
	if c.r.oracle != nil {
		c.watch = c.r.oracle.Start(ctx, c.faults, c.r.faults.repair)
	}
}

// stop ends the watch, if any. It may be called more than once.
func (c *scenarioCheck) stop() {
	if c.watch != nil && c.rec == nil {
		c.rec = c.watch.Stop()
	}
}

// finish starts checking, once the faults were removed, that they are
// gone, then judges, records and writes the record: in the background, so
// the recovery phase starts on time (the check is the first second of
// recovery). verdict waits for it.
func (c *scenarioCheck) finish(ctx context.Context) {
	if c.r.oracle == nil {
		return
	}
	c.stop()
	c.judged = make(chan judged, 1)
	watched := c.rec
	go func() {
		rec := c.r.oracle.Finish(ctx, watched, c.faults)
		v := rec.Verdict
		c.r.logf("%s efficacy: %s", c.name, v.Line)
		var err error
		if !v.Valid {
			err = fmt.Errorf("faults not in effect as requested: %s", strings.Join(v.Reasons, "; "))
		}
		c.judged <- judged{rec, err}
	}()
}

// verdict waits for finish and returns why the scenario is invalid, or nil
// (also when finish never ran). It records the oracle's record in the
// run's efficacy file. It may be called more than once.
func (c *scenarioCheck) verdict() error {
	if c.judged == nil {
		return c.err
	}
	j := <-c.judged
	c.judged, c.rec, c.err = nil, j.rec, j.err
	c.r.records[c.name] = j.rec
	if c.cur != nil && j.rec != nil {
		c.cur.Efficacy = j.rec.Verdict.Line
	}
	if err := c.r.writeEfficacy(); err != nil {
		c.r.logf("%v", err)
	}
	return c.err
}

// repair puts every active fault back: proxies a toxiproxy restart lost
// are re-created with their toxics, and the netfilter table rewritten.
// The oracle calls it when it finds a fault absent.
func (fs *faultSet) repair(ctx context.Context) error {
	if _, err := fs.syncProxies(ctx); err != nil {
		return err
	}
	if err := fs.reapply(ctx); err != nil {
		return err
	}
	switch {
	case fs.netem != nil:
		return fs.syncNetem(ctx)
	case fs.lossNF:
		return fs.syncNetfilter(ctx)
	}
	return nil
}

var errNoProxies = errors.New("toxiproxy has no proxies")

// reachesCompose reports whether nf's rules on this host see the traffic to
// the compose stack's first proxy as clients dial it (127.0.0.1:<listen
// port>): true through docker-proxy, false where Docker DNATs loopback
// past the input hook or runs elsewhere.
func (r *Runner) reachesCompose(ctx context.Context, nf *inject.Netfilter) error {
	names := slices.Sorted(maps.Keys(r.faults.proxies))
	if len(names) == 0 {
		return errNoProxies
	}
	return efficacy.Reaches(ctx, nf, efficacy.DialAddr(r.faults.proxies[names[0]].Listen, r.cfg.Toxiproxy.Host()))
}

// writeEfficacy writes the oracle's records of the run so far.
func (r *Runner) writeEfficacy() error {
	b, err := json.MarshalIndent(r.records, "", "  ")
	if err != nil {
		return fmt.Errorf("efficacy records: %w", err)
	}
	return atomicfile.Write(filepath.Join(filepath.Dir(r.cfg.ManifestPath), EfficacyFile), append(b, '\n'))
}
