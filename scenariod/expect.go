package scenariod

import (
	"fmt"
	"math"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/plan"
)

// Expectations, as the manifest and scenario files spell them: what a good
// client does under a scenario's faults.
const (
	// ExpectRideThrough: the faulted servers are slow or lossy but answer
	// within the operation timeout. A good client keeps its breaker closed
	// and its errors near zero; a breaker that opens is a false ejection.
	ExpectRideThrough = plan.ExpectRideThrough
	// ExpectDetect: the faulted servers are gone for the client (they do
	// not answer within the timeout). A good client fails fast (its breaker
	// opens, sooner is better), then recovers soon after the fault ends.
	ExpectDetect = plan.ExpectDetect
)

// The physics the built-in expectations are derived from.
const (
	// ReferenceTimeout is the operation timeout a scenario's expectation
	// is derived against: the client's default (memcache.DefaultTimeout).
	// A side that changes its timeout is still judged by the scenario's
	// expectation: a client that waits 5 s for a server 500 ms late no
	// longer detects what its peers detect, and that is reported.
	ReferenceTimeout = 500 * time.Millisecond
	// MinRTO is Linux's minimum TCP retransmission timeout: a lost segment
	// on loopback is sent again after 200 ms, a second loss after 400 ms more.
	MinRTO = 200 * time.Millisecond
	// RideThroughAnswered is the share of requests a faulted server must
	// answer within ReferenceTimeout for its scenario to be ride-through.
	RideThroughAnswered = 0.9
)

// Answered returns the share of requests to a server under fault f that the
// model says are answered within timeout, and the model in words.
//
//   - latency L (± jitter J): every request waits L; answered when
//     L + J < timeout (1), otherwise 0.
//   - packet loss p per packet: a request-response exchange is two data
//     segments; each is delivered at once (1−p), or after one
//     retransmission (p(1−p), MinRTO later), which still fits a 500 ms
//     timeout; two losses of one segment (p², 600 ms) do not. So
//     answered = (1 − p²)² when MinRTO < timeout, else (1 − p)².
//     2 % → 0.999, 20 % → 0.92, 50 % → 0.56, 100 % → 0.
//   - bandwidth and slicing slow responses down but deliver them: 1.
//   - server down, blackhole, connection reset, process kill: 0.
func Answered(f fault.Fault, timeout time.Duration) (float64, string) {
	switch p := f.Params.(type) {
	case *fault.Latency:
		d := time.Duration((p.LatencyMS + p.JitterMS) * float64(time.Millisecond))
		if d < timeout {
			return 1, fmt.Sprintf("+%v < timeout %v: every request answered", d, timeout)
		}
		return 0, fmt.Sprintf("+%v ≥ timeout %v: no request answered in time", d, timeout)
	case *fault.PacketLoss:
		q := p.LossPct / 100
		a := math.Pow(1-q, 2)
		if MinRTO < timeout {
			a = math.Pow(1-q*q, 2)
		}
		return a, fmt.Sprintf("%g %% loss: (1 − p²)² = %.2f of requests answered within %v (one retransmission after %v fits)", p.LossPct, a, timeout, MinRTO)
	case *fault.Bandwidth, *fault.Slicer:
		return 1, "responses slowed, still delivered"
	}
	return 0, "the server does not answer"
}

// Expectation derives what a good client does under s's faults: detect
// when some faulted server answers less than RideThroughAnswered of
// requests within ReferenceTimeout, ride through otherwise. The second
// value is the reason, in words.
func Expectation(s Scenario) (string, string) {
	if s.Expect != "" {
		return s.Expect, "stated by the scenario"
	}
	worst, why := 1.0, ""
	for _, f := range s.Faults {
		if a, w := Answered(f, ReferenceTimeout); a <= worst {
			worst, why = a, w
		}
	}
	if worst >= RideThroughAnswered {
		return ExpectRideThrough, why
	}
	return ExpectDetect, why
}
