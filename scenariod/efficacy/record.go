package efficacy

import "time"

// Problem kinds of a Sample.
const (
	// ProblemAbsent: the injector's own state says a fault is not in place
	// on a server it targets (a toxic or proxy state missing, no loss rule).
	ProblemAbsent = "absent"
	// ProblemLeak: the injector's state shows a fault on a server no fault
	// targets (a toxic, a disabled proxy, dropped packets).
	ProblemLeak = "leak"
	// ProblemIneffective: the probe of a targeted server does not see what
	// the fault should do (no added latency, a refusal under packet loss).
	ProblemIneffective = "ineffective"
	// ProblemHarmed: the probe of a server no fault targets failed or was
	// slow. It may be a leak or a stalled machine; only a share of such
	// seconds above Tolerance.Share invalidates a scenario.
	ProblemHarmed = "harmed"
	// ProblemStalled: a harmed probe in a check during which the oracle
	// itself was not scheduled on time (Sample.LagMs): the machine, not
	// the fault. Never invalidates; the report shows it.
	ProblemStalled = "stalled"
	// ProblemLingering: in recovery, something of the fault is still there.
	ProblemLingering = "lingering"
	// ProblemUnknown: the injector could not be asked (toxiproxy or nft
	// unreachable); nothing is proven either way.
	ProblemUnknown = "unknown"
)

// Probe outcomes.
const (
	OutcomeOK      = "ok"
	OutcomeRefused = "refused" // connection refused
	OutcomeReset   = "reset"   // connection reset by peer
	OutcomeClosed  = "closed"  // closed before the answer
	OutcomeTimeout = "timeout" // no answer within the probe timeout
	OutcomeError   = "error"   // anything else
)

// Record is what the oracle saw during one scenario's testing phase and
// at its recovery check, and its verdict. It and the types below are
// plain data that import nothing of mcchaos, so that the manifest can hold
// them and collect read them without depending on scenariod.
type Record struct {
	// Samples are the checks while the faults were on, about one a second
	// (more often while a fault was found absent).
	Samples []Sample `json:"samples"`
	// End is when the watch was stopped: the end of the faulted phase.
	End time.Time `json:"end,omitzero"`
	// Recovery is the check that the faults are gone, after their removal.
	Recovery *Sample `json:"recovery,omitempty"`
	// Ports are the loss injector's counters summed over the testing
	// phase, per port (netfilter) or port group (netem).
	Ports []PortCount `json:"ports,omitempty"`
	// ServerPorts are the proxy ports of each server.
	ServerPorts map[string][]int `json:"server_ports"`
	// Verdict is set by Judge.
	Verdict Verdict `json:"verdict"`
}

// PortCount is a loss injector's count on a group of ports (one port for
// netfilter): Matched packets, of which Dropped were dropped.
type PortCount struct {
	Ports   []int `json:"ports"`
	Matched int64 `json:"matched"`
	Dropped int64 `json:"dropped"`
}

// Sample is one check of every server.
type Sample struct {
	Time time.Time `json:"time"`
	// LagMs is how late a 20 ms timer of the oracle fired during the
	// check: above Tolerance.StallLag the machine was stalled.
	LagMs   float64        `json:"lag_ms"`
	Servers []ServerSample `json:"servers"`
}

// ServerSample is what one check saw of one server.
type ServerSample struct {
	Server string `json:"server"`
	// Targeted is true when a fault targets the server.
	Targeted bool `json:"targeted"`
	// Counted is true when a loss counter covers the server's ports;
	// Matched and Dropped are its packets since the previous sample.
	Counted bool  `json:"counted"`
	Matched int64 `json:"matched,omitempty"`
	Dropped int64 `json:"dropped,omitempty"`
	// Proxies is how many proxies the server has; InState how many of
	// them are as the faults want them (toxics present, enabled or not).
	Proxies int `json:"proxies"`
	InState int `json:"in_state"`
	// Probe is the independent probe through one of the server's proxies.
	Probe    Probe     `json:"probe"`
	Problems []Problem `json:"problems,omitempty"`
}

// Probe is one request on a fresh connection: dial, then "version".
type Probe struct {
	Outcome string `json:"outcome"`
	// DialMs is the connect time, RTTMs the request's round trip after it,
	// AddedMs RTTMs less the server's baseline round trip.
	DialMs  float64 `json:"dial_ms"`
	RTTMs   float64 `json:"rtt_ms,omitempty"`
	AddedMs float64 `json:"added_ms,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// Problem is one thing a check found wrong.
type Problem struct {
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// Verdict says whether the faults were in effect as requested, where.
type Verdict struct {
	// Valid is false when a fault did not take effect, was absent longer
	// than Tolerance.MaxGap, leaked onto a server it does not target, or
	// lingered into recovery; Reasons say which.
	Valid   bool     `json:"valid"`
	Reasons []string `json:"reasons,omitempty"`
	// Warnings are signs below the thresholds, for the reader.
	Warnings []string `json:"warnings,omitempty"`
	// Gaps are the spans in which a fault was found absent; a gap starts
	// at the first check that saw it absent (it may have gone up to one
	// check interval earlier) and ends at the first that saw it back.
	Gaps []Gap `json:"gaps,omitempty"`
	// Servers are the measured effects per server over the testing phase.
	Servers []ServerResult `json:"servers"`
	// Line is the one-line summary for a report.
	Line string `json:"line"`
}

// Gap is a span in which a fault was absent. End is zero if it never came
// back before the phase ended. LastSeen is the check before Start (zero if none), which still saw
// the fault: the fault went between LastSeen and Start.
type Gap struct {
	LastSeen time.Time `json:"last_seen,omitzero"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end,omitzero"`
}

// ServerResult is the requested and measured effect on one server.
type ServerResult struct {
	Server string `json:"server"`
	// Requested describes the faults on the server ("10 % loss"), or "none".
	Requested string `json:"requested"`
	// Matched and Dropped are the packets over the phase; LossPct is
	// Dropped/Matched in percent, absent when nothing was counted.
	Matched int64    `json:"matched,omitempty"`
	Dropped int64    `json:"dropped,omitempty"`
	LossPct *float64 `json:"loss_pct,omitempty"`
	// Samples is the number of checks, InState how many found every proxy
	// as the faults want it.
	Samples int `json:"samples"`
	InState int `json:"in_state"`
	// ProbeOutcomes counts the probes' outcomes; AddedMsMedian is the
	// median added latency of the successful ones.
	ProbeOutcomes map[string]int `json:"probe_outcomes"`
	AddedMsMedian float64        `json:"added_ms_median"`
}
