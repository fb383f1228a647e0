package bench

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcchaos/mcchaos/internal/stack"
)

// TestCreateRunDir: a given id that exists is refused and the existing
// directory (another run's) is left as it was; an id bench chose gets a
// suffix instead; two creations never get one directory.
func TestCreateRunDir(t *testing.T) {
	reports := filepath.Join(t.TempDir(), "reports") // created on demand
	dir, id, err := createRunDir(reports, "run", false)
	if err != nil || id != "run" || dir != filepath.Join(reports, "run") {
		t.Fatalf("first: %q %q %v", dir, id, err)
	}
	marker := filepath.Join(dir, "report.md")
	os.WriteFile(marker, []byte("another run's report"), 0o644)

	var ue *UsageError
	if _, _, err := createRunDir(reports, "run", false); !errors.As(err, &ue) || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("given id taken: %v, want a UsageError saying it exists", err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the existing run's files are gone: %v", err)
	}
	// Chosen by bench (same second, same commit): -2, then -3.
	for _, want := range []string{"run-2", "run-3"} {
		dir, id, err := createRunDir(reports, "run", true)
		if err != nil || id != want || dir != filepath.Join(reports, want) {
			t.Fatalf("auto: %q %q %v, want %s", dir, id, err, want)
		}
	}
}

// TestCheckFreeSpace on the real file system of a temporary directory:
// a need above what any disk has fails as bad input naming make prune; a
// small one passes.
func TestCheckFreeSpace(t *testing.T) {
	dir := t.TempDir()
	if err := checkFreeSpace(dir, 1<<20); err != nil {
		t.Fatalf("1 MiB: %v", err)
	}
	err := checkFreeSpace(dir, 1<<62)
	var ue *UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("4 EiB: %v, want a UsageError (exit 2)", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "make prune") || !strings.Contains(msg, "4.0 EiB") || strings.Contains(msg, "\n") {
		t.Fatalf("message %q: want one line naming the need and make prune", msg)
	}
	if err := checkFreeSpace(filepath.Join(dir, "missing"), 1); err == nil {
		t.Fatal("a missing directory passed the check")
	}
}

// TestPrune: old dead runs lose their Prometheus data and keep their
// reports; the newest keep runs and a live run keep everything.
func TestPrune(t *testing.T) {
	reports := t.TempDir()
	mk := func(name string) string {
		dir := filepath.Join(reports, name)
		data := filepath.Join(dir, PromDataDir, "wal")
		os.MkdirAll(data, 0o755)
		os.WriteFile(filepath.Join(data, "00000000"), bytes.Repeat([]byte{1}, 4096), 0o644)
		os.WriteFile(filepath.Join(dir, "report.md"), []byte("# report\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "results.json"), []byte("{}\n"), 0o644)
		return dir
	}
	old, live, newest := mk("a-old"), mk("b-live"), mk("c-newest")
	l, err := stack.Registry{Dir: t.TempDir()}.Lock(live)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	// Modification times in creation order, far apart (set after the lock, which touches its directory).
	for i, d := range []string{old, live, newest} {
		tm := timeAt(i)
		os.Chtimes(d, tm, tm)
	}

	var out bytes.Buffer
	freed, err := Prune(reports, 1, &out)
	if err != nil {
		t.Fatal(err)
	}
	if freed != 4096 {
		t.Errorf("freed %d bytes, want the one old run's 4096\n%s", freed, &out)
	}
	gone := func(d string) bool {
		_, err := os.Stat(filepath.Join(d, PromDataDir))
		return errors.Is(err, os.ErrNotExist)
	}
	if !gone(old) || gone(live) || gone(newest) {
		t.Errorf("data gone: old %v live %v newest %v; want only old's\n%s", gone(old), gone(live), gone(newest), &out)
	}
	for _, d := range []string{old, live, newest} {
		for _, f := range []string{"report.md", "results.json"} {
			if _, err := os.Stat(filepath.Join(d, f)); err != nil {
				t.Errorf("prune removed %s: %v", f, err)
			}
		}
	}
	if s := out.String(); !strings.Contains(s, "pruned "+old) || !strings.Contains(s, "kept "+live+": it is running") {
		t.Errorf("output does not say what was pruned and kept:\n%s", s)
	}
}

// timeAt is a fixed time i hours after 2026-01-01.
func timeAt(i int) time.Time {
	return time.Date(2026, 1, 1, i, 0, 0, 0, time.UTC)
}
