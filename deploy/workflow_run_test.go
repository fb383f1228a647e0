package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rhysd/actionlint"
	"go.yaml.in/yaml/v3"
)

// The bench job of bench.yml run for real (issue 20, item 6): its steps in
// order, the run: steps in bash as GitHub's runner runs them (`bash -e`,
// as a non-root user with passwordless sudo, with GITHUB_OUTPUT,
// GITHUB_ENV, GITHUB_PATH and GITHUB_STEP_SUMMARY files, the workflow's
// expressions evaluated), and local stand-ins for the actions, which need
// the network: checkout clones this repository (for pull_request, a merge
// commit of HEAD into HEAD^, fetched at the workflow's depth), setup-go
// checks the installed Go against go.mod, upload-artifact copies the files
// and download-artifact copies them back. A pull request's bench job runs
// once per entry of its matrix (the shards), then its fan-in job merge.
//
// `make workflow-run` runs TestBenchJobSteps (it creates the user `runner`
// with passwordless sudo when started as root, as GitHub's runners have);
// under plain `go test` it is skipped, saying so, because it runs two smoke
// benchmarks (about 15 minutes).

// wfRunEnv enables TestBenchJobSteps.
const wfRunEnv = "MCCHAOS_WORKFLOW_RUN"

// jobRun is one run of a job: its workspace, contexts and results.
type jobRun struct {
	t         *testing.T
	wf        map[string]any // the workflow, as YAML
	job       map[string]any
	jobName   string
	event     string
	github    map[string]any
	ws, temp  string
	artifacts string
	envFile   string
	pathFile  string
	summary   string
	log       io.Writer
	overrides map[string]string // set over the workflow's env (the smoke profile)
	matrix    map[string]any    // the job's matrix entry (nil: no matrix)
	prepare   func(r *jobRun, depth int) error

	env     map[string]string // GITHUB_ENV's variables so far
	outputs map[string]map[string]string
	failed  bool
	ran     []string // "name: outcome" per step
}

// property is m's field name, found as GitHub finds it: case-insensitively
// (actionlint's parser lowercases a dereferenced name, so env.RUN_ID
// arrives as "run_id").
func property(m map[string]any, name string) any {
	if v, ok := m[name]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// evalExpr evaluates one expression of GitHub's syntax, parsed by
// actionlint, in the run's contexts.
func (r *jobRun) evalExpr(src string, env map[string]string) (any, error) {
	node, perr := actionlint.NewExprParser().Parse(actionlint.NewExprLexer(src + "}}"))
	if perr != nil {
		return nil, fmt.Errorf("expression %q: %s", src, perr.Message)
	}
	steps := map[string]any{}
	for id, outs := range r.outputs {
		o := map[string]any{}
		for k, v := range outs {
			o[k] = v
		}
		steps[id] = map[string]any{"outputs": o}
	}
	envCtx := map[string]any{}
	for k, v := range env {
		envCtx[k] = v
	}
	ctx := map[string]any{
		"github": r.github, "inputs": map[string]any{}, "vars": map[string]any{}, "env": envCtx, "steps": steps,
		"runner": map[string]any{"temp": r.temp, "os": "Linux"}, "matrix": r.matrix,
	}
	return r.eval(node, ctx)
}

func (r *jobRun) eval(n actionlint.ExprNode, ctx map[string]any) (any, error) {
	switch n := n.(type) {
	case *actionlint.VariableNode:
		v, ok := ctx[strings.ToLower(n.Name)]
		if !ok {
			return nil, fmt.Errorf("unknown context %s", n.Name)
		}
		return v, nil
	case *actionlint.NullNode:
		return nil, nil
	case *actionlint.BoolNode:
		return n.Value, nil
	case *actionlint.IntNode:
		return float64(n.Value), nil
	case *actionlint.FloatNode:
		return n.Value, nil
	case *actionlint.StringNode:
		return n.Value, nil
	case *actionlint.ObjectDerefNode:
		recv, err := r.eval(n.Receiver, ctx)
		if err != nil {
			return nil, err
		}
		if m, ok := recv.(map[string]any); ok {
			return property(m, n.Property), nil
		}
		return nil, nil
	case *actionlint.NotOpNode:
		v, err := r.eval(n.Operand, ctx)
		return !truthy(v), err
	case *actionlint.LogicalOpNode:
		l, err := r.eval(n.Left, ctx)
		if err != nil {
			return nil, err
		}
		if (n.Kind == actionlint.LogicalOpNodeKindAnd) != truthy(l) {
			return l, nil
		}
		return r.eval(n.Right, ctx)
	case *actionlint.CompareOpNode:
		l, err := r.eval(n.Left, ctx)
		if err != nil {
			return nil, err
		}
		rv, err := r.eval(n.Right, ctx)
		if err != nil {
			return nil, err
		}
		switch n.Kind {
		case actionlint.CompareOpNodeKindEq:
			return looseEqual(l, rv), nil
		case actionlint.CompareOpNodeKindNotEq:
			return !looseEqual(l, rv), nil
		}
		return nil, fmt.Errorf("operator %v: not needed by the workflows, not evaluated here", n.Kind)
	case *actionlint.FuncCallNode:
		switch strings.ToLower(n.Callee) {
		case "always":
			return true, nil
		case "success":
			return !r.failed, nil
		case "failure":
			return r.failed, nil
		case "cancelled":
			return false, nil
		case "fromjson":
			if len(n.Args) != 1 {
				return nil, fmt.Errorf("fromJSON takes one argument")
			}
			a, err := r.eval(n.Args[0], ctx)
			if err != nil {
				return nil, err
			}
			var v any
			if err := json.Unmarshal([]byte(toString(a)), &v); err != nil {
				return nil, fmt.Errorf("fromJSON(%q): %v", toString(a), err)
			}
			return v, nil
		}
		return nil, fmt.Errorf("function %s: not needed by the workflows, not evaluated here", n.Callee)
	}
	return nil, fmt.Errorf("expression node %T: not evaluated here", n)
}

func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case float64:
		return v != 0
	case string:
		return v != ""
	}
	return true
}

