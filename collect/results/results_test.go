package results_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/collect/results/resultstest"
)

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	for _, tc := range []struct {
		name, content string
		want          error
		msg           string
	}{
		{"newer", `{"schema_version": 3, "runs": []}`, results.ErrSchema, "unsupported schema_version 3"},
		// A baseline of the one-value-per-run schema: says how to re-record.
		{"older", `{"schema_version": 1, "runs": []}`, results.ErrSchema, "make baseline"},
		{"none", `{"runs": []}`, results.ErrInvalid, "no schema_version"},
		{"truncated", `{"schema_version": 2, "runs": [`, results.ErrInvalid, "unexpected end"},
		{"no runs", `{"schema_version": 2, "runs": []}`, results.ErrInvalid, "no runs"},
		{"no profile", `{"schema_version": 2, "runs": [{"run_id": "r"}]}`, results.ErrInvalid, "no profile"},
		{"manifest", `{"schema_version": 2, "run_id": "r", "scenarios": []}`, results.ErrInvalid, "no runs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := results.Read(write(tc.name+".json", tc.content))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestWriteReadMerge(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	if err := results.Write(a, resultstest.File(resultstest.Options{Seed: 1})); err != nil {
		t.Fatal(err)
	}
	if err := results.Write(b, resultstest.File(resultstest.Options{Seed: 2})); err != nil {
		t.Fatal(err)
	}
	f, err := results.ReadAll(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Runs) != 2 || f.Profile() != "pr" || len(f.ScenarioNames()) != 14 {
		t.Errorf("merged: %d runs, profile %q, %d scenarios", len(f.Runs), f.Profile(), len(f.ScenarioNames()))
	}
	if _, err := results.ReadAll(a, a); !errors.Is(err, results.ErrInvalid) {
		t.Errorf("same run twice: err = %v, want ErrInvalid", err)
	}
}

func TestValuesNaNIsNullInfIsNotReached(t *testing.T) {
	b, err := json.Marshal(results.Values{1, math.NaN(), math.Inf(1), 2})
	if err != nil || string(b) != `[1,null,"not reached",2]` {
		t.Fatalf("marshal: %s %v", b, err)
	}
	var v results.Values
	if err := json.Unmarshal(b, &v); err != nil || len(v) != 4 || !math.IsNaN(v[1]) || !math.IsInf(v[2], 1) || v[3] != 2 {
		t.Fatalf("unmarshal: %v %v", v, err)
	}
	if err := json.Unmarshal([]byte(`["soon"]`), &v); err == nil {
		t.Errorf("unmarshal of an unknown string: no error")
	}
}

func TestKeyAndClass(t *testing.T) {
	if k := results.Key("latency_p99", map[string]string{"op": "get", "a": "b"}); k != "latency_p99{a=b,op=get}" {
		t.Errorf("key %s", k)
	}
	if c := (results.Host{CPUs: 2, OS: "linux", Arch: "amd64"}).Class(); c != "linux-amd64-2cpu" {
		t.Errorf("host class %s", c)
	}
}
