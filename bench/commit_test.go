package bench

import (
	"os/exec"
	"strings"
	"testing"
)

// The commit is read once, when the run starts: the run id, the head
// side and collect all use it, so a commit made during a long run (a
// shard) does not make the run's records disagree.
func TestCommitReadAtStart(t *testing.T) {
	t.Setenv("GITHUB_SHA", "")
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v (the tests run in a checkout)", err)
	}
	head := strings.TrimSpace(string(out))
	cfg := Config{ReportsDir: t.TempDir(), Profile: "smoke"}
	if err := cfg.setDefaults(); err != nil {
		t.Fatal(err)
	}
	if cfg.commit != head {
		t.Errorf("commit %q, want HEAD %q", cfg.commit, head)
	}
	if !strings.HasSuffix(cfg.RunID, "-"+head[:7]) {
		t.Errorf("run id %q does not end with the commit %s", cfg.RunID, head[:7])
	}
	t.Setenv("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
	cfg = Config{ReportsDir: t.TempDir(), Profile: "smoke"}
	if err := cfg.setDefaults(); err != nil {
		t.Fatal(err)
	}
	if cfg.commit != "0123456789abcdef0123456789abcdef01234567" || !strings.HasSuffix(cfg.RunID, "-0123456") {
		t.Errorf("with GITHUB_SHA: commit %q, run id %q", cfg.commit, cfg.RunID)
	}
}
