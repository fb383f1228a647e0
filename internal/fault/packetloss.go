package fault

import "github.com/mcchaos/mcchaos/internal/toxiproxy"

// KindPacketLoss drops LossPct percent of the packets (netfilter, netem)
// or black-holes LossPct percent of the connections (toxiproxy emulation).
const KindPacketLoss Kind = "packet_loss"

// PacketLoss is the parameters of KindPacketLoss.
type PacketLoss struct {
	// LossPct is the share of packets lost, in percent (0.01 to 100).
	LossPct float64 `json:"loss_pct"`
}

func (*PacketLoss) Kind() Kind { return KindPacketLoss }

func (p *PacketLoss) fields() []field {
	return []field{{Param{Key: "loss_pct", Min: 0.01, Max: 100, Required: true}, &p.LossPct}}
}

// toxic is the per-connection emulation: toxiproxy draws the toxicity once
// per connection, and those connections lose every request.
func (p *PacketLoss) toxic() toxiproxy.Toxic {
	return toxiproxy.Toxic{Type: "timeout", Stream: "upstream", Toxicity: p.LossPct / 100, Attributes: map[string]any{"timeout": 0}}
}
