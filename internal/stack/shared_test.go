package stack

import (
	"os"
	"path/filepath"
	"testing"
)

// The registry is shared by every user's runs (root's and a CI user's):
// made or repaired to mode 1777 like /tmp, its lock files writable by all.
// A registry made 0755 by root once stopped a runner's run ("symlink …:
// permission denied", make workflow-run).
func TestSharedRegistry(t *testing.T) {
	reg := Registry{Dir: filepath.Join(t.TempDir(), "runs")}
	if err := os.Mkdir(reg.Dir, 0o755); err != nil { // as an older version made it
		t.Fatal(err)
	}
	run := t.TempDir()
	l, err := reg.Lock(run)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	release, err := reg.LockDefaultPorts(run)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	fi, err := os.Stat(reg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := 0o777 | os.ModeSticky; fi.Mode()&want != want {
		t.Errorf("registry mode %v, want drwxrwxrwt", fi.Mode())
	}
	fi, err = os.Stat(filepath.Join(reg.Dir, portsLockFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o666 {
		t.Errorf("default ports lock mode %v, want -rw-rw-rw-", fi.Mode().Perm())
	}
	// A lock file this process may only read still locks.
	ro := filepath.Join(reg.Dir, "ro.lock")
	if err := os.WriteFile(ro, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 { // root may write anything: nothing to fall back from
		f, err := lockFile(ro, "a read-only lock", "holder")
		if err != nil {
			t.Fatalf("read-only lock file: %v", err)
		}
		defer f.Close()
		if _, err := lockFile(ro, "a read-only lock", "holder"); err == nil {
			t.Error("a second flock on the read-only lock file was granted")
		}
	}
}
