package report

// glossary defines every figure of the report. Keep it in step with
// collect/specs.go and collect/resilience.go.
const glossary = `## Glossary

- **Phases**: each scenario runs *stabilization* (no fault), *testing* (fault on) and *recovery* (fault removed). Windows are the exact phase times of manifest.json. A phase shorter than 5 s (the 100 ms fault of ` + "`latency-200ms-100ms`" + `) is evaluated over [phase start, phase start + 5 s], so that it covers several 1 s scrapes and the after-effects of the fault; the scenario's notes say so.
- **Value**: the figure over the whole window, from one PromQL query over it (rate or increase of the counters; quantiles from the summed histogram buckets).
- **Samples**: the per-second series (irate between consecutive 1 s scrapes), cut to the window and averaged over blocks of consecutive seconds (block length shown per phase) so that samples are close to independent. When both sides hold at least 5 runs (` + "`bench -count`" + `), the samples are the per-run values instead. The report header says which.
- **Verdict**: a Mann–Whitney U test (golang.org/x/perf/benchmath, as benchstat) of the baseline samples against the new ones. A row is a *regression* only when p < alpha **and** the change of the value is at least the metric's minimum effect (max of a relative and an absolute floor, listed in diff.json) **and** it is in the worse direction; otherwise ` + "`~`" + `. *changed* marks a significant change of an informational metric (breaker transitions and open time: opening is what a breaker should do under a fault).
- **throughput**: completed operations (result ok or miss) per second.
- **error ratio**: failed operations / all operations; by class (timeout, circuit_open, conn_refused, conn_reset, pool_timeout, protocol, other) and by server.
- **p50/p90/p99/p99.9 latency**: quantiles of the operation duration histogram, all operations and by operation; per server p99 from the per-server histogram.
- **breaker transitions**: state changes of the circuit breakers in the window; **breaker open**: seconds a server's breaker was open (1 s resolution).
- **connections created**: new pool connections in the window (churn); **dropped operations**: open-loop operations due but not started because the in-flight cap was reached.
- **integrity violations**: reads that returned a value other than the one written for the key. Any violation fails the run, whatever the statistics say.
- **time to detect**: fault applied → the breakers of all faulted servers are open, from the exact transition timestamps the client exports (` + "`memcache_client_circuit_breaker_last_transition_timestamp_seconds`" + `); *not reached* when a breaker did not open during the fault.
- **time to recover**: fault removed → throughput and error ratio are back inside the stabilization band and stay there for 5 s (1 s resolution). The band: throughput at least median − max(3·MAD, 5 % of the median) of stabilization; error ratio at most median + max(3·MAD, 0.1 percentage point).
- **blast radius**: on the servers without a fault, the error ratio of testing minus that of stabilization, and the p99 of testing divided by that of stabilization (1.00× = untouched).
- **errors during the fault**: failed operations in the testing window.
- **breaker flaps**: re-openings of a breaker from the fault start to the end of recovery (openings beyond the first, per server).
- **fidelity**: *per-packet* loss drops each packet (netfilter); *per-connection* loss (toxiproxy) drops everything on a share of the connections; *exact* faults are what they say. Runs of different fidelities are never compared.
`
