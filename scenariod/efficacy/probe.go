package efficacy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sort"
	"strings"
	"syscall"
	"time"
)

// probe dials addr and asks memcached for its version on the new
// connection, within timeout. baseline is the server's normal round trip.
func probe(ctx context.Context, addr string, timeout, baseline time.Duration) Probe {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var p Probe
	start := time.Now()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	p.DialMs = ms(time.Since(start))
	if err != nil {
		return p.fail(err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	sent := time.Now()
	if _, err := io.WriteString(c, "version\r\n"); err != nil {
		return p.fail(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return p.fail(err)
	}
	rtt := time.Since(sent)
	if !strings.HasPrefix(line, "VERSION ") {
		p.Outcome, p.Error = OutcomeError, "unexpected answer "+strings.TrimSpace(line)
		return p
	}
	p.Outcome, p.RTTMs, p.AddedMs = OutcomeOK, ms(rtt), ms(rtt-baseline)
	return p
}

// fail records err with its outcome.
func (p Probe) fail(err error) Probe {
	p.Outcome, p.Error = outcome(err), err.Error()
	return p
}

// outcome classifies a probe's error.
func outcome(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return OutcomeRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return OutcomeReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return OutcomeClosed
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return OutcomeTimeout
	}
	return OutcomeError
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// median returns the median of xs (0 for none); it sorts xs.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
