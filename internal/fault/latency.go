package fault

import "github.com/mcchaos/mcchaos/internal/toxiproxy"

// KindLatency delays every response by LatencyMS ± JitterMS.
const KindLatency Kind = "latency"

// Latency is the parameters of KindLatency.
type Latency struct {
	// LatencyMS is the added delay in milliseconds.
	LatencyMS float64 `json:"latency_ms"`
	// JitterMS is the delay's random spread (±) in milliseconds.
	JitterMS float64 `json:"jitter_ms"`
}

func (*Latency) Kind() Kind { return KindLatency }

func (p *Latency) fields() []field {
	return []field{
		{Param{Key: "latency_ms", Min: 0, Max: 3_600_000, Required: true}, &p.LatencyMS},
		{Param{Key: "jitter_ms", Min: 0, Max: 3_600_000}, &p.JitterMS},
	}
}

func (p *Latency) toxic() toxiproxy.Toxic {
	return toxiproxy.Toxic{Type: "latency", Attributes: map[string]any{"latency": int64(p.LatencyMS), "jitter": int64(p.JitterMS)}}
}
