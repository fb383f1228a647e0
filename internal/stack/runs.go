package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// LockFile is the file in a run directory that its bench holds locked
// (flock) while it runs. A run is live exactly while the lock is held: the
// kernel drops it when the process dies however it dies, so neither a
// reused pid nor a permission error (EPERM from kill -0) can fool it.
const LockFile = "bench.lock"

// portsLockFile is the Registry file whose flock guards DESIGN.md's fixed
// ports: one run on the defaults per host.
const portsLockFile = "default-ports.lock"

// Registry is the host-wide directory where live runs register (one
// symbolic link per run, named by its RunKey, pointing at its run
// directory), so that stale-state cleanup finds the runs a hard death left
// behind wherever their reports live, and where the default ports' lock
// is. The zero value is DefaultRegistry's directory.
type Registry struct {
	// Dir is the registry directory. If empty, DefaultRegistryDir().
	Dir string
}

// DefaultRegistryDir is <os.TempDir()>/mcchaos-runs: shared by every
// checkout of one host, as the nftables tables and the default ports are.
func DefaultRegistryDir() string { return filepath.Join(os.TempDir(), "mcchaos-runs") }

func (r Registry) dir() string {
	if r.Dir == "" {
		return DefaultRegistryDir()
	}
	return r.Dir
}

// RunKey names a run on this host: 12 hex digits of the SHA-256 of its
// absolute run directory, unique per directory (two checkouts may both
// have a run "smoke-1") and short enough for an nftables table name.
func RunKey(runDir string) string {
	abs, err := filepath.Abs(runDir)
	if err != nil {
		abs = runDir
	}
	sum := sha256.Sum256([]byte(abs))
	return hex.EncodeToString(sum[:6])
}

// RunLock is a run's hold on its directory and its registry entry.
// Release it when the run ends.
type RunLock struct {
	Dir string // the run directory, absolute
	Key string // RunKey(Dir)
	f   *os.File
	reg string // the registry entry
}

// HeldError says that a lock is held by another process, named by what
// that process wrote in the lock file.
type HeldError struct {
	What   string // "run directory reports/x", "the default ports"
	Holder string // the holder's line: pid, run directory, start time
}

func (e *HeldError) Error() string {
	h := e.Holder
	if h == "" {
		h = "another process (it wrote no holder line)"
	}
	return fmt.Sprintf("%s: held by %s", e.What, h)
}

// holderLine is what a lock's holder writes into the lock file.
func holderLine(runDir string) string {
	return fmt.Sprintf("pid %d, run %s, since %s", os.Getpid(), runDir, time.Now().UTC().Format(time.RFC3339))
}

// lockFile opens path (creating it) and takes an exclusive flock without
// waiting. On success the file holds the holder line; when another holds
// it, the error is a *HeldError naming them.
func lockFile(path, what, holder string) (*os.File, error) {
	f, err := openShared(path)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", what, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &HeldError{What: what, Holder: strings.TrimSpace(string(b))}
		}
		return nil, fmt.Errorf("lock %s: %w", what, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(holder+"\n"), 0)
	}
	return f, nil
}

// Lock takes the run's lock in runDir (which must exist) and registers the
// run. It fails with a *HeldError when another process holds the run.
func (r Registry) Lock(runDir string) (*RunLock, error) {
	abs, err := filepath.Abs(runDir)
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	f, err := lockFile(filepath.Join(abs, LockFile), "run directory "+abs, holderLine(abs))
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	l := &RunLock{Dir: abs, Key: RunKey(abs), f: f}
	if err := sharedDir(r.dir()); err != nil {
		l.Release()
		return nil, fmt.Errorf("stack: run registry: %w", err)
	}
	l.reg = filepath.Join(r.dir(), l.Key)
	// An entry of the same key is this directory's, left by a dead run:
	// we hold the directory now.
	os.Remove(l.reg)
	if err := os.Symlink(abs, l.reg); err != nil {
		l.Release()
		return nil, fmt.Errorf("stack: run registry: %w", err)
	}
	return l, nil
}

