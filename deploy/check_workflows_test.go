package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mcchaos/mcchaos/collect/compare"
	"github.com/mcchaos/mcchaos/collect/results"
	"github.com/mcchaos/mcchaos/scenariod"
)

// The CI security rules of issue 12 (item 8) and the paired CI run of issue
// 10 (item 6), checked on the workflows as GitHub reads them. The rules
// inside the scripts (permission through the API, the commit pinned, the
// exact bot filter, no older result over a newer one) are pinned by the
// scripts' own tests, which TestWorkflowScripts runs.

// workflow is what the checks read from a workflow file.
type workflow struct {
	file        string
	On          any               `yaml:"on"`
	Concurrency any               `yaml:"concurrency"`
	Permissions any               `yaml:"permissions"`
	Env         map[string]string `yaml:"env"`
	Jobs        map[string]job    `yaml:"jobs"`
}

type job struct {
	If          any               `yaml:"if"`
	Needs       any               `yaml:"needs"`
	Timeout     int               `yaml:"timeout-minutes"`
	Outputs     map[string]string `yaml:"outputs"`
	Permissions any               `yaml:"permissions"`
	Concurrency any               `yaml:"concurrency"`
	Env         map[string]string `yaml:"env"`
	Steps       []step            `yaml:"steps"`
}

