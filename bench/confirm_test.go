package bench

import (
	"slices"
	"testing"

	"github.com/mcchaos/mcchaos/internal/plan"
)

// TestWithPredecessors: the confirmation stage runs each candidate after
// the scenario that preceded it in the first stage, in the first stage's
// order, each once.
func TestWithPredecessors(t *testing.T) {
	all := []plan.Scenario{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e"}}
	for _, tc := range []struct {
		candidates, want []string
	}{
		{[]string{"a"}, []string{"a"}},
		{[]string{"c"}, []string{"b", "c"}},
		{[]string{"e", "c"}, []string{"b", "c", "d", "e"}},
		{[]string{"b", "c"}, []string{"a", "b", "c"}},
		{nil, nil},
	} {
		got, names := withPredecessors(all, tc.candidates)
		var gotNames []string
		for _, s := range got {
			gotNames = append(gotNames, s.Name)
		}
		if !slices.Equal(gotNames, tc.want) || !slices.Equal(names, tc.want) {
			t.Errorf("candidates %v: scenarios %v, names %v, want %v", tc.candidates, gotNames, names, tc.want)
		}
	}
}
