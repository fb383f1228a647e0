package deploy

import "sort"

// ContractMetrics are the metric families of DESIGN.md ("Contracts:
// Metrics"), which loadgen and scenariod export. Histograms are listed by
// family name; KnownMetricNames adds their series names.
var ContractMetrics = []string{
	// loadgen
	"memcache_client_operations_total",
	"memcache_client_errors_total",
	"memcache_client_integrity_violations_total",
	"memcache_client_circuit_breaker_state",
	"memcache_client_circuit_breaker_transitions_total",
	"memcache_client_circuit_breaker_last_transition_timestamp_seconds",
	"memcache_client_pool_connections",
	"memcache_client_pool_connections_created_total",
	"memcache_client_pool_connections_destroyed_total",
	"loadgen_offered_operations_total",
	"loadgen_dropped_operations_total",
	"loadgen_info",
	// scenariod
	"scenario_phase",
	"scenario_active",
	"scenario_phase_duration_seconds",
	"scenario_runs_total",
	"fault_active",
	"fault_value",
}

// ContractHistograms are the histogram families of DESIGN.md.
var ContractHistograms = []string{
	"memcache_client_operation_duration_seconds",
	"memcache_client_server_duration_seconds",
	"memcache_client_pool_acquire_duration_seconds",
}

// ScrapeMetrics are the series Prometheus adds to every scrape target.
var ScrapeMetrics = []string{
	"up", "scrape_duration_seconds", "scrape_samples_scraped",
	"scrape_samples_post_metric_relabeling", "scrape_series_added",
}

// KnownMetricNames returns every series name that the contract allows a
// dashboard to use: ContractMetrics, the _bucket, _sum and _count series of
// ContractHistograms, and ScrapeMetrics. Sorted.
func KnownMetricNames() []string {
	names := append([]string(nil), ContractMetrics...)
	for _, h := range ContractHistograms {
		names = append(names, h+"_bucket", h+"_sum", h+"_count")
	}
	names = append(names, ScrapeMetrics...)
	sort.Strings(names)
	return names
}