type step struct {
	ID   string            `yaml:"id"`
	Name string            `yaml:"name"`
	If   any               `yaml:"if"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]any    `yaml:"with"`
	Env  map[string]string `yaml:"env"`
}

// action is the step's action without its version: actions/checkout.
func (s step) action() string {
	a, _, _ := strings.Cut(s.Uses, "@")
	return a
}

func (s step) String() string {
	return cmpOr(s.Name, s.ID, s.Uses, firstLine(s.Run))
}

func cmpOr(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

func readWorkflows(t *testing.T) map[string]workflow {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, ".github", "workflows", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows: %v", err)
	}
	wfs := map[string]workflow{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var wf workflow
		if err := yaml.Unmarshal(b, &wf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		wf.file = filepath.Base(f)
		wfs[wf.file] = wf
	}
	return wfs
}

// triggers returns the events that start wf, sorted.
func (wf workflow) triggers() []string {
	var out []string
	switch on := wf.On.(type) {
	case string:
		out = []string{on}
	case []any:
		for _, e := range on {
			out = append(out, fmt.Sprint(e))
		}
	case map[string]any:
		for e := range on {
			out = append(out, e)
		}
	}
	sort.Strings(out)
	return out
}

// privilegedEvents start a workflow in the base repository's context: its
// token may write and the default branch's Actions cache is writable,
// whoever wrote the comment or the pull request.
var privilegedEvents = []string{"issue_comment", "pull_request_target", "pull_request_review", "pull_request_review_comment", "workflow_run", "issues", "discussion_comment"}

// codeEvents are the events under which a workflow may run the repository's
// code: pull_request runs a fork's code with a read-only token in the PR's
// own cache scope; the others run code already in this repository.
var codeEvents = []string{"pull_request", "push", "workflow_dispatch", "schedule", "merge_group"}

func (wf workflow) privileged() bool {
	return slices.ContainsFunc(wf.triggers(), func(e string) bool { return slices.Contains(privilegedEvents, e) })
}

// TestWorkflowsRunNoPRCodeWhenPrivileged: a workflow started by a comment, a
// completed run or pull_request_target runs no code that is not the default
// branch's .github/scripts: no run: step, no cache, no setup action, a
// checkout only of the default branch's scripts, without credentials, and
// artifacts downloaded outside the workspace before that checkout. A
// workflow that runs commands is started only by codeEvents.
func TestWorkflowsRunNoPRCodeWhenPrivileged(t *testing.T) {
	allowed := []string{"actions/checkout", "actions/github-script", "actions/download-artifact"}
	for _, wf := range readWorkflows(t) {
		runsCode := false
		for name, j := range wf.Jobs {
			for i, s := range j.Steps {
				if s.Run != "" || strings.HasPrefix(s.action(), "actions/setup-") || s.action() == "actions/cache" {
					runsCode = true
				}
				if !wf.privileged() {
					continue
				}
				where := fmt.Sprintf("%s: job %s: step %q", wf.file, name, s)
				switch {
				case s.Run != "":
					t.Errorf("%s: a run: step in a workflow started by %q (privileged context)", where, wf.triggers())
				case !slices.Contains(allowed, s.action()):
					t.Errorf("%s: action %s in a privileged workflow; allowed: %q (no cache, no setup)", where, s.action(), allowed)
				case s.action() == "actions/checkout":
					if s.With["ref"] != nil || s.With["repository"] != nil {
						t.Errorf("%s: checks out ref %v of %v: only the default branch may be checked out here", where, s.With["ref"], s.With["repository"])
					}
					if s.With["sparse-checkout"] != ".github/scripts" {
						t.Errorf("%s: sparse-checkout %v, want .github/scripts only", where, s.With["sparse-checkout"])
					}
					if s.With["persist-credentials"] != false {
						t.Errorf("%s: persist-credentials is not false", where)
					}
				case s.action() == "actions/download-artifact":
					// An artifact of a run of PR code is untrusted: outside
					// the workspace, and before the checkout, which then
					// replaces anything a crafted zip path put there.
					if p := fmt.Sprint(s.With["path"]); !strings.HasPrefix(p, "${{ runner.temp }}/") {
						t.Errorf("%s: downloads to %s, want under ${{ runner.temp }}", where, p)
					}
					if slices.ContainsFunc(j.Steps[:i], func(s step) bool { return s.action() == "actions/checkout" }) {
						t.Errorf("%s: downloads an artifact after the checkout: its files could stand in for the scripts", where)
					}
				case s.action() == "actions/github-script":
					script, _ := s.With["script"].(string)
					for _, m := range regexp.MustCompile(`require\(([^)]*)\)`).FindAllStringSubmatch(script, -1) {
						if !strings.Contains(m[1], "/.github/scripts/") {
							t.Errorf("%s: require(%s): scripts come from the default branch's .github/scripts only", where, m[1])
						}
					}
				}
			}
		}
		if runsCode {
			for _, e := range wf.triggers() {
				if !slices.Contains(codeEvents, e) {
					t.Errorf("%s runs commands and is started by %s: only %q may start a workflow that runs code", wf.file, e, codeEvents)
				}
			}
		}
	}
}

// TestWorkflowTokens: a job that runs commands has a read-only token; only
// the jobs that run no code (the comment and command jobs) may write.
func TestWorkflowTokens(t *testing.T) {
	for _, wf := range readWorkflows(t) {
		for name, j := range wf.Jobs {
			runs := slices.ContainsFunc(j.Steps, func(s step) bool { return s.Run != "" })
			perms, _ := j.Permissions.(map[string]any)
			if j.Permissions == nil {
				perms, _ = wf.Permissions.(map[string]any)
			}
			for scope, level := range perms {
				if runs && level == "write" {
					t.Errorf("%s: job %s runs commands with %s: write", wf.file, name, scope)
				}
			}
			if s, ok := j.Permissions.(string); ok {
				t.Errorf("%s: job %s: permissions %q; list the scopes it needs", wf.file, name, s)
			}
		}
	}
}

// TestWorkflowRunLines: no ${{ }} inside run: text. Every value, trusted or
// not, reaches the shell through env:, so no text of an event can become a
// command (actionlint checks the untrusted ones; this checks all of them).
func TestWorkflowRunLines(t *testing.T) {
	for _, wf := range readWorkflows(t) {
		for name, j := range wf.Jobs {
			for _, s := range j.Steps {
				if strings.Contains(s.Run, "${{") {
					t.Errorf("%s: job %s: step %q has ${{ }} in run:; pass the value through env:", wf.file, name, s)
				}
			}
		}
	}
}

// TestCommentJobsNeverCancelled: no job that writes the PR comment or
// answers `/bench` has a concurrency group. GitHub keeps one pending job per
// group and cancels it when another queues, even with cancel-in-progress
// false: a result or a command would be lost. (GitHub's `queue: max` would
// keep them, but actionlint rejects the key.) bench-comment.js settles two
// writers instead: its tests race them.
func TestCommentJobsNeverCancelled(t *testing.T) {
	found := 0
	for _, wf := range readWorkflows(t) {
		for name, j := range wf.Jobs {
			uses := slices.ContainsFunc(j.Steps, func(s step) bool {
				script, _ := s.With["script"].(string)
				return strings.Contains(script, "bench-comment.js") || strings.Contains(script, "bench-command.js")
			})
			if !uses {
				continue
			}
			found++
			if j.Concurrency != nil {
				t.Errorf("%s: job %s has concurrency %v: a pending job of a group is cancelled when another queues", wf.file, name, j.Concurrency)
			}
		}
		if wf.privileged() && wf.Concurrency != nil {
			t.Errorf("%s: workflow-wide concurrency %v cancels pending comment runs", wf.file, wf.Concurrency)
		}
	}
	if found < 3 {
		t.Errorf("%d jobs call bench-comment.js or bench-command.js, want bench-report's, and bench-command's two", found)
	}
}

// TestResultsAlwaysArrive: a `/bench` re-run's result is posted by
// bench-command.yml itself once the command job has waited for it (not only
// if GitHub raises workflow_run for a re-run attempt), and bench-report.yml
// comments on every conclusion but skipped, cancelled and timed-out runs
// included, passing the conclusion GitHub reports.
func TestResultsAlwaysArrive(t *testing.T) {
	wfs := readWorkflows(t)
	cmd := wfs["bench-command.yml"]
	rerun, comment := cmd.Jobs["rerun"], cmd.Jobs["comment"]
	if rerun.Outputs["run_id"] == "" || rerun.Outputs["conclusion"] == "" {
		t.Errorf("bench-command.yml: job rerun outputs %v, want the re-run's run_id and conclusion", rerun.Outputs)
	}
	if fmt.Sprint(comment.Needs) != "rerun" || !slices.ContainsFunc(comment.Steps, func(s step) bool {
		script, _ := s.With["script"].(string)
		return strings.Contains(script, "bench-comment.js") && strings.Contains(script, "conclusion: CONCLUSION")
	}) {
		t.Errorf("bench-command.yml: job comment (needs %v) does not post the re-run's result with bench-comment.js", comment.Needs)
	}
	bench := wfs["bench.yml"].Jobs["bench"]
	if rerun.Timeout <= bench.Timeout {
		t.Errorf("bench-command.yml: the command job's timeout (%d min) must exceed bench's (%d min): it waits for the re-run", rerun.Timeout, bench.Timeout)
	}
	report := wfs["bench-report.yml"].Jobs["comment"]
	if cond := fmt.Sprint(report.If); strings.Contains(cond, "cancelled") || strings.Contains(cond, "timed_out") {
		t.Errorf("bench-report.yml: if %q skips cancelled or timed-out runs: they must get a comment", cond)
	}
	var env map[string]string
	for _, s := range report.Steps {
		if s.action() == "actions/github-script" {
			env = s.Env
		}
	}
	if env["CONCLUSION"] != "${{ github.event.workflow_run.conclusion }}" {
		t.Errorf("bench-report.yml: CONCLUSION = %q, want the run's conclusion from the event", env["CONCLUSION"])
	}
}

// TestCommentArtifact: the artifact the privileged jobs read holds only
// diff.json and results.json, which bench-render.js validates; report.md,
// Markdown the PR's code wrote, is never handed to them.
func TestCommentArtifact(t *testing.T) {
	j := readWorkflows(t)["bench.yml"].Jobs["bench"]
	for _, s := range j.Steps {
		if s.Name != "Prepare the PR comment" {
			continue
		}
		if !strings.Contains(s.Run, "for f in diff.json results.json") || strings.Contains(s.Run, "report.md") || strings.Contains(s.Run, "meta.json") {
			t.Errorf("bench.yml: step %q puts more than diff.json and results.json in the comment artifact:\n%s", s, s.Run)
		}
		return
	}
	t.Error("bench.yml: no step \"Prepare the PR comment\"")
}

// currentMajors are the action majors that run on GitHub's Node 24 runtime
// (Node 20 actions are no longer run natively); the tag checked out to pin
// each is in the comment after the SHA.
var currentMajors = map[string]int{
	"actions/checkout": 7, "actions/setup-go": 7, "actions/upload-artifact": 7,
	"actions/download-artifact": 8, "actions/github-script": 8,
}

// TestActionVersions: every action is pinned by SHA with its version in a
// comment (`@<sha> # v7.0.1`), on a current major.
func TestActionVersions(t *testing.T) {
	re := regexp.MustCompile(`(?m)uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40})(?:\s*#\s*v(\d+)\.\d+\.\d+)?\s*$`)
	files, _ := filepath.Glob(filepath.Join(repoRoot, ".github", "workflows", "*.yml"))
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			n++
			if m[3] == "" {
				t.Errorf("%s: %s@%s has no version comment (# vX.Y.Z)", filepath.Base(f), m[1], m[2])
				continue
			}
			want, ok := currentMajors[m[1]]
			if !ok {
				t.Errorf("%s: %s: add its current major to currentMajors", filepath.Base(f), m[1])
			} else if major, _ := strconv.Atoi(m[3]); major < want {
				t.Errorf("%s: %s v%d, want v%d or later (Node 24)", filepath.Base(f), m[1], major, want)
			}
		}
	}
	if n == 0 {
		t.Error("no pinned actions found")
	}
}

