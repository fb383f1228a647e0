package shard

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Spec
		ok   bool
	}{
		{"1/1", Spec{1, 1}, true},
		{"2/3", Spec{2, 3}, true},
		{"3/3", Spec{3, 3}, true},
		{"0/3", Spec{}, false}, // 1-based
		{"4/3", Spec{}, false}, // beyond n
		{"1/0", Spec{}, false},
		{"-1/3", Spec{}, false},
		{"2", Spec{}, false},   // no count
		{"a/b", Spec{}, false}, // not numbers
		{"", Spec{}, false},
	} {
		got, err := Parse(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrUsage) {
			t.Errorf("Parse(%q): %v does not wrap ErrUsage", tc.in, err)
		}
	}
	if s := (Spec{2, 3}).String(); s != "2/3" {
		t.Errorf("String = %q", s)
	}
}

func items(ds ...int) []Item {
	var out []Item
	for i, d := range ds {
		out = append(out, Item{Name: string(rune('a' + i)), Duration: time.Duration(d) * time.Second})
	}
	return out
}

func names(its []Item) []string {
	var out []string
	for _, it := range its {
		out = append(out, it.Name)
	}
	return out
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name string
		ds   []int
		n    int
		want [][]string
	}{
		// Longest first onto the least loaded: 7→1, 5→2, 4→3, 3→3 (4<5), 2→2 (5<7): 7/7/7.
		{"balanced", []int{3, 7, 2, 5, 4}, 3, [][]string{{"b"}, {"c", "d"}, {"a", "e"}}},
		// One shard takes everything, in input order.
		{"one shard", []int{1, 2, 3}, 1, [][]string{{"a", "b", "c"}}},
		// As many shards as items: one each.
		{"one each", []int{1, 2, 3}, 3, [][]string{{"c"}, {"b"}, {"a"}}},
		// Equal durations: input order decides, ties go to the lower shard.
		{"ties", []int{5, 5, 5, 5}, 2, [][]string{{"a", "c"}, {"b", "d"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Split(items(tc.ds...), tc.n)
			if err != nil {
				t.Fatal(err)
			}
			var gotNames [][]string
			for _, s := range got {
				gotNames = append(gotNames, names(s))
			}
			if !slices.EqualFunc(gotNames, tc.want, slices.Equal) {
				t.Errorf("Split = %v, want %v", gotNames, tc.want)
			}
		})
	}
}

func TestSplitErrors(t *testing.T) {
	if _, err := Split(items(1, 2), 3); !errors.Is(err, ErrUsage) {
		t.Errorf("3 shards of 2 items: %v, want ErrUsage", err)
	}
	if _, err := Split(items(1), 0); !errors.Is(err, ErrUsage) {
		t.Errorf("0 shards: %v, want ErrUsage", err)
	}
	dup := []Item{{"a", time.Second}, {"a", time.Second}}
	if _, err := Split(dup, 1); !errors.Is(err, ErrUsage) {
		t.Errorf("duplicate names: %v, want ErrUsage", err)
	}
}

// TestSelectCovers: the shares of 1/n..n/n hold every item exactly once,
// whatever the durations, and the same input gives the same shares.
func TestSelectCovers(t *testing.T) {
	its := items(30, 10, 10, 95, 40, 12, 12, 60, 33, 33, 7, 18, 41)
	for n := 1; n <= len(its); n++ {
		var all []string
		for i := 1; i <= n; i++ {
			got, err := Spec{i, n}.Select(its)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := Spec{i, n}.Select(its)
			if !slices.Equal(got, again) {
				t.Fatalf("%d/%d: %v then %v", i, n, got, again)
			}
			if len(got) == 0 {
				t.Errorf("%d/%d is empty", i, n)
			}
			all = append(all, got...)
		}
		slices.Sort(all)
		if want := names(its); !slices.Equal(all, slices.Sorted(slices.Values(want))) {
			t.Errorf("n=%d: shares hold %v, want each of %v once", n, all, want)
		}
	}
}
