package report

// glossary explains the method and defines every figure of the report.
// Keep it in step with collect/specs.go, collect/resilience.go and
// collect/compare.
const glossary = `## Glossary

**How the verdict is reached, in plain words.**

- **Sides and arms**: the *head* side is the code under test; the *base* side is what it is compared with — in a paired run, the base build running at the same time on the same machine under the same faults; otherwise the head arms of the stored baseline. Each side runs *k arms*: k separate client processes, each with its own connections and its own path through toxiproxy to the same three memcached servers. A fault is applied to every arm's path at the same instant (the *fault spread* is how far apart, goal ≤ 10 ms).
- **One value per arm**: every figure is computed once per arm over the exact phase window. Those k values per side are the samples. Seconds of one run are not used as samples: they share the run's machine state and are not independent.
- **Medians and ranges**: each side's cell is the median of its arms with the smallest and largest arm in brackets.
- **Effect**: the Hodges–Lehmann shift, the median of the differences head − base over every pair of arms, with its confidence interval (exact, from the Mann–Whitney distribution). It is in the figure's own unit.
- **p**: the Mann–Whitney U test (golang.org/x/perf/benchmath, as benchstat) of the base arms against the head arms. With 5 arms per side the smallest possible p is 0.008 (every head arm beyond every base arm).
- **Gating figures**: a small family per scenario can fail the run — throughput, error ratio and p99 latency in the testing phase (or, for a fault shorter than 5 s, the fault event's failed operations and peak p99), time to detect and time to recover. A gating figure is a **regression** when p < alpha **and** the effect is beyond its floor in the worse direction; **improvement** the same the better way; otherwise ` + "`~`" + `.
- **Floors** (*smallest change flagged*): from calibration — ` + "`make calibrate`" + ` runs the same build on both sides many times (A/A) on this host class and measures how far the effect of each gating figure wanders when nothing changed (its *spread*); the floor is a fixed multiple of that spread (4 by default), never below the largest change an A/A run showed, the measurement's resolution, nor a change too small to act on (2 % of the base median for throughput, 5 % for p99 latency and time to detect). The calibration file also holds the measured false-alarm rate: the share of A/A runs that would have flagged anything, each judged with floors fitted on the other runs only. Without a calibration the floors are defaults, and the header says so.
- **Why not a multiple-testing correction**: about 84 gating figures per run, and a 5-against-5 U test cannot go below p = 0.008, so Holm's correction (0.05/84 = 0.0006) could never flag anything. Instead a gating figure needs p < 0.01 (with 5 arms a side: every head arm beyond every base arm) and an effect beyond its floor; the floors, measured on A/A runs, hold the false alarms of a whole run down, and that rate is measured, not assumed.
- **Informational figures**: everything else (percentiles by operation, per-server figures, error classes, breaker activity, connection churn, blast radius). They show **worse**, **better** or **changed** with the same test and a default floor, and never fail the run. Error-class shares have no better or worse (fewer fast circuit_open failures because operations now wait for a timeout is not an improvement): they only show **changed**.
- **Not reached** (a breaker that never opened, a client that never recovered) ranks worse than every value reached, and it gates.
- **No data**: an arm without a value for a figure (no operations of that kind, or its process did not run); the note says which.
- **Integrity violations**: reads that returned a value other than the one written for the key. Any violation on a head arm fails the run, whatever the statistics say.
- **Invalid scenario**: not an experiment, so never judged (shown, named in the first line, exit 2): the efficacy oracle found its faults not in effect as requested or leaking onto another server, or both sides failed more than 5 % of operations in stabilization — the steady state before the fault did not hold (a starved machine, or the previous scenario not yet recovered).

**The figures.**

- **Phases**: each scenario runs *stabilization* (no fault), *testing* (fault on) and *recovery* (fault removed). Windows are the exact phase times of manifest.json; rates use only the scrapes inside the window, so no value carries the previous phase. Counts (errors, connections, integrity) are measured from the last scrape at or before the window's start.
- **Fault event**: a fault shorter than 5 s (100 ms, 1 s) is too short for per-phase rates; it is measured as an event from the fault's start over the next 5 s (never past the scenario's end): **failed operations** (errors in that window) and **peak p99 latency** (the highest per-second p99; each per-second point covers one scrape interval).
- **throughput**: completed operations (result ok or miss) per second.
- **error ratio**: failed operations / all operations; by class (timeout, circuit_open, conn_refused, conn_reset, pool_timeout, protocol, other) and by server.
- **p50/p90/p99/p99.9 latency**: quantiles of the operation duration histogram, all operations and by operation; per server p99 from the per-server histogram.
- **breaker transitions**: state changes of the circuit breakers in the window; **breaker open**: seconds a server's breaker was open (1 s resolution).
- **connections created**: new pool connections in the window (churn); **dropped operations**: open-loop operations due but not started because the in-flight cap was reached.
- **time to detect**: the arm's fault applied → the breakers of all faulted servers are open on that arm, from the exact transition timestamps the client exports (` + "`memcache_client_circuit_breaker_last_transition_timestamp_seconds`" + `); *not reached* when a breaker did not open during the fault (at least 5 s).
- **time to recover**: the arm's fault removed → the arm's throughput and error ratio are back inside its own stabilization band and stay there for 5 s (1 s resolution); *not reached* if not before the recovery phase ended. The band: throughput at least median − max(3·MAD, 5 % of the median) of stabilization; error ratio at most median + max(3·MAD, 0.1 percentage point).
- **blast radius**: on the servers without a fault, the error ratio of testing minus that of stabilization, and the p99 of testing divided by that of stabilization (1.00× = untouched).
- **errors during the fault**: failed operations in the testing window.
- **breaker flaps**: re-openings of a breaker from the fault start to the end of recovery (openings beyond the first, per server).
- **fidelity**: *per-packet* loss drops each packet (netfilter); *per-connection* loss (toxiproxy) drops everything on a share of the connections; *exact* faults are what they say. Runs of different fidelities are never compared.
- **Charts**: per side, the line is the median of the arms each second and the band their range; grey is base, blue head.
`
