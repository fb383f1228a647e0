package scenariod

import (
	"slices"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/profile"
	"github.com/mcchaos/mcchaos/internal/shard"
)

// TestShardPR: the 14 scenarios of the pr profile in 3 shards. Every
// scenario lands in exactly one shard, the shards' totals are within the
// longest scenario of each other (LPT), and the split is the same every
// time. The totals are what a 3-runner matrix would take per runner
// (scenario time only: the stack's start-up and collect come on top).
func TestShardPR(t *testing.T) {
	p, err := profile.Get("pr")
	if err != nil {
		t.Fatal(err)
	}
	all, err := Select(Builtin(), SetAll)
	if err != nil {
		t.Fatal(err)
	}
	items := ShardItems(p, all)
	whole := shard.Total(items)
	var longest time.Duration
	for _, it := range items {
		longest = max(longest, it.Duration)
	}
	var seen []string
	var totals []time.Duration
	for i := 1; i <= 3; i++ {
		share, rec, err := SelectShard(p, all, shard.Spec{Index: i, Count: 3})
		if err != nil {
			t.Fatal(err)
		}
		again, _, _ := SelectShard(p, all, shard.Spec{Index: i, Count: 3})
		var names []string
		for _, s := range share {
			names = append(names, s.Name)
		}
		var againNames []string
		for _, s := range again {
			againNames = append(againNames, s.Name)
		}
		if !slices.Equal(names, againNames) || !slices.Equal(names, rec.Scenarios) {
			t.Errorf("shard %d/3: %v, then %v, record %v", i, names, againNames, rec.Scenarios)
		}
		if len(rec.Selected) != 14 || rec.Index != i || rec.Count != 3 {
			t.Errorf("shard %d/3: record %+v", i, rec)
		}
		d := Planned(p, share)
		totals = append(totals, d)
		seen = append(seen, names...)
		t.Logf("shard %d/3: %s in %d scenarios: %v", i, d, len(names), names)
	}
	t.Logf("unsharded: %s; longest shard %s", whole, slices.Max(totals))
	slices.Sort(seen)
	var want []string
	for _, s := range all {
		want = append(want, s.Name)
	}
	slices.Sort(want)
	if !slices.Equal(seen, want) {
		t.Errorf("the shards hold %v, want each of the 14 once", seen)
	}
	if spread := slices.Max(totals) - slices.Min(totals); spread > longest {
		t.Errorf("shard totals %v differ by %s, more than the longest scenario (%s)", totals, spread, longest)
	}
	if _, _, err := SelectShard(p, all, shard.Spec{Index: 1, Count: 15}); err == nil {
		t.Error("15 shards of 14 scenarios: no error")
	}
}
