package efficacy

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mcchaos/mcchaos/internal/fault"
	"github.com/mcchaos/mcchaos/internal/manifest"
)

// Judge sets rec.Verdict from rec's samples, port totals and recovery
// check of faults under tol (zero fields: the defaults). It is a pure
// function, so a verdict can be recomputed from a manifest.
func Judge(rec *Record, faults []manifest.Fault, tol Tolerance) {
	tol = tol.withDefaults()
	v := Verdict{Valid: true, Servers: []ServerResult{}}
	invalid := func(format string, args ...any) {
		v.Valid = false
		v.Reasons = append(v.Reasons, fmt.Sprintf(format, args...))
	}
	warn := func(format string, args ...any) { v.Warnings = append(v.Warnings, fmt.Sprintf(format, args...)) }
	n := len(rec.Samples)
	if n == 0 {
		invalid("no check while the faults were on")
	}

	// Gaps: spans of checks that found a fault absent.
	for i := 0; i < n; i++ {
		if !has(rec.Samples[i], ProblemAbsent) {
			continue
		}
		g := Gap{Start: rec.Samples[i].Time}
		if i > 0 {
			g.LastSeen = rec.Samples[i-1].Time
		}
		for i < n && has(rec.Samples[i], ProblemAbsent) {
			i++
		}
		if i < n {
			g.End = rec.Samples[i].Time
		}
		v.Gaps = append(v.Gaps, g)
		switch {
		case g.End.IsZero() && !rec.End.IsZero() && rec.End.Sub(g.Start) <= tol.MaxGap:
			// Gone in the phase's last moments; no time was left to
			// bring it back, and no more than MaxGap was unfaulted.
			warn("fault absent for the last %v of the phase", rec.End.Sub(g.Start).Round(time.Millisecond))
		case g.End.IsZero():
			invalid("fault absent from %s to the end of the phase: %s", g.Start.Format(time.TimeOnly), firstProblem(rec.Samples[i-1], ProblemAbsent))
		case g.End.Sub(g.Start) > tol.MaxGap:
			invalid("fault absent for %v (limit %v) from %s: %s", g.End.Sub(g.Start).Round(time.Millisecond), tol.MaxGap, g.Start.Format(time.TimeOnly), firstProblem(rec.Samples[i-1], ProblemAbsent))
		default:
			warn("fault absent for %v from %s, then back", g.End.Sub(g.Start).Round(time.Millisecond), g.Start.Format(time.TimeOnly))
		}
	}

	// Signs counted over the checks.
	share := func(kind, what string) {
		k, first := count(rec.Samples, kind), ""
		for _, s := range rec.Samples {
			if first = firstProblem(s, kind); first != "" {
				break
			}
		}
		switch {
		case k == 0:
		case kind == ProblemLeak:
			invalid("%s in %d of %d checks, first: %s", what, k, n, first)
		case kind == ProblemHarmed:
			// A slow or failed probe of a server no fault targets does not
			// prove a leak (counters and toxics do, as ProblemLeak): the
			// shared proxy or the machine may be loaded. It is told, not
			// judged: the blast radius, not the fault's validity.
			warn("%s in %d of %d checks, first: %s", what, k, n, first)
		case float64(k) > tol.Share*float64(n) && k >= tol.MinSigns:
			invalid("%s in %d of %d checks (limit %.0f %%), first: %s", what, k, n, 100*tol.Share, first)
		default:
			warn("%s in %d of %d checks, first: %s", what, k, n, first)
		}
	}
	share(ProblemLeak, "fault on a server it does not target")
	share(ProblemIneffective, "fault not seen by the probe")
	share(ProblemHarmed, "a server no fault targets failed its probe")
	share(ProblemUnknown, "injector state unreadable")
	if k := count(rec.Samples, ProblemStalled); k > 0 {
		warn("the machine stalled (the oracle's own timer late by more than %v) in %d of %d checks, in which probes of servers no fault targets failed or were slow", tol.StallLag, k, n)
	}

	ex := expectations(faults)
	for _, name := range serverNames(rec) {
		r := serverResult(rec, name, ex[name])
		v.Servers = append(v.Servers, r)
		e := ex[name]
		if e == nil || !e.counted {
			continue
		}
		want := 0.0
		for _, f := range e.faults {
			if counted(f) {
				want = lossPct(f)
			}
		}
		switch {
		case r.Matched == 0:
			invalid("the loss rule on %s matched no packet: its traffic does not pass where the rule is", name)
		case r.Dropped == 0 && unlikelyNone(want, r.Matched):
			invalid("the loss rule on %s dropped none of %d packets (requested %g %%)", name, r.Matched, want)
		case r.Dropped == 0:
			warn("the loss rule on %s dropped none of %d packets: too few to judge at %g %%", name, r.Matched, want)
		default:
			p := want / 100
			allowed := math.Max(tol.LossPoints, 400*math.Sqrt(p*(1-p)/float64(r.Matched)))
			if math.Abs(*r.LossPct-want) > allowed {
				invalid("%s lost %.1f %% of %d packets, requested %g %% (allowed ±%.1f points)", name, *r.LossPct, r.Matched, want, allowed)
			}
		}
		for _, c := range rec.Ports {
			if c.Matched >= tol.MinPackets && c.Dropped == 0 && unlikelyNone(want, c.Matched) && overlaps(c.Ports, rec.ServerPorts[name]) {
				invalid("ports %v of %s dropped none of %d packets", c.Ports, name, c.Matched)
			}
		}
	}

	switch {
	case rec.Recovery == nil:
		warn("no check after the faults were removed")
	case has(*rec.Recovery, ProblemLingering):
		invalid("fault still in effect after its removal: %s", firstProblem(*rec.Recovery, ProblemLingering))
	case has(*rec.Recovery, ProblemHarmed):
		warn("a probe was slow after the faults were removed: %s", firstProblem(*rec.Recovery, ProblemHarmed))
	}
	v.Line = line(v.Servers)
	rec.Verdict = v
}