// TestRunLookups: every lookup of workflow runs, in the workflows and their
// scripts, asks the API for the event it wants (and the script keeps only
// runs of the expected head repository), instead of taking the latest runs
// of a branch name and filtering them afterwards: a fork's branch called
// main, or a comment run, would otherwise count.
func TestRunLookups(t *testing.T) {
	var files []string
	for _, pat := range []string{"workflows/*.yml", "scripts/*.js"} {
		fs, _ := filepath.Glob(filepath.Join(repoRoot, ".github", pat))
		files = append(files, fs...)
	}
	// A command with its continuation lines (backslash-newline first, so
	// that it wins over a plain character).
	ghList := regexp.MustCompile(`gh\s+run\s+list(?:\\\n|[^\n])*`)
	apiList := regexp.MustCompile(`(?s)listWorkflowRuns(?:ForRepo)?\b\s*(?:\(|,)(.*?)\}\)`)
	lookups := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".test.js") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, m := range ghList.FindAllString(text, -1) {
			lookups++
			if !strings.Contains(m, "--event") {
				t.Errorf("%s: %q does not ask for an event (--event)", filepath.Base(f), m)
			}
		}
		for _, m := range apiList.FindAllStringSubmatch(text, -1) {
			lookups++
			if !regexp.MustCompile(`\bevent:`).MatchString(m[1]) {
				t.Errorf("%s: listWorkflowRuns(%s) does not ask for an event", filepath.Base(f), strings.TrimSpace(m[1]))
			}
			if !strings.Contains(text, "head_repository") {
				t.Errorf("%s: runs are looked up but never checked against the expected head repository", filepath.Base(f))
			}
		}
		if regexp.MustCompile(`select\(\.event|\.event\s*===?\s*'push'\)\s*\|\|`).MatchString(text) {
			t.Errorf("%s: filters runs by event after the query; ask the API for the event", filepath.Base(f))
		}
	}
	if lookups == 0 {
		t.Log("no run lookups in .github/ (bench-command.js should have one)")
		t.Fail()
	}
}

