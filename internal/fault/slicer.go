package fault

import "github.com/mcchaos/mcchaos/internal/toxiproxy"

// KindSlicer cuts responses into pieces of about AverageSizeBytes (±
// SizeVariationBytes), DelayUS apart (toxiproxy slicer).
const KindSlicer Kind = "slicer"

// Slicer is the parameters of KindSlicer.
type Slicer struct {
	// AverageSizeBytes is the mean piece size in bytes (default 1).
	AverageSizeBytes float64 `json:"average_size_bytes"`
	// SizeVariationBytes is the pieces' random spread in bytes.
	SizeVariationBytes float64 `json:"size_variation_bytes"`
	// DelayUS is the pause between pieces in microseconds (default 100).
	DelayUS float64 `json:"delay_us"`
}

func (*Slicer) Kind() Kind { return KindSlicer }

func (p *Slicer) fields() []field {
	return []field{
		{Param{Key: "average_size_bytes", Min: 1, Max: 1 << 20, Default: 1}, &p.AverageSizeBytes},
		{Param{Key: "size_variation_bytes", Min: 0, Max: 1 << 20}, &p.SizeVariationBytes},
		{Param{Key: "delay_us", Min: 0, Max: 10_000_000, Default: 100}, &p.DelayUS},
	}
}

func (p *Slicer) toxic() toxiproxy.Toxic {
	return toxiproxy.Toxic{Type: "slicer", Attributes: map[string]any{"average_size": int64(p.AverageSizeBytes), "size_variation": int64(p.SizeVariationBytes), "delay": int64(p.DelayUS)}}
}
