package efficacy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
)

// ErrNotReached is returned (wrapped) by Reaches when a loss injector's
// rules do not see the traffic of the clients' connections.
var ErrNotReached = errors.New("efficacy: the loss rules do not see the clients' traffic")

// LossInjector makes and counts packet loss: *inject.Netfilter and *inject.Netem.
type LossInjector interface {
	SetLoss(ctx context.Context, loss map[int]float64) error
	Counters
}

// Reaches proves that inj's rules on the port of addr (a proxy as the
// clients dial it) see the packets of a connection to addr: it installs a
// count-only rule, sends probes and reads the counter, then removes the
// rules again. It answers "does nft on this host reach the compose stack's
// published ports?" by trying, instead of guessing from the stack's kind.
func Reaches(ctx context.Context, inj LossInjector, addr string) (err error) {
	_, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("efficacy: address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return fmt.Errorf("efficacy: address %q: bad port", addr)
	}
	if err := inj.SetLoss(ctx, map[int]float64{port: 0}); err != nil {
		return err
	}
	defer func() {
		if cerr := inj.SetLoss(context.WithoutCancel(ctx), nil); cerr != nil && err == nil {
			err = cerr
		}
	}()
	const probes = 3
	var last Probe
	for range probes {
		if last = probe(ctx, addr, DefaultProbeTimeout, 0); last.Outcome != OutcomeOK {
			return fmt.Errorf("efficacy: probe of %s: %s %s", addr, last.Outcome, last.Error)
		}
	}
	// A probe's packets are counted as they pass, before its answer.
	cs, err := inj.Counters(ctx)
	if err != nil {
		return err
	}
	var matched int64
	for _, c := range cs {
		matched += c.Matched
	}
	// Each probe is at least a handshake and a request: 3 packets toward the port.
	if matched < probes*3 {
		return fmt.Errorf("%w: %d probes of %s (%.1f ms each), %d packets counted on port %d", ErrNotReached, probes, addr, last.RTTMs, matched, port)
	}
	return nil
}
