package inject_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mcchaos/mcchaos/internal/stack"
	"github.com/mcchaos/mcchaos/scenariod/inject"
)

// TestRunTableNaming: a run's table is a valid nftables name, the same
// for the run directory however it is spelled, and another run's differs.
func TestRunTableNaming(t *testing.T) {
	reports := t.TempDir()
	a, b := filepath.Join(reports, "20261206-120000-abc"), filepath.Join(reports, "20261206-120000-abc-2")
	ta, tb := inject.RunTable(stack.RunKey(a)), inject.RunTable(stack.RunKey(b))
	for _, tab := range []string{ta, tb} {
		if err := inject.ValidTable(tab); err != nil {
			t.Fatal(err)
		}
	}
	if ta == tb {
		t.Fatalf("two runs share table %s", ta)
	}
	if ta == inject.DefaultTable {
		t.Fatalf("a run uses the shared default table %s", ta)
	}
	// Relative and absolute spellings of one directory name one run.
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, a)
	if err != nil {
		t.Fatal(err)
	}
	if got := inject.RunTable(stack.RunKey(rel)); got != ta {
		t.Fatalf("%s names %s, %s names %s: want one table", rel, got, a, ta)
	}
}

// TestRunTablesIndependent: two runs' tables on the real nftables; clearing
// one (what a run's cleanup, scenariod's availability check and every
// SetLoss do) leaves the other's drop rules in place.
func TestRunTablesIndependent(t *testing.T) {
	first := testNetfilter(t)
	second := testNetfilter(t)
	ctx := t.Context()
	if err := first.SetLoss(ctx, map[int]float64{40001: 100}); err != nil {
		t.Fatal(err)
	}
	if err := second.SetLoss(ctx, map[int]float64{40002: 100}); err != nil {
		t.Fatal(err)
	}
	if err := first.Available(ctx); err != nil { // deletes first's table
		t.Fatal(err)
	}
	if ok, err := first.Exists(ctx); err != nil || ok {
		t.Fatalf("first table exists=%v (%v) after its own clear", ok, err)
	}
	if ok, err := second.Exists(ctx); err != nil || !ok {
		t.Fatalf("second run's table exists=%v (%v) after the first cleared its own: want it intact", ok, err)
	}
}