// count returns how many samples have a problem of kind.
func count(samples []Sample, kind string) int {
	k := 0
	for _, s := range samples {
		if has(s, kind) {
			k++
		}
	}
	return k
}

// serverNames are the servers in rec's samples, in their order.
func serverNames(rec *Record) []string {
	var names []string
	for _, s := range rec.Samples {
		for _, ss := range s.Servers {
			if !slices.Contains(names, ss.Server) {
				names = append(names, ss.Server)
			}
		}
	}
	return names
}

// unlikelyNone reports whether n packets at pct percent loss would all
// pass with a probability below 1 in 1000: then none dropped is a rule
// that does not work, not chance.
func unlikelyNone(pct float64, n int64) bool {
	return pct > 0 && float64(n)*math.Log1p(-math.Min(pct, 99.9999)/100) < math.Log(0.001)
}

func overlaps(a, b []int) bool {
	return slices.ContainsFunc(a, func(x int) bool { return slices.Contains(b, x) })
}

// serverResult sums server name's samples.
func serverResult(rec *Record, name string, e *expectation) ServerResult {
	r := ServerResult{Server: name, Requested: "none", ProbeOutcomes: map[string]int{}}
	if e != nil {
		var ds []string
		for _, f := range e.faults {
			ds = append(ds, describe(f))
		}
		r.Requested = strings.Join(ds, " + ")
	}
	var added []float64
	for _, s := range rec.Samples {
		for _, ss := range s.Servers {
			if ss.Server != name {
				continue
			}
			r.Samples++
			if ss.InState == ss.Proxies {
				r.InState++
			}
			r.Matched += ss.Matched
			r.Dropped += ss.Dropped
			r.ProbeOutcomes[ss.Probe.Outcome]++
			if ss.Probe.Outcome == OutcomeOK {
				added = append(added, ss.Probe.AddedMs)
			}
		}
	}
	if r.Matched > 0 {
		l := 100 * float64(r.Dropped) / float64(r.Matched)
		r.LossPct = &l
	}
	r.AddedMsMedian = median(added)
	return r
}

// describe says what f requests, as a report would.
func describe(f manifest.Fault) string {
	switch p := f.Params.(type) {
	case *fault.PacketLoss:
		if !counted(f) {
			// toxiproxy's emulation: toxicity is drawn once per connection.
			return fmt.Sprintf("%g %% of connections black-holed (per-connection emulation of loss)", p.LossPct)
		}
		return fmt.Sprintf("%g %% loss", p.LossPct)
	case *fault.Latency:
		if p.JitterMS > 0 {
			return fmt.Sprintf("+%g ms ±%g ms latency", p.LatencyMS, p.JitterMS)
		}
		return fmt.Sprintf("+%g ms latency", p.LatencyMS)
	}
	return strings.ReplaceAll(string(f.Kind), "_", " ")
}

// line is the one-line summary: per targeted server requested vs
// measured, then the others.
func line(rs []ServerResult) string {
	var on, off []string
	for _, r := range rs {
		m := measured(r)
		if r.Requested == "none" {
			off = append(off, r.Server+" "+m)
			continue
		}
		on = append(on, fmt.Sprintf("%s: requested %s, measured %s", r.Server, r.Requested, m))
	}
	s := strings.Join(on, "; ")
	if len(off) > 0 {
		s += "; elsewhere " + strings.Join(off, ", ")
	}
	return s
}

// measured describes what was measured on a server.
func measured(r ServerResult) string {
	var parts []string
	if r.LossPct != nil {
		parts = append(parts, fmt.Sprintf("%.1f %% of %d packets lost", *r.LossPct, r.Matched))
	}
	if k := r.ProbeOutcomes[OutcomeOK]; k > 0 {
		parts = append(parts, fmt.Sprintf("probe %+.1f ms", r.AddedMsMedian))
	}
	for _, o := range []string{OutcomeRefused, OutcomeReset, OutcomeClosed, OutcomeTimeout, OutcomeError} {
		if k := r.ProbeOutcomes[o]; k > 0 {
			parts = append(parts, fmt.Sprintf("%d/%d probes %s", k, r.Samples, o))
		}
	}
	if r.InState < r.Samples {
		parts = append(parts, fmt.Sprintf("proxies as wanted in %d/%d checks", r.InState, r.Samples))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// firstProblem returns the first problem of kind in s, with its server.
func firstProblem(s Sample, kind string) string {
	for _, ss := range s.Servers {
		for _, p := range ss.Problems {
			if p.Kind == kind {
				return ss.Server + ": " + p.Detail
			}
		}
	}
	return ""
}
