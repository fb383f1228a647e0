package bench

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/internal/plan"
	"github.com/mcchaos/mcchaos/internal/stack"
)

// confirmDir is the run directory's folder of the confirmation stage.
const confirmDir = "confirm"

// confirm is the second stage of a run: the scenarios with candidate
// regressions run again with fresh loadgen processes and a new arm order
// (the proxies on new ports, created and the processes started in another
// random order), so that what an arm's process or place did to its
// figures in the first stage cannot repeat by design. A candidate is a
// regression only when this stage flags it again (compare.Confirm). It
// has a plan of its own (confirm/plan.json): the candidates, the new
// order and the new proxies.
func (r *run) confirm() error {
	names, healthy := r.res.diff.CandidateScenarios()
	if r.res.diff == nil || r.died != nil || r.ctx.Err() != nil || r.sdErr != nil || r.cfg.NoConfirm || (len(names) == 0 && !healthy) {
		return nil
	}
	if len(names) == 0 {
		names = []string{r.res.diff.Scenarios[0].Name} // any stabilization window confirms the healthy path
	}
	seed := r.cfg.Seed ^ 0x9e3779b97f4a7c15 // a new order, reproducible from the run's seed
	arms := slices.Clone(r.arms)
	rand.New(rand.NewPCG(seed, 2)).Shuffle(len(arms), func(i, j int) { arms[i], arms[j] = arms[j], arms[i] })
	// New places: every arm's proxies move to ports it did not have (on the
	// local stack fresh free ports; on a published range the next block),
	// so that no arm keeps its place of the first stage.
	if err := planProxies(r.cfg, arms, DefaultArmProxyPort+len(arms)*stack.DefaultServers); err != nil {
		return err
	}
	for _, a := range arms {
		a.proc = nil
	}
	p := *r.plan
	p.Seed, p.Arms, p.Scenarios, p.Shard = seed, planOf(arms), nil, nil // the candidates, not a shard
	p.Scenarios, names = withPredecessors(r.plan.Scenarios, names)
	dir := filepath.Join(r.res.RunDir, confirmDir)
	planPath := filepath.Join(dir, plan.File)
	if err := plan.Write(planPath, &p); err != nil {
		return err
	}
	r.say("confirmation stage: %s again with fresh processes and a new arm order (%s)", strings.Join(names, ", "), strings.Join(p.ArmOrder(), " "))
	start := time.Now()
	defer stopArms(arms, 10*time.Second)
	if err := r.load(arms); err != nil {
		return fmt.Errorf("bench: confirmation stage: %w", err)
	}
	sdErr, died, err := r.scenarios(planPath, dir, filepath.Base(r.res.RunDir)+"-confirm", "scenariod-confirm.log", arms)
	stopArms(arms, 10*time.Second)
	switch {
	case err != nil:
		return err
	case died != nil || r.ctx.Err() != nil:
		r.say("confirmation stage stopped: %v; the candidates stay unconfirmed", firstErr(died, r.ctx.Err()))
		r.res.Interrupted = true
		return nil
	case sdErr != nil:
		return fmt.Errorf("bench: confirmation stage: scenariod: %w (log %s)", sdErr, filepath.Join(r.logs(), "scenariod-confirm.log"))
	}
	r.say("confirmation stage done in %s", time.Since(start).Round(time.Second))
	return runCollect(r.setup, r.cfg, r.promURL, r.runDirs, []string{dir}, &r.res)
}

// withPredecessors returns the scenarios of the first stage (in its
// order) that the confirmation stage runs: each candidate scenario and the
// one that ran just before it, so that a client still hurt by that one
// when the candidate began (a breaker held open past its recovery: every
// figure of the next scenario worse) is hurt again, as in the first stage.
// Run alone, such a candidate could never confirm. The predecessor's own
// rows are judged only if they are candidates themselves. It also returns
// the names, for the progress line.
func withPredecessors(all []plan.Scenario, candidates []string) ([]plan.Scenario, []string) {
	var out []plan.Scenario
	var names []string
	for i, s := range all {
		next := i+1 < len(all) && slices.Contains(candidates, all[i+1].Name)
		if slices.Contains(candidates, s.Name) || next {
			out = append(out, s)
			names = append(names, s.Name)
		}
	}
	return out, names
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