// looseEqual is GitHub's ==: strings case-insensitively, else as numbers.
func looseEqual(a, b any) bool {
	as, aok := a.(string)
	bs, bok := b.(string)
	if aok && bok {
		return strings.EqualFold(as, bs)
	}
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return toNumber(a) == toNumber(b)
}

func toNumber(v any) float64 {
	switch v := v.(type) {
	case bool:
		if v {
			return 1
		}
		return 0
	case float64:
		return v
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return -1e308 // NaN-like: never equal
		}
		return f
	}
	return -1e308
}

func toString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

var templateRE = regexp.MustCompile(`\$\{\{(.*?)\}\}`)

// expand replaces every ${{ }} of s with its value.
func (r *jobRun) expand(s string, env map[string]string) (string, error) {
	var err error
	out := templateRE.ReplaceAllStringFunc(s, func(m string) string {
		v, e := r.evalExpr(strings.TrimSpace(m[3:len(m)-2]), env)
		if e != nil && err == nil {
			err = e
		}
		return toString(v)
	})
	return out, err
}

// cond evaluates an if: (success() && it, unless it asks for a status).
func (r *jobRun) cond(c any, env map[string]string) (bool, error) {
	if c == nil {
		return !r.failed, nil
	}
	src := strings.TrimSpace(fmt.Sprint(c))
	if strings.HasPrefix(src, "${{") && strings.HasSuffix(src, "}}") {
		src = strings.TrimSpace(src[3 : len(src)-2])
	}
	v, err := r.evalExpr(src, env)
	if err != nil {
		return false, err
	}
	if !regexp.MustCompile(`\b(always|success|failure|cancelled)\(`).MatchString(src) && r.failed {
		return false, nil
	}
	return truthy(v), nil
}

