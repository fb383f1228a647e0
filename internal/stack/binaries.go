package stack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
)

// ToxiproxyModule is the Go package of the toxiproxy server that the local
// stack builds when no toxiproxy-server binary is found.
const ToxiproxyModule = "github.com/Shopify/toxiproxy/v2/cmd/server"

func lookPath(override, name, fix string) (string, error) {
	if override != "" {
		name = override
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", &MissingBinaryError{Name: name, Fix: fix}
	}
	return p, nil
}

var buildMu sync.Mutex

// ToxiproxyBinary returns the toxiproxy server to run: override if set, else
// toxiproxy-server in PATH, else <repo>/bin/toxiproxy-server, which it builds
// from the Go module (v2.5.0, pinned in go.mod) when missing.
func ToxiproxyBinary(ctx context.Context, override string) (string, error) {
	if override != "" {
		return lookPath(override, override, "build it with `make deps`")
	}
	if p, err := exec.LookPath("toxiproxy-server"); err == nil {
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", &MissingBinaryError{Name: "toxiproxy-server", Fix: "run `make deps` in the mcchaos checkout (go build -o bin/toxiproxy-server " + ToxiproxyModule + ")"}
	}
	bin := filepath.Join(root, "bin", "toxiproxy-server")
	buildMu.Lock()
	defer buildMu.Unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ToxiproxyModule)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("stack: build toxiproxy-server: %w\n%s", err, out)
	}
	return bin, nil
}

// RepoRoot returns the directory of the mcchaos go.mod at or above the
// working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && len(b) > 0 && containsModule(b) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("stack: not inside the mcchaos checkout")
		}
		dir = parent
	}
}

func containsModule(gomod []byte) bool {
	const m = "module github.com/mcchaos/mcchaos"
	return len(gomod) >= len(m) && string(gomod[:len(m)]) == m
}

// SysProcAttr puts a child in its own process group, so that a Ctrl-C at
// the terminal reaches only its parent, which stops children in order, and
// sends the child deathSig if the parent dies without stopping it.
func SysProcAttr(deathSig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: deathSig}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