// TestBenchWorkflowPaired: on a pull request, bench.yml runs the paired mode
// against the commit the PR is merged into, which the checkout holds; no
// step fetches a baseline or any artifact recorded by another run; pushes to
// main keep results.json as history; packet loss is per packet unless the
// workflow's LOSS_INJECTOR says otherwise.
func TestBenchWorkflowPaired(t *testing.T) {
	wf, ok := readWorkflows(t)["bench.yml"]
	if !ok {
		t.Fatal("no bench.yml")
	}
	if !slices.Contains(wf.triggers(), "pull_request") || !slices.Contains(wf.triggers(), "push") {
		t.Errorf("bench.yml triggers %q, want pull_request and push among them", wf.triggers())
	}
	if got := wf.Env["LOSS_INJECTOR"]; !strings.Contains(got, "'netfilter'") {
		t.Errorf("LOSS_INJECTOR = %q, want netfilter (per packet) by default", got)
	}
	var (
		checkout, base, bench, history, setcap *step
	)
	j, ok := wf.Jobs["bench"]
	if !ok {
		t.Fatal("bench.yml has no job bench")
	}
	if j.Env["PR_BASE_SHA"] != "${{ github.event.pull_request.base.sha }}" {
		t.Errorf("job env PR_BASE_SHA = %q, want the PR's base commit", j.Env["PR_BASE_SHA"])
	}
	for i := range j.Steps {
		s := &j.Steps[i]
		switch {
		case s.action() == "actions/checkout":
			checkout = s
		case s.ID == "base":
			base = s
		case strings.Contains(s.Run, "make bench"):
			bench = s
		case strings.Contains(s.Run, "setcap cap_net_admin+ep"):
			setcap = s
		case s.action() == "actions/upload-artifact" && s.With["name"] == "bench-results":
			history = s
		}
		if s.action() == "actions/download-artifact" || strings.Contains(s.Run, "gh run download") || strings.Contains(s.Run, "gh api") {
			t.Errorf("bench.yml: step %q fetches something recorded elsewhere; the PR gate is the paired run", s)
		}
	}
	if checkout == nil || base == nil || bench == nil || history == nil || setcap == nil {
		t.Fatalf("bench.yml: checkout %v, base %v, make bench %v, history upload %v, setcap %v: want each", checkout != nil, base != nil, bench != nil, history != nil, setcap != nil)
	}
	// The merge commit and its parents: depth 2 on pull_request (0 = all).
	if fd := fmt.Sprint(checkout.With["fetch-depth"]); fd != "${{ github.event_name == 'pull_request' && 2 || 0 }}" && fd != "0" {
		t.Errorf("checkout fetch-depth %s: the PR's base commit would be missing", fd)
	}
	if !strings.Contains(base.Run, "pull_request)") || !strings.Contains(base.Run, "HEAD^1") || !strings.Contains(base.Run, `"$PR_BASE_SHA"`) {
		t.Errorf("step %q does not take the base side from the merge commit's first parent, checked against the event's base:\n%s", base, base.Run)
	}
	if bench.Env["BASE"] != "${{ steps.base.outputs.sha }}" || !strings.Contains(bench.Run, `BASE="$BASE"`) {
		t.Errorf("step %q: env BASE %q; make bench must get BASE=\"$BASE\" from steps.base.outputs.sha:\n%s", bench, bench.Env["BASE"], bench.Run)
	}
	if !strings.Contains(bench.Run, "-loss-injector $LOSS_INJECTOR") {
		t.Errorf("step %q does not pass LOSS_INJECTOR to scenariod", bench)
	}
	if !strings.Contains(bench.Env["FAIL_ON"], "'pull_request' && 'regression'") {
		t.Errorf("step %q: FAIL_ON %q; a paired PR run gates on regressions", bench, bench.Env["FAIL_ON"])
	}
	if setcap.If != "env.LOSS_INJECTOR != 'toxiproxy'" {
		t.Errorf("step %q runs if %v, want whenever netfilter may be used", setcap, setcap.If)
	}
	if history.If != "github.event_name == 'push' && github.ref == 'refs/heads/main'" || !strings.HasSuffix(fmt.Sprint(history.With["path"]), "/results.json") {
		t.Errorf("history upload if %v path %v: want results.json of pushes to main", history.If, history.With["path"])
	}
}