// envOf evaluates an env: map over base.
func (r *jobRun) envOf(m any, base map[string]string) (map[string]string, error) {
	out := maps.Clone(base)
	mm, _ := m.(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(mm)) {
		v, err := r.expand(toString(mm[k]), base)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// readKV reads a GitHub environment file: name=value lines and
// name<<DELIMITER blocks.
func readKV(path string) (map[string]string, error) {
	out := map[string]string{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out, nil
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if k, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(k, "=") {
			var vals []string
			for sc.Scan() && sc.Text() != delim {
				vals = append(vals, sc.Text())
			}
			out[k] = strings.Join(vals, "\n")
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		} else if line != "" {
			return nil, fmt.Errorf("%s: line %q is neither name=value nor name<<DELIMITER", path, line)
		}
	}
	return out, sc.Err()
}

// run runs the job's steps in order and reports whether the job succeeded.
func (r *jobRun) run(ctx context.Context) (bool, error) {
	r.outputs = map[string]map[string]string{}
	r.env = map[string]string{}
	wfEnv, err := r.envOf(r.wf["env"], map[string]string{})
	if err != nil {
		return false, err
	}
	maps.Copy(wfEnv, r.overrides)
	jobEnv, err := r.envOf(r.job["env"], wfEnv)
	if err != nil {
		return false, err
	}
	steps, _ := r.job["steps"].([]any)
	for i, s := range steps {
		st, _ := s.(map[string]any)
		name := cmpOr(toString(st["name"]), toString(st["id"]), toString(st["uses"]), firstLine(toString(st["run"])))
		base := maps.Clone(jobEnv)
		maps.Copy(base, r.env)
		ok, err := r.cond(st["if"], base)
		if err != nil {
			return false, fmt.Errorf("step %d %q: if: %w", i+1, name, err)
		}
		if !ok {
			r.ran = append(r.ran, name+": skipped")
			fmt.Fprintf(r.log, "\n=== step %d: %s: skipped (if: %v)\n", i+1, name, st["if"])
			continue
		}
		env, err := r.envOf(st["env"], base)
		if err != nil {
			return false, fmt.Errorf("step %d %q: %w", i+1, name, err)
		}
		fmt.Fprintf(r.log, "\n=== step %d: %s\n", i+1, name)
		start := time.Now()
		var serr error
		if uses := toString(st["uses"]); uses != "" {
			serr = r.action(uses, st["with"], env)
		} else {
			serr = r.shell(ctx, i, toString(st["run"]), env, st["id"])
		}
		outcome := "success"
		if serr != nil {
			if ce, _ := st["continue-on-error"].(bool); !ce {
				r.failed = true
			}
			outcome = "failure: " + serr.Error()
		}
		fmt.Fprintf(r.log, "=== step %d: %s: %s (%s)\n", i+1, name, outcome, time.Since(start).Round(time.Second))
		r.ran = append(r.ran, name+": "+outcome)
	}
	return !r.failed, nil
}

// shell runs a run: step as GitHub's runner does with no shell: given.
func (r *jobRun) shell(ctx context.Context, i int, script string, env map[string]string, id any) error {
	file := filepath.Join(r.temp, fmt.Sprintf("step-%d.sh", i+1))
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		return err
	}
	outFile := filepath.Join(r.temp, fmt.Sprintf("output-%d", i+1))
	stepSummary := filepath.Join(r.temp, fmt.Sprintf("summary-%d.md", i+1))
	cmd := exec.CommandContext(ctx, "bash", "-e", file)
	cmd.Dir = r.ws
	cmd.Stdout, cmd.Stderr = r.log, r.log
	path := os.Getenv("PATH")
	if b, err := os.ReadFile(r.pathFile); err == nil {
		for _, p := range strings.Fields(string(b)) {
			path = p + ":" + path
		}
	}
	cmd.Env = append(os.Environ(),
		"PATH="+path, "CI=true", "GITHUB_ACTIONS=true",
		"GITHUB_WORKSPACE="+r.ws, "RUNNER_TEMP="+r.temp, "GITHUB_EVENT_NAME="+r.event,
		"GITHUB_SHA="+toString(r.github["sha"]), "GITHUB_REF="+toString(r.github["ref"]),
		"GITHUB_OUTPUT="+outFile, "GITHUB_ENV="+r.envFile, "GITHUB_PATH="+r.pathFile, "GITHUB_STEP_SUMMARY="+stepSummary)
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	err := cmd.Run()
	outs, kerr := readKV(outFile)
	if kerr != nil && err == nil {
		err = kerr
	}
	if id != nil {
		r.outputs[toString(id)] = outs
	}
	if b, rerr := os.ReadFile(stepSummary); rerr == nil {
		f, ferr := os.OpenFile(r.summary, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if ferr == nil {
			f.Write(b)
			f.Close()
		}
	}
	envs, kerr := readKV(r.envFile)
	if kerr != nil && err == nil {
		err = kerr
	}
	maps.Copy(r.env, envs)
	return err
}

// action runs the local stand-in of an action step.
func (r *jobRun) action(uses string, with any, env map[string]string) error {
	w := map[string]string{}
	wm, _ := with.(map[string]any)
	for k, v := range wm {
		s, err := r.expand(toString(v), env)
		if err != nil {
			return fmt.Errorf("with %s: %w", k, err)
		}
		w[k] = s
	}
	action, _, _ := strings.Cut(uses, "@")
	switch action {
	case "actions/checkout":
		if w["persist-credentials"] != "false" {
			return fmt.Errorf("checkout keeps credentials")
		}
		depth := 1
		if d, ok := w["fetch-depth"]; ok {
			n, err := strconv.Atoi(d)
			if err != nil {
				return fmt.Errorf("fetch-depth %q", d)
			}
			depth = n
		}
		return r.prepare(r, depth)
	case "actions/setup-go":
		b, err := os.ReadFile(filepath.Join(r.ws, w["go-version-file"]))
		if err != nil {
			return err
		}
		want := regexp.MustCompile(`(?m)^go (\S+)`).FindSubmatch(b)
		out, err := exec.Command("go", "env", "GOVERSION").Output()
		if err != nil || want == nil {
			return fmt.Errorf("go env GOVERSION: %v (go.mod go line %q)", err, want)
		}
		have := strings.TrimPrefix(strings.TrimSpace(string(out)), "go")
		if !goAtLeast(have, string(want[1])) {
			return fmt.Errorf("go %s installed, go.mod wants %s (setup-go would download it; here it must be installed)", have, want[1])
		}
		fmt.Fprintf(r.log, "setup-go stand-in: go %s installed, go.mod wants %s\n", have, want[1])
		return nil
	case "actions/upload-artifact":
		dst := filepath.Join(r.artifacts, w["name"])
		n := 0
		for _, p := range strings.Fields(w["path"]) {
			src := filepath.Join(r.ws, p)
			if _, err := os.Stat(src); err != nil {
				continue
			}
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			if fi, err := os.Stat(src); err == nil && fi.IsDir() {
				src += "/." // a directory's contents at the artifact's root, as upload-artifact puts them
			}
			if out, err := exec.Command("cp", "-a", src, dst+"/").CombinedOutput(); err != nil {
				return fmt.Errorf("cp %s: %v: %s", p, err, out)
			}
			n++
		}
		if n == 0 {
			switch w["if-no-files-found"] {
			case "error":
				return fmt.Errorf("artifact %s: no files at %q", w["name"], w["path"])
			case "ignore":
			default:
				fmt.Fprintf(r.log, "warning: artifact %s: no files at %q\n", w["name"], w["path"])
			}
			return nil
		}
		fmt.Fprintf(r.log, "upload-artifact stand-in: %s <- %s\n", w["name"], w["path"])
		return nil
	case "actions/download-artifact":
		pattern := cmpOr(w["pattern"], w["name"])
		dirs, _ := filepath.Glob(filepath.Join(r.artifacts, pattern))
		if len(dirs) == 0 {
			return fmt.Errorf("download-artifact: no artifact %q", pattern)
		}
		for _, d := range dirs {
			dst := filepath.Join(r.ws, w["path"])
			if w["merge-multiple"] != "true" && w["name"] == "" {
				dst = filepath.Join(dst, filepath.Base(d))
			}
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			if out, err := exec.Command("cp", "-a", d+"/.", dst+"/").CombinedOutput(); err != nil {
				return fmt.Errorf("cp %s: %v: %s", d, err, out)
			}
			fmt.Fprintf(r.log, "download-artifact stand-in: %s -> %s\n", d, dst)
		}
		return nil
	}
	return fmt.Errorf("%s: no local stand-in", action)
}

// goAtLeast compares Go versions "1.26.0" and "1.26".
func goAtLeast(have, want string) bool {
	h, w := strings.Split(have, "."), strings.Split(want, ".")
	for i := 0; i < len(w); i++ {
		hi, wi := 0, 0
		if i < len(h) {
			hi, _ = strconv.Atoi(strings.TrimFunc(h[i], func(r rune) bool { return r < '0' || r > '9' }))
		}
		wi, _ = strconv.Atoi(w[i])
		if hi != wi {
			return hi > wi
		}
	}
	return true
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-c", "user.name=mcchaos", "-c", "user.email=mcchaos@localhost"}, args...)...)
	cmd.Dir = dir
	// The repository belongs to another user (root, where make workflow-run
	// starts); through the environment the exception reaches upload-pack too.
	// (safe.directory counts only in protected configuration: a global file.)
	global := filepath.Join(os.TempDir(), fmt.Sprintf("mcchaos-gitconfig-%d", os.Getuid()))
	if err := os.WriteFile(global, []byte("[safe]\n\tdirectory = *\n"), 0o644); err != nil {
		return "", err
	}
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL="+global)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// newJobRun reads job of workflow file and prepares a run of it for event
// in fresh directories under dir.
func newJobRun(t *testing.T, dir, file, job, event string, log io.Writer) *jobRun {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var wf map[string]any
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatal(err)
	}
	jobs, _ := wf["jobs"].(map[string]any)
	j, ok := jobs[job].(map[string]any)
	if !ok {
		t.Fatalf("%s has no job %s", file, job)
	}
	r := &jobRun{t: t, wf: wf, job: j, jobName: job, event: event, log: log,
		ws: filepath.Join(dir, "workspace"), temp: filepath.Join(dir, "temp"), artifacts: filepath.Join(dir, "artifacts")}
	for _, d := range []string{r.temp, r.artifacts} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r.envFile, r.pathFile, r.summary = filepath.Join(r.temp, "env"), filepath.Join(r.temp, "path"), filepath.Join(dir, "step-summary.md")
	return r
}

// TestJobRunnerCatchesRootOnlySteps: the harness runs steps as the user the
// test runs as, so a step that only works as root fails the job, and a
// step's outputs, GITHUB_ENV and if: conditions behave as on GitHub.
func TestJobRunnerCatchesRootOnlySteps(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "wf.yml")
	wf := `
on: push
env:
  WHO: ${{ github.event_name == 'push' && 'pusher' || 'other' }}
jobs:
  j:
    steps:
      - id: a
        run: |
          echo "greeting=hello $WHO" >> "$GITHUB_OUTPUT"
          echo "FROM_ENV=set" >> "$GITHUB_ENV"
      - name: uses outputs and env
        env:
          G: ${{ steps.a.outputs.greeting }}
        run: test "$G" = "hello pusher" && test "$FROM_ENV" = set
      - name: root only
        run: touch /etc/mcchaos-root-only-` + strconv.Itoa(os.Getpid()) + ` && rm /etc/mcchaos-root-only-` + strconv.Itoa(os.Getpid()) + `
      - name: skipped after a failure
        run: "true"
      - name: always
        if: always()
        run: "true"
`
	if err := os.WriteFile(file, []byte(wf), 0o644); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	r := newJobRun(t, dir, file, "j", "push", &log)
	r.github = map[string]any{"event_name": "push"}
	r.ws = dir
	ok, err := r.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a: success", "uses outputs and env: success", "root only: failure: exit status 1", "skipped after a failure: skipped", "always: success"}
	if os.Geteuid() == 0 {
		// As root (make test) the root-only step passes; make workflow-run
		// runs this test as the user runner, where it must fail.
		want[2], want[3] = "root only: success", "skipped after a failure: success"
	}
	if !slices.Equal(r.ran, want) || ok != (os.Geteuid() == 0) {
		t.Errorf("steps %q (job ok %v), want %q\n%s", r.ran, ok, want, log.String())
	}
}

// TestBenchJobSteps runs bench.yml's bench job for a pull_request event and
// a push event, smoke profile, as this (non-root) user.
func TestBenchJobSteps(t *testing.T) {
	if os.Getenv(wfRunEnv) == "" {
		t.Skipf("runs bench.yml's steps with four smoke benchmarks (a pull request's three shards, then a push; about 20 minutes): make workflow-run sets %s=1", wfRunEnv)
	}
	if os.Geteuid() == 0 {
		t.Fatal("run as a non-root user with passwordless sudo, as on GitHub's runners (make workflow-run does)")
	}
	if out, err := exec.Command("sudo", "-n", "true").CombinedOutput(); err != nil {
		t.Fatalf("passwordless sudo: %v: %s", err, out)
	}
	src, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	head, err := git(src, "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	base, err := git(src, "rev-parse", "HEAD^")
	if err != nil {
		t.Fatal(err)
	}
	out := os.Getenv("MCCHAOS_WORKFLOW_LOGS")
	if out == "" {
		out = t.TempDir()
	}
	for _, tc := range []struct {
		event string
		// GitHub's description of the event.
		github map[string]any
	}{
		{"pull_request", map[string]any{"event_name": "pull_request", "ref": "refs/pull/1/merge", "run_id": "1", "run_attempt": "1",
			"event": map[string]any{"pull_request": map[string]any{"number": 1.0, "head": map[string]any{"sha": head}, "base": map[string]any{"sha": base}}}}},
		{"push", map[string]any{"event_name": "push", "ref": "refs/heads/main", "sha": head, "run_id": "2", "run_attempt": "1",
			"event": map[string]any{}}},
	} {
		t.Run(tc.event, func(t *testing.T) {
			dir := filepath.Join(out, tc.event)
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			logf, err := os.Create(filepath.Join(dir, "job.log"))
			if err != nil {
				t.Fatal(err)
			}
			defer logf.Close()
			artifacts := filepath.Join(dir, "artifacts")
			// Every shard's checkout makes the same merge commit, as GitHub
			// gives every job of a run the same refs/pull/N/merge.
			t.Setenv("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
			t.Setenv("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
			var checkout func(r *jobRun, dir string, depth int) error
			jobRunIn := func(sub, job string, matrix map[string]any) *jobRun {
				r := newJobRun(t, filepath.Join(dir, sub), filepath.Join(src, ".github", "workflows", "bench.yml"), job, tc.event, io.MultiWriter(logf, os.Stdout))
				r.github, r.matrix, r.artifacts = tc.github, matrix, artifacts
				// The smoke profile; pushes run the local stack here, because
				// the compose stack's images come from a registry this machine
				// cannot reach (make compose-smoke runs it on local images).
				r.overrides = map[string]string{"BENCH_PROFILE": "smoke", "BENCH_STACK": "local"}
				r.prepare = func(r *jobRun, depth int) error { return checkout(r, filepath.Join(dir, sub), depth) }
				return r
			}
			checkout = func(r *jobRun, dir string, depth int) error {
				if tc.event != "pull_request" {
					if depth != 0 {
						return fmt.Errorf("push: fetch-depth %d, want 0 (the history)", depth)
					}
					_, err := git(dir, "clone", "-q", "--no-local", src, r.ws)
					if err == nil {
						_, err = git(r.ws, "checkout", "-q", "--detach", head)
					}
					return err
				}
				// refs/pull/1/merge: HEAD merged into HEAD^ (its tree, parents
				// base then head), fetched at the workflow's depth.
				scratch := filepath.Join(dir, "scratch")
				if _, err := git(dir, "clone", "-q", "--no-local", "--bare", src, scratch); err != nil {
					return err
				}
				merge, err := git(scratch, "commit-tree", head+"^{tree}", "-p", base, "-p", head, "-m", "Merge "+head+" into "+base)
				if err != nil {
					return err
				}
				if _, err := git(scratch, "update-ref", "refs/heads/pull-1-merge", merge); err != nil {
					return err
				}
				r.github["sha"] = merge
				_, err = git(dir, "clone", "-q", "--depth", strconv.Itoa(depth), "--branch", "pull-1-merge", "file://"+scratch, r.ws)
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
			defer cancel()
			// The bench job once per matrix entry (a pull request's shards),
			// then, for a pull request, the fan-in job merge.
			probe := jobRunIn("probe", "bench", nil)
			shards, err := probe.matrixValues("shard")
			if err != nil {
				t.Fatal(err)
			}
			jobs := []*jobRun{}
			for _, v := range shards {
				jobs = append(jobs, jobRunIn(fmt.Sprintf("bench-%s", toString(v)), "bench", map[string]any{"shard": v}))
			}
			if tc.event == "pull_request" {
				if len(shards) < 2 {
					t.Errorf("pull_request: %d shard(s), want the scenarios split over several runners", len(shards))
				}
				jobs = append(jobs, jobRunIn("merge", "merge", nil))
			} else if len(shards) != 1 || toNumber(shards[0]) != 0 {
				t.Errorf("%s: matrix %v, want one unsharded job (shard 0)", tc.event, shards)
			}
			for _, r := range jobs {
				ok, err := r.run(ctx)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: %s %v: steps:\n  %s", tc.event, r.jobName, r.matrix, strings.Join(r.ran, "\n  "))
				if !ok {
					t.Errorf("%s: job %s %v failed (log %s)", tc.event, r.jobName, r.matrix, logf.Name())
				}
			}
			r := jobs[0]
			runID := "ci-" + toString(tc.github["run_id"]) + "-1"
			for _, f := range []string{"bench-report/" + runID + "/results.json", "bench-report/" + runID + "/report.md"} {
				if _, err := os.Stat(filepath.Join(r.artifacts, f)); err != nil {
					t.Errorf("%s: artifact file %s: %v", tc.event, f, err)
				}
			}
			switch tc.event {
			case "pull_request":
				for _, f := range []string{"bench-comment/diff.json", "bench-comment/results.json"} {
					if _, err := os.Stat(filepath.Join(r.artifacts, f)); err != nil {
						t.Errorf("artifact file %s: %v", f, err)
					}
				}
				if got := r.outputs["base"]["sha"]; got != base {
					t.Errorf("steps.base.outputs.sha = %q, want the merge commit's first parent %s", got, base)
				}
			case "push":
				if _, err := os.Stat(filepath.Join(r.artifacts, "bench-results", "results.json")); err != nil {
					t.Errorf("push: the history artifact bench-results: %v", err)
				}
			}
		})
	}
}

// matrixValues evaluates the job's strategy.matrix entry key for the event:
// a list, or an expression that gives one. Without a matrix: one nil.
func (r *jobRun) matrixValues(key string) ([]any, error) {
	strat, _ := r.job["strategy"].(map[string]any)
	m, _ := strat["matrix"].(map[string]any)
	v, ok := m[key]
	if !ok {
		return []any{nil}, nil
	}
	if src, isStr := v.(string); isStr {
		src = strings.TrimSpace(src)
		if !strings.HasPrefix(src, "${{") || !strings.HasSuffix(src, "}}") {
			return nil, fmt.Errorf("matrix %s: %q is neither a list nor an expression", key, src)
		}
		var err error
		if v, err = r.evalExpr(strings.TrimSpace(src[3:len(src)-2]), map[string]string{}); err != nil {
			return nil, err
		}
	}
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("matrix %s: %v is not a list", key, v)
	}
	return list, nil
}

// GitHub reads a context's field names case-insensitively: the workflow's
// `path: reports/${{ env.RUN_ID }}/results.json` must find RUN_ID (the
// push job's "Keep the results" step once uploaded "reports//results.json").
func TestExprFieldCase(t *testing.T) {
	r := &jobRun{github: map[string]any{"run_id": "7"}}
	for src, want := range map[string]string{"env.RUN_ID": "ci-7", "env.run_id": "ci-7", "github.RUN_ID": "7"} {
		v, err := r.evalExpr(src, map[string]string{"RUN_ID": "ci-7"})
		if err != nil || toString(v) != want {
			t.Errorf("%s = %v, %v; want %q", src, v, err, want)
		}
	}
}
