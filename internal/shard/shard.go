// Package shard splits a run's scenarios over several machines. A run's
// comparison is within one machine (base and head side by side), so each
// machine can run a share of the scenarios as a paired run of its own, and
// the shares are joined afterwards (collect -merge) into one verdict.
//
// The split is a pure function of the selected scenarios, their durations
// and the shard count: every machine computes the same split from the same
// plan, and no machine needs to hear from another.
package shard

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrUsage marks a bad shard spec or a count the selection cannot fill.
var ErrUsage = errors.New("shard")

// Spec names one shard of n: Index is 1-based.
type Spec struct {
	Index, Count int
}

// String is the spec as given on the command line: "2/3".
func (s Spec) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Parse reads "i/n" with 1 ≤ i ≤ n.
func Parse(s string) (Spec, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return Spec{}, fmt.Errorf("%w: -shard %q: want i/n, e.g. 2/3", ErrUsage, s)
	}
	if n < 1 || i < 1 || i > n {
		return Spec{}, fmt.Errorf("%w: -shard %q: want 1 ≤ i ≤ n", ErrUsage, s)
	}
	return Spec{Index: i, Count: n}, nil
}

// Item is a scenario to place: its name and how long it runs
// (stabilization + testing + recovery under the run's profile).
type Item struct {
	Name     string
	Duration time.Duration
}

// Split places items on n shards, balanced by duration: longest first,
// each on the shard with the least time so far (LPT; ties to the lower
// shard, equal durations in input order), so the longest shard is at most
// 4/3 of the optimum. Each shard keeps its items in input order. It is
// deterministic: the same items and n give the same split. n larger than
// the number of items would leave a shard empty: an error wrapping
// ErrUsage. Names must be unique.
func Split(items []Item, n int) ([][]Item, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: %d shards: want 1 or more", ErrUsage, n)
	}
	if n > len(items) {
		return nil, fmt.Errorf("%w: %d shards for %d scenarios: a shard would run nothing (want at most %d shards)", ErrUsage, n, len(items), len(items))
	}
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	seen := map[string]bool{}
	for _, it := range items {
		if seen[it.Name] {
			return nil, fmt.Errorf("%w: scenario %s given twice", ErrUsage, it.Name)
		}
		seen[it.Name] = true
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(items[b].Duration, items[a].Duration) })
	load := make([]time.Duration, n)
	owner := make([]int, len(items))
	for _, i := range order {
		s := 0
		for j := 1; j < n; j++ {
			if load[j] < load[s] {
				s = j
			}
		}
		owner[i] = s
		load[s] += items[i].Duration
	}
	out := make([][]Item, n)
	for i, it := range items {
		out[owner[i]] = append(out[owner[i]], it)
	}
	return out, nil
}

// Select returns the names of s's share of items (see Split), in input order.
func (s Spec) Select(items []Item) ([]string, error) {
	shards, err := Split(items, s.Count)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, it := range shards[s.Index-1] {
		names = append(names, it.Name)
	}
	return names, nil
}

// Total is the summed duration of items.
func Total(items []Item) time.Duration {
	var d time.Duration
	for _, it := range items {
		d += it.Duration
	}
	return d
}

// Record is what a shard's run says about itself (manifest.json and
// results.json carry it), so that a merge can check it holds every shard
// of one selection exactly once.
type Record struct {
	// Index is the shard's 1-based index of Count.
	Index int `json:"index"`
	Count int `json:"count"`
	// Selected is the whole run's selection, in order; Scenarios is this
	// shard's share of it.
	Selected  []string `json:"selected"`
	Scenarios []string `json:"scenarios"`
}