// TestNoAuthorAssociation: no workflow decides who may run something from
// author_association (an organization MEMBER may have read access only);
// bench-command.js asks the API for the commenter's permission, which its
// tests pin.
func TestNoAuthorAssociation(t *testing.T) {
	for _, wf := range readWorkflows(t) {
		b, err := os.ReadFile(filepath.Join(repoRoot, ".github", "workflows", wf.file))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "author_association") {
			t.Errorf("%s uses author_association: check write access through the API (getCollaboratorPermissionLevel)", wf.file)
		}
	}
}

// TestKnownNames: .github/scripts/bench-known.json, the only names the PR
// comment prints, holds scenariod's catalogue exactly, the schema versions
// collect writes, its verdicts and modes, and every phase, figure, label
// key, unit, direction, verdict, fidelity and status in collect's own test
// outputs: a valid artifact is never refused, a renamed scenario is noticed.
func TestKnownNames(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, ".github", "scripts", "bench-known.json"))
	if err != nil {
		t.Fatal(err)
	}
	var known struct {
		DiffSchemas    []int    `json:"diff_schemas"`
		ResultsSchemas []int    `json:"results_schemas"`
		Scenarios      []string `json:"scenarios"`
		Phases         []string `json:"phases"`
		Figures        []string `json:"figures"`
		LabelKeys      []string `json:"label_keys"`
		Units          []string `json:"units"`
		Directions     []string `json:"directions"`
		RowVerdicts    []string `json:"row_verdicts"`
		Verdicts       []string `json:"verdicts"`
		Modes          []string `json:"modes"`
		Fidelities     []string `json:"fidelities"`
		Statuses       []string `json:"statuses"`
		Charted        []string `json:"charted_series"`
		Expectations   []string `json:"expectations"`
		IssueCodes     []string `json:"issue_codes"`
	}
	if err := json.Unmarshal(b, &known); err != nil {
		t.Fatalf("bench-known.json: %v", err)
	}
	var catalogue []string
	for _, sc := range scenariod.Builtin() {
		catalogue = append(catalogue, sc.Name)
	}
	if !slices.Equal(known.Scenarios, catalogue) {
		t.Errorf("bench-known.json scenarios %q, want scenariod's catalogue %q", known.Scenarios, catalogue)
	}
	if !slices.Contains(known.DiffSchemas, compare.SchemaVersion) || !slices.Contains(known.ResultsSchemas, results.SchemaVersion) {
		t.Errorf("schemas %v / %v do not include collect's %d / %d", known.DiffSchemas, known.ResultsSchemas, compare.SchemaVersion, results.SchemaVersion)
	}
	want := func(list []string, what, v string) {
		t.Helper()
		if v != "" && !slices.Contains(list, v) {
			t.Errorf("bench-known.json: %s %q, in collect's output, is not known", what, v)
		}
	}
	for _, v := range []compare.RunVerdict{compare.VerdictOK, compare.VerdictRegression, compare.VerdictIntegrity, compare.VerdictNoBaseline, compare.VerdictInvalid, compare.VerdictUnconfirmed, compare.VerdictAdvisory} {
		want(known.Verdicts, "verdict", string(v))
	}
	for _, v := range []compare.Verdict{compare.Same, compare.Candidate, compare.Unconfirmed, compare.Regression, compare.Improvement, compare.Worse, compare.Better, compare.Changed, compare.NotTested, compare.Added, compare.Removed} {
		want(known.RowVerdicts, "row verdict", string(v))
	}
	for _, v := range []compare.Mode{compare.ModePaired, compare.ModeStored, compare.ModeNone} {
		want(known.Modes, "mode", string(v))
	}
	for _, v := range compare.IssueCodes {
		want(known.IssueCodes, "issue code", string(v))
	}
	for _, g := range compare.DefaultFamily {
		want(known.Phases, "phase", g.Key.Phase)
		want(known.Figures, "figure", g.Key.Name)
	}
	for name := range compare.DefaultFloors {
		want(known.Figures, "figure", name)
	}
	diffs, _ := filepath.Glob(filepath.Join(repoRoot, "collect", "report", "testdata", "diff-*.json"))
	if len(diffs) == 0 {
		t.Fatal("no diff-*.json in collect/report/testdata")
	}
	for _, f := range diffs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Only what the comment reads (compare.Diff has fields that do
		// not read back, such as the policy).
		type row struct {
			Key                      compare.Key
			Unit, Direction, Verdict string
		}
		var d struct {
			Verdict   string `json:"verdict"`
			Mode      string `json:"mode"`
			Healthy   []row  `json:"healthy"`
			Scenarios []struct {
				Name, Fidelity, Status, Expect string
				Rows                           []row
			} `json:"scenarios"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		want(known.Verdicts, "verdict", d.Verdict)
		want(known.Modes, "mode", d.Mode)
		d.Scenarios = append(d.Scenarios, struct {
			Name, Fidelity, Status, Expect string
			Rows                           []row
		}{Rows: d.Healthy})
		for _, sc := range d.Scenarios {
			want(known.Scenarios, "scenario", sc.Name)
			want(known.Fidelities, "fidelity", sc.Fidelity)
			want(known.Statuses, "status", sc.Status)
			want(known.Expectations, "expectation", sc.Expect)
			for _, r := range sc.Rows {
				want(known.Phases, "phase", r.Key.Phase)
				want(known.Figures, "figure", r.Key.Name)
				want(known.Units, "unit", r.Unit)
				want(known.Directions, "direction", r.Direction)
				want(known.RowVerdicts, "row verdict", r.Verdict)
				for _, kv := range strings.Split(r.Key.Labels, ",") {
					k, _, _ := strings.Cut(kv, "=")
					want(known.LabelKeys, "label key", k)
				}
			}
		}
	}
	f, err := results.Read(filepath.Join(repoRoot, "collect", "testdata", "results.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	charted := 0
	for _, run := range f.Runs {
		for _, sc := range run.Scenarios {
			for _, s := range sc.Series {
				if slices.Contains(known.Charted, s.Name) {
					charted++
					want(known.Units, "series unit", s.Unit)
				}
			}
		}
	}
	if charted == 0 {
		t.Errorf("no series named %q in results.golden.json: the comment's charts would be empty", known.Charted)
	}
}

// TestComposeLocalOverride: docker-compose.local.yml (make compose-smoke)
// leaves no default service of docker-compose.yml pulling from a registry:
// each runs an image of deploy/Dockerfile.local, never pulled, or is moved
// out of the default set (Grafana, which has no local image).
func TestComposeLocalOverride(t *testing.T) {
	type service struct {
		Image      string   `yaml:"image"`
		PullPolicy string   `yaml:"pull_policy"`
		Profiles   []string `yaml:"profiles"`
	}
	read := func(name string) map[string]service {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(repoRoot, name))
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Services map[string]service `yaml:"services"`
		}
		if err := yaml.Unmarshal(b, &f); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return f.Services
	}
	base, local := read("docker-compose.yml"), read("docker-compose.local.yml")
	df, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "Dockerfile.local"))
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range base {
		if len(s.Profiles) > 0 {
			continue // not started by default
		}
		o, ok := local[name]
		switch {
		case !ok:
			t.Errorf("docker-compose.local.yml: service %s (image %s) is not overridden: it would be pulled", name, s.Image)
		case len(o.Profiles) > 0:
			// moved out of the default set
		case !strings.HasPrefix(o.Image, "mcchaos-local/") || o.PullPolicy != "never":
			t.Errorf("docker-compose.local.yml: service %s: image %q pull_policy %q, want mcchaos-local/… and never", name, o.Image, o.PullPolicy)
		default:
			target := strings.TrimSuffix(strings.TrimPrefix(o.Image, "mcchaos-local/"), ":latest")
			if !strings.Contains(string(df), " AS "+target+"\n") {
				t.Errorf("deploy/Dockerfile.local has no target %s (service %s)", target, name)
			}
		}
	}
}
