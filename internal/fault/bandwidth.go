package fault

import "github.com/mcchaos/mcchaos/internal/toxiproxy"

// KindBandwidth limits responses to RateKBps kilobytes per second per
// connection (toxiproxy bandwidth; its unit is KB/s).
const KindBandwidth Kind = "bandwidth"

// Bandwidth is the parameters of KindBandwidth.
type Bandwidth struct {
	// RateKBps is the limit in kilobytes per second per connection.
	RateKBps float64 `json:"rate_kbps"`
}

func (*Bandwidth) Kind() Kind { return KindBandwidth }

func (p *Bandwidth) fields() []field {
	return []field{{Param{Key: "rate_kbps", Min: 1, Max: 10_000_000, Required: true}, &p.RateKBps}}
}

func (p *Bandwidth) toxic() toxiproxy.Toxic {
	return toxiproxy.Toxic{Type: "bandwidth", Attributes: map[string]any{"rate": int64(p.RateKBps)}}
}
