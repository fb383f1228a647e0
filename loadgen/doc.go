// Package loadgen drives a memcache client under test and measures it.
//
// The pieces, in the order an operation meets them:
//
//   - Workload (Mix and the named Workloads) picks the operation kind,
//     Keyspace the key (a hot set and the rest), Sizes the value size.
//   - Codec writes values that carry their key, a run id, a per-key
//     version and a checksum; Oracle keeps each key's recent writes and
//     deletes and judges every value read: a value of another key, a torn
//     or truncated value, a version never written, or one superseded by an
//     acknowledged write or delete before the read began is an integrity
//     violation (counted and logged, never noise).
//   - Run is the runner: open loop at Config.Rate (operation i is due at
//     start + i/Rate and its latency counts from then, so stalls are not
//     hidden; at most Config.Concurrency in flight, the excess dropped and
//     counted) or closed loop with Concurrency workers.
//   - driver.Driver is the seam to the client: adapters for our client
//     (memcache) and for github.com/bradfitz/gomemcache map each client's
//     errors onto shared sentinels, and Classify turns them into the error
//     classes of the metrics.
//   - Metrics are the Prometheus collectors of DESIGN.md, on the caller's
//     registry; the client's breaker transitions arrive through a hook
//     with their exact time, its pool statistics are read on each scrape.
//
// Serve ties them together for cmd/loadgen: /metrics, the start-up health
// wait, the load, and the linger after it.
package loadgen
