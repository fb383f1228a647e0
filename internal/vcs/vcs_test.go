package vcs

import (
	"runtime/debug"
	"testing"
)

func TestRevision(t *testing.T) {
	stamp := func(kv ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{}
		for i := 0; i < len(kv); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return bi
	}
	const sha = "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		name     string
		bi       *debug.BuildInfo
		rev      string
		modified bool
	}{
		{"clean", stamp("vcs", "git", "vcs.revision", sha, "vcs.modified", "false"), sha, false},
		{"dirty", stamp("vcs.revision", sha, "vcs.modified", "true"), sha, true},
		{"no stamp", stamp("-compiler", "gc"), "", false},
		{"nil", nil, "", false},
	} {
		rev, mod := Revision(tc.bi)
		if rev != tc.rev || mod != tc.modified {
			t.Errorf("%s: Revision = %q, %v; want %q, %v", tc.name, rev, mod, tc.rev, tc.modified)
		}
	}
	// A test binary has no VCS stamp: Built says so rather than guess.
	if got := Built(); got != "" {
		t.Errorf("Built() in a test binary = %q, want \"\"", got)
	}
}