// Release unregisters the run and drops its lock. It is safe to call
// more than once.
func (l *RunLock) Release() {
	if l == nil || l.f == nil {
		return
	}
	if l.reg != "" {
		os.Remove(l.reg) // first: a registered run without its lock is a dead one
	}
	l.f.Close() // drops the flock
	l.f = nil
}

// StaleRun is a registered run whose lock nobody holds: its bench died
// without releasing it (kill -9, a crash, a power cut of its session).
type StaleRun struct {
	Dir string // its run directory (it may be gone)
	Key string
	reg string
}

// Stale returns the registered runs that are dead, in key order. A run
// that is live (its lock held by any process) is never among them.
func (r Registry) Stale() []StaleRun {
	entries, _ := os.ReadDir(r.dir())
	var dead []StaleRun
	for _, e := range entries {
		if e.Type()&os.ModeSymlink == 0 {
			continue // the ports lock, or not ours
		}
		reg := filepath.Join(r.dir(), e.Name())
		dir, err := os.Readlink(reg)
		if err != nil {
			continue
		}
		if !Live(dir) {
			dead = append(dead, StaleRun{Dir: dir, Key: e.Name(), reg: reg})
		}
	}
	slices.SortFunc(dead, func(a, b StaleRun) int { return strings.Compare(a.Key, b.Key) })
	return dead
}

// Forget removes a dead run's registry entry, once what it left is gone.
func (r Registry) Forget(s StaleRun) error {
	if err := os.Remove(s.reg); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("stack: run registry: %w", err)
	}
	return nil
}

// Live reports whether a process holds runDir's LockFile. A directory
// without one (removed, or never run by this version) is not live.
func Live(runDir string) bool {
	f, err := os.Open(filepath.Join(runDir, LockFile))
	if err != nil {
		return false
	}
	defer f.Close()
	// A shared lock is enough to test, and two testers never exclude
	// each other.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	return false // closing f drops our test lock
}

// Holder returns the holder line in runDir's LockFile (empty if none).
func Holder(runDir string) string {
	b, _ := os.ReadFile(filepath.Join(runDir, LockFile))
	return strings.TrimSpace(string(b))
}

// LockDefaultPorts takes the host-wide lock of DESIGN.md's fixed ports for
// the run in runDir, without waiting. When another run holds them, the
// error is a *HeldError naming it (pid, run directory, since when). The
// lock lasts until release is called or the process dies.
func (r Registry) LockDefaultPorts(runDir string) (release func(), err error) {
	if err := sharedDir(r.dir()); err != nil {
		return nil, fmt.Errorf("stack: run registry: %w", err)
	}
	abs, _ := filepath.Abs(runDir)
	f, err := lockFile(filepath.Join(r.dir(), portsLockFile), "the default ports", holderLine(abs))
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}

// sharedDir makes dir, a directory every user's runs share (the registry
// and its port claims: the nftables tables and the ports they guard are
// the host's), writable by all with the sticky bit, as /tmp is: a run as
// root and a run as a CI user must both register. A directory another
// user made without it is named with its fix.
func sharedDir(dir string) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	const mode = 0o777 | os.ModeSticky
	if fi.Mode()&mode == mode {
		return nil
	}
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		owner := ""
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			owner = fmt.Sprintf(" (owner uid %d)", st.Uid)
		}
		return fmt.Errorf("%s%s has mode %v, so other users' runs cannot register: sudo chmod 1777 %s: %w", dir, owner, fi.Mode().Perm(), dir, err)
	}
	return nil
}

// openShared opens a lock file in a shared directory, creating it
// readable and writable by all (flock needs an open file; the holder line
// is written into it). Another user's file that this one may not write is
// opened read-only: the flock still holds, only the holder line is not
// rewritten.
func openShared(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if errors.Is(err, os.ErrPermission) {
		return os.Open(path)
	}
	if err != nil {
		return nil, err
	}
	f.Chmod(0o666) // past the umask; fails harmlessly on another user's file
	return f, nil
}
