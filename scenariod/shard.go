package scenariod

import (
	"github.com/mcchaos/mcchaos/internal/profile"
	"github.com/mcchaos/mcchaos/internal/shard"
)

// ShardItems are scenarios as shard.Items: each with its planned length
// under p (stabilization, testing, recovery), the weight a split balances.
func ShardItems(p profile.Profile, scenarios []Scenario) []shard.Item {
	items := make([]shard.Item, len(scenarios))
	for i, s := range scenarios {
		items[i] = shard.Item{Name: s.Name, Duration: Planned(p, scenarios[i:i+1])}
	}
	return items
}

// SelectShard narrows scenarios to spec's share and returns it with the
// record the manifest keeps (the whole selection and the share).
func SelectShard(p profile.Profile, scenarios []Scenario, spec shard.Spec) ([]Scenario, *shard.Record, error) {
	names, err := spec.Select(ShardItems(p, scenarios))
	if err != nil {
		return nil, nil, err
	}
	rec := &shard.Record{Index: spec.Index, Count: spec.Count, Scenarios: names}
	var share []Scenario
	for _, s := range scenarios {
		rec.Selected = append(rec.Selected, s.Name)
		for _, n := range names {
			if n == s.Name {
				share = append(share, s)
			}
		}
	}
	return share, rec, nil
}
