package scenariod

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Values of scenario_phase.
const (
	PhaseIdle          = 0
	PhaseStabilization = 1
	PhaseTesting       = 2
	PhaseRecovery      = 3
)

// Metrics are scenariod's metrics, with DESIGN.md's names. It is safe for
// concurrent use.
type Metrics struct {
	Phase         *prometheus.GaugeVec   // scenario_phase{scenario}
	Active        prometheus.Gauge       // scenario_active
	PhaseDuration *prometheus.GaugeVec   // scenario_phase_duration_seconds{scenario,phase}
	Runs          *prometheus.CounterVec // scenario_runs_total{scenario,status}
	FaultActive   *prometheus.GaugeVec   // fault_active{server,kind,injector}
	FaultValue    *prometheus.GaugeVec   // fault_value{server,kind,param}
}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Phase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scenario_phase",
			Help: "Current phase of the scenario: 0 idle, 1 stabilization, 2 testing (fault on), 3 recovery.",
		}, []string{"scenario"}),
		Active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scenario_active",
			Help: "1 while a scenario runs, else 0.",
		}),
		PhaseDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scenario_phase_duration_seconds",
			Help: "Measured length of the scenario's last completed phase.",
		}, []string{"scenario", "phase"}),
		Runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scenario_runs_total",
			Help: "Scenarios finished, by status (passed, failed, interrupted).",
		}, []string{"scenario", "status"}),
		FaultActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fault_active",
			Help: "1 while a fault of this kind is applied to the server by this injector, else 0.",
		}, []string{"server", "kind", "injector"}),
		FaultValue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fault_value",
			Help: "Parameter of the fault applied to the server (unit in the param label, e.g. loss_pct, latency_ms); 0 when none.",
		}, []string{"server", "kind", "param"}),
	}
	reg.MustRegister(m.Phase, m.Active, m.PhaseDuration, m.Runs, m.FaultActive, m.FaultValue)
	return m
}

// NewRegistry returns a registry with the Go and process collectors and
// scenariod's metrics on it.
func NewRegistry() (*prometheus.Registry, *Metrics) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg, NewMetrics(reg)
}
