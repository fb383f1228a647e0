package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/internal/stack"
)

// confirmDir is the run directory's folder of the confirmation stage.
const confirmDir = "confirm"

// confirmation is the second stage of a run: the scenarios with candidate
// regressions run again with fresh loadgen processes and a new arm order
// (the proxies on new ports, created and the processes started in another
// random order), so that what an arm's process or place did to its
// figures in the first stage cannot repeat by design. A candidate is a
// regression only when this stage flags it again (compare.Confirm).
type confirmation struct {
	cfg       Config
	st        *stack.Stack
	arms      []*arm
	sides     []*Side
	scenariod string
	sdArgs    []string
	runDir    string
	say       func(string, ...any)
}

// run runs the stage and returns its run directory, "" when it was
// interrupted before a manifest was written.
func (c confirmation) run(ctx, setup context.Context, names []string) (string, error) {
	seed := c.cfg.Seed ^ 0x9e3779b97f4a7c15 // a new order, reproducible from the run's seed
	rng := rand.New(rand.NewPCG(seed, 2))
	rng.Shuffle(len(c.arms), func(i, j int) { c.arms[i], c.arms[j] = c.arms[j], c.arms[i] })
	// New places: every arm's proxies move to ports it did not have (on the
	// local stack fresh free ports; on a published range the next block),
	// so that no arm keeps its place of the first stage.
	fresh, err := stack.FreePortList(len(c.arms) * stack.DefaultServers)
	if err != nil {
		return "", err
	}
	for i, a := range c.arms {
		a.proxyPorts, a.proc = fresh[i*stack.DefaultServers:(i+1)*stack.DefaultServers], nil
	}
	c.say("confirmation stage: %s again with fresh processes and a new arm order (%s)", strings.Join(names, ", "), armNames(c.arms))
	start := time.Now()
	if err := connectArms(setup, c.cfg, c.st, c.arms, DefaultArmProxyPort+len(c.arms)*stack.DefaultServers); err != nil {
		return "", err
	}
	defer stopArms(c.arms, 10*time.Second)
	if err := startArms(setup, c.arms, filepath.Join(c.runDir, "logs"), c.say); err != nil {
		return "", err
	}
	wctx, cancel := context.WithTimeout(setup, 30*time.Second)
	err = c.st.WaitTargets(wctx, "loadgen", len(c.arms))
	cancel()
	if err != nil {
		return "", fmt.Errorf("bench: confirmation stage: %w", err)
	}
	dir := filepath.Join(c.runDir, confirmDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	id := filepath.Base(c.runDir) + "-confirm"
	args := append([]string{"-run-id", id, "-manifest", filepath.Join(dir, "manifest.json")}, c.sdArgs...)
	args = append(args, "-scenario", strings.Join(names, ","))
	sd, err := startChild("scenariod", c.scenariod, args, filepath.Join(c.runDir, "logs", "scenariod-confirm.log"), c.cfg.Stderr)
	if err != nil {
		return "", err
	}
	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	watched := c.st.Watched()
	for _, a := range c.arms {
		watched = append(watched, a.proc)
	}
	unwatch := watch(stopRun, watched)
	sdErr := waitOrInterrupt(runCtx, sd, 15*time.Second)
	unwatch()
	stopArms(c.arms, 10*time.Second)
	if cause := context.Cause(runCtx); cause != nil {
		c.say("confirmation stage stopped: %v; the candidates stay unconfirmed", cause)
		return "", nil
	}
	if sdErr != nil {
		return "", fmt.Errorf("bench: confirmation stage: scenariod: %w (log %s)", sdErr, sd.LogPath)
	}
	if err := recordSides(filepath.Join(dir, "manifest.json"), c.sides, seed, c.arms); err != nil {
		return "", fmt.Errorf("bench: confirmation stage: %w", err)
	}
	c.say("confirmation stage done in %s", time.Since(start).Round(time.Second))
	return dir, nil
}

func armNames(arms []*arm) string {
	var s []string
	for _, a := range arms {
		s = append(s, a.name())
	}
	return strings.Join(s, " ")
}
