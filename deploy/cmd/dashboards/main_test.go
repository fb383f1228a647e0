package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcchaos/mcchaos/deploy"
)

func TestRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "d.json")
	var stdout, stderr bytes.Buffer
	if err := run(&stdout, &stderr, []string{"-o", out}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := deploy.DashboardJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) || stdout.String() != "wrote "+out+"\n" {
		t.Errorf("wrote %d bytes (want the %d of deploy.DashboardJSON), said %q", len(got), len(want), stdout.String())
	}

	// bad input: a usage error (exit code 2), one line
	for _, args := range [][]string{{"extra"}, {"-x"}} {
		err := run(&stdout, &stderr, args)
		if _, ok := err.(usageError); !ok || strings.Contains(err.Error(), "\n") {
			t.Errorf("run(%q) = %v, want a one-line usage error", args, err)
		}
	}
	// an unwritable path: an error naming the write
	if err := run(&stdout, &stderr, []string{"-o", filepath.Join(t.TempDir(), "no", "such", "d.json")}); err == nil || !strings.Contains(err.Error(), "write dashboard") {
		t.Errorf("unwritable path: %v", err)
	}
}
