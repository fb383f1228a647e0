// Tests of bench-comment.js and bench-render.js:
// node --test .github/scripts/bench-comment.test.js
// (deploy's TestWorkflowScripts runs them). The artifacts are collect's own
// test files (a planted regression, the golden results) and hostile ones.
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const post = require('./bench-comment.js');
const { render, LIMIT, MAX_DIFF_BYTES } = require('./bench-render.js');

const { body, MARKER } = post;
const ROOT = path.join(__dirname, '..', '..');
const PLANTED = fs.readFileSync(path.join(ROOT, 'collect/report/testdata/diff-planted.json'), 'utf8');
const RESULTS = fs.readFileSync(path.join(ROOT, 'collect/testdata/results.golden.json'), 'utf8');
const SHA = '0123456789abcdef0123456789abcdef01234567';

function artifactDir(files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-comment-'));
  for (const [name, text] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const urls = { headSha: SHA, runURL: 'https://github.com/o/r/actions/runs/1', artifactURL: 'https://github.com/o/r/actions/runs/1/artifacts/2', runId: 1 };

// clean asserts that b carries nothing a stranger could have written: no
// mention, no link or image other than ours, no HTML but our own tags.
function clean(b) {
  const ours = b.split(urls.artifactURL).join('').split(urls.runURL).join('');
  assert.ok(!/evil/i.test(ours), 'hostile text reached the comment');
  assert.ok(!ours.includes('@'), 'an @ reached the comment');
  assert.ok(!/https?:|www\.|javascript:/i.test(ours), 'a link reached the comment');
  assert.ok(!ours.includes('!['), 'an image reached the comment');
  const tags = (ours.match(/<\/?[a-z][^>]*>/gi) || []).filter((t) => !/^<\/?(details|summary|code)>$/.test(t));
  assert.deepStrictEqual(tags, [], 'HTML of the artifact reached the comment');
  assert.ok(b.length <= LIMIT, `length ${b.length}`);
}

test('a planted regression: verdict, tables and Mermaid charts from the numbers', () => {
  const dir = artifactDir({ 'diff.json': PLANTED, 'results.json': RESULTS });
  const b = render({ dir, ...urls });
  clean(b);
  assert.match(b, /^### mcchaos benchmark: ❌ regression/);
  assert.ok(b.includes("produced by this pull request's own workflow run"));
  assert.ok(b.includes('`0123456789ab`'));
  assert.ok(b.includes('| `packet-loss-2-pct` | per-connection | ride-through | passed | 2 | 0 | 0 |'));
  assert.ok(b.includes('Confirmation runs: 23 candidates confirmed, 0 not confirmed.'));
  assert.match(b, /\| `packet-loss-5-pct` \| `throughput` \| testing \| [0-9.]+ ops\/s \| [0-9.]+ ops\/s \| -[0-9.]+ % \| [0-9.e-]+ \| ❌ regression \(gating\) \|/);
  const charts = b.match(/```mermaid\n[\s\S]*?```/g) || [];
  assert.ok(charts.length >= 3, `${charts.length} charts`);
  // The golden results have the series of packet-loss-100-pct: lines of
  // base and head over time; the other scenarios get the bar chart.
  const lines = charts.filter((c) => c.includes('title "packet-loss-100-pct: '));
  assert.strictEqual(lines.length, 3, 'throughput, error ratio and p99 of packet-loss-100-pct');
  for (const c of charts) {
    assert.match(c, /xychart-beta/);
    if (lines.includes(c)) {
      assert.match(c, /\n {2}line \[[0-9., ]+\]\n {2}line \[[0-9., ]+\]\n```$/, 'base and head lines of numbers');
    } else {
      assert.match(c, /\n {2}bar \[[-0-9., ]+\]\n```$/);
    }
  }
  assert.ok(!b.includes('.png'), 'no image links: the PNGs stay in the artifact');
  assert.ok(!b.includes('Refused'), 'collect\'s own files are refused nothing');
});

test('without results.json the changed scenarios get a bar chart of the gating changes', () => {
  const b = render({ dir: artifactDir({ 'diff.json': PLANTED }), ...urls });
  clean(b);
  assert.match(b, /```mermaid\nxychart-beta\n {2}title "packet-loss-[0-9]+-pct: change of each gating figure/);
  assert.match(b, /\n {2}bar \[[-0-9., ]+\]\n```/);
});

// hostile is a diff.json whose every string a PR could write is hostile.
function hostileDiff() {
  const d = JSON.parse(PLANTED);
  const evil = '@evil-org/team [evil](https://evil.example) <img src=x onerror=alert(1)> ![evil](https://evil.example/i.png) <!-- evil --> #1 www.evil.example';
  d.summary = evil;
  d.calibration = `calibrated ${evil}`;
  d.warnings = [evil, { code: evil }, { code: 'no_expectation', scenario: evil }];
  d.problems = [{ code: 'side_idle', scenario: evil, side: evil }];
  d.invalid_scenarios = [evil, 'packet-loss-2-pct'];
  d.base.run_ids = [evil];
  d.base.git_commits = [evil];
  d.head.client = evil;
  d.head.profile = evil;
  d.extra_field_of_a_newer_collect = { anything: evil };
  d.scenarios[0].name = `packet-loss-2-pct ${evil}`;
  d.scenarios[1].fidelity = evil;
  d.scenarios[2].rows[0].key.name = evil;
  d.scenarios[2].rows[1].key.labels = `op=${evil}`;
  d.scenarios[2].rows[2].unit = evil;
  d.scenarios[2].rows[3].verdict = evil;
  d.scenarios[2].rows[4].notes = [evil];
  d.scenarios[2].rows[4].reason = evil;
  d.scenarios[2].rows[5].head.median = evil;
  d.scenarios[2].rows[6].p = evil;
  d.scenarios[3].unsteady = evil;
  d.scenarios[3].expectation = { text: evil }; // a field the renderer does not know: ignored
  d.scenarios[3].expect_why = evil; // free text: never rendered
  d.scenarios[4].expect = evil;
  d.healthy = [{ ...d.scenarios[5].rows[0], key: { phase: 'healthy', name: evil } }];
  d.confirmation = { run_ids: [evil], scenarios: [evil], confirmed: evil, unconfirmed: 0 };
  return d;
}

test('hostile artifact: no mention, link, HTML or image reaches the comment; refusals are listed', () => {
  const report = '@evil-org/team [evil](https://evil.example) <img src=x> ![evil](https://evil.example/x.png)\n'.repeat(100);
  const dir = artifactDir({
    'diff.json': JSON.stringify(hostileDiff()),
    'results.json': RESULTS,
    'report.md': report, // never read
    'meta.json': JSON.stringify({ baseline: 'evil '.repeat(20000) }), // never read
  });
  const b = render({ dir, ...urls });
  clean(b);
  assert.match(b, /\*\*Refused from the artifact\*\*/);
  assert.ok(b.includes('a scenario with an unknown name'));
  assert.ok(b.includes('a scenario whose fields are not of the schema'));
  assert.ok(b.includes('a row of an unknown figure, phase or label (×3)'), 'two scenario rows and a healthy row');
  assert.ok(b.includes('a row with an unknown unit, direction or verdict (×2)'));
  assert.ok(b.includes('a row whose numbers are not of the schema (×2)'));
  assert.ok(b.includes('an invalid scenario with an unknown name'));
  assert.ok(b.includes('a scenario expectation that is not known'));
  assert.ok(b.includes('diff.json: a confirmation stage not of the schema'));
  assert.ok(!b.includes('Confirmation runs'));
  // What was valid is still shown, and counted free text only as counts.
  assert.ok(b.includes('`packet-loss-10-pct`'));
  assert.ok(b.includes('1 problems and 1 warnings'), 'issues of known codes counted, their fields never shown');
  assert.ok(b.includes('diff.json: warning with an unknown code (×2)'));
  assert.ok(b.includes('false-alarm bound 0.'), 'the bound of the run, a number');
});

test('a 10 MB diff.json is not read, and the comment says so', () => {
  const big = JSON.stringify({ schema_version: 2, pad: 'evil'.repeat(10 << 18) });
  assert.ok(big.length > MAX_DIFF_BYTES);
  const b = render({ dir: artifactDir({ 'diff.json': big }), ...urls });
  clean(b);
  assert.match(b, /diff\.json: [0-9]+ bytes, over the [0-9]+-byte cap: not read/);
  assert.match(b, /no result/);
});

test('100 KB strings (a baseline, a run id, a calibration) are not shown and cannot stretch the comment', () => {
  const d = JSON.parse(PLANTED);
  const long = 'evil'.repeat(25000);
  d.base.run_ids = [long];
  d.calibration = long;
  d.summary = long;
  d.base.git_commits = [long];
  const b = render({ dir: artifactDir({ 'diff.json': JSON.stringify(d), 'meta.json': JSON.stringify({ baseline: long }) }), ...urls });
  clean(b);
  assert.ok(b.length < 30000, `length ${b.length}`);
});

test('files of another schema are refused with a line saying so', () => {
  const rows = [
    // results.json where diff.json belongs
    [{ 'diff.json': RESULTS }, /diff\.json: not a diff of schema 3/],
    // a future diff schema, and the one before (its rows carried words)
    [{ 'diff.json': JSON.stringify({ ...JSON.parse(PLANTED), schema_version: 4 }) }, /diff\.json: not a diff of schema 3/],
    [{ 'diff.json': JSON.stringify({ ...JSON.parse(PLANTED), schema_version: 2 }) }, /diff\.json: not a diff of schema 3/],
    // not an object at all
    [{ 'diff.json': '["evil"]' }, /diff\.json: not an object/],
    [{ 'diff.json': 'evil <img>' }, /diff\.json: not JSON/],
    // a results.json of another schema: the diff is shown, the charts fall back
    [{ 'diff.json': PLANTED, 'results.json': JSON.stringify({ schema_version: 1, runs: 'evil' }) }, /results\.json: not results of schema 2/],
  ];
  for (const [files, want] of rows) {
    const b = render({ dir: artifactDir(files), ...urls });
    clean(b);
    assert.match(b, want);
  }
});

test('a symlink in the artifact is not followed', () => {
  const dir = artifactDir({});
  fs.symlinkSync('/etc/passwd', path.join(dir, 'diff.json'));
  const b = render({ dir, ...urls });
  clean(b);
  assert.match(b, /diff\.json: not a regular file/);
});

test('a diff with thousands of changed rows stays under the limit', () => {
  const d = JSON.parse(PLANTED);
  for (const s of d.scenarios) {
    const r = s.rows.find((x) => x.verdict === 'regression') || s.rows[0];
    const { arms, ...base } = r.base;
    s.rows = Array.from({ length: 100 }, () => ({ ...r, base, head: base, notes: undefined, verdict: 'worse', gating: false }));
  }
  d.scenarios = [...d.scenarios, ...d.scenarios, ...d.scenarios, ...d.scenarios].slice(0, 60);
  const b = body({ dir: artifactDir({ 'diff.json': JSON.stringify(d), 'results.json': RESULTS }), ...urls, run: { sha: SHA, run_id: 1, run_attempt: 1, started_at: '' } });
  clean(b);
  assert.match(b, /[0-9]+ more changed figures are in the full report/);
});

test('a cancelled or timed-out run without an artifact gets a comment saying so', () => {
  const b = render({ dir: artifactDir({}), ...urls, conclusion: 'cancelled' });
  clean(b);
  assert.match(b, /no result/);
  assert.match(b, /was cancelled before it finished/);
  assert.match(b, /diff\.json: missing/);
});

// fakeGitHub is the part of Octokit post uses. The PR's head is prHead;
// comments is the PR's comments, changed by the calls as GitHub would.
function fakeGitHub(comments, prHead = SHA, { onList } = {}) {
  const calls = [];
  let lists = 0;
  let nextId = 100;
  return {
    calls,
    comments,
    paginate: async (fn, args) => fn(args),
    rest: {
      pulls: { get: async ({ pull_number }) => ({ data: { number: pull_number, head: { sha: prHead } } }) },
      actions: { listWorkflowRunArtifacts: () => [{ name: 'bench-report', id: 42 }] },
      issues: {
        listComments: () => {
          if (onList) {
            onList(lists++, comments);
          }
          return comments.map((c) => ({ ...c }));
        },
        updateComment: async (a) => {
          calls.push(['update', a]);
          comments.find((c) => c.id === a.comment_id).body = a.body;
        },
        createComment: async (a) => {
          calls.push(['create', a]);
          comments.push({ id: nextId++, user: bot, body: a.body });
          return { data: { html_url: 'u' } };
        },
        deleteComment: async (a) => {
          calls.push(['delete', a]);
          comments.splice(comments.findIndex((c) => c.id === a.comment_id), 1);
        },
      },
    },
  };
}

const context = { repo: { owner: 'o', repo: 'r' }, serverUrl: 'https://github.com' };
const core = { info() {}, notice() {}, setFailed(m) { throw new Error(m); } };
const bot = { type: 'Bot', login: 'github-actions[bot]' };

// sticky is a sticky comment body showing run (as post writes it).
function sticky(run) {
  return body({ dir: artifactDir({ 'diff.json': PLANTED }), headSha: run.sha, runURL: 'u', artifactURL: 'u', run });
}

const run9 = { runId: 9, runAttempt: 1, startedAt: '2026-01-02T10:00:00Z', prNumber: 3, headSha: SHA };
function args(gh, over = {}) {
  return { github: gh, context, core, ...run9, dir: artifactDir({ 'diff.json': PLANTED }), settleChecks: 2, wait: async () => {}, ...over };
}

test('the bot comment with the marker is updated in place', async () => {
  const gh = fakeGitHub([
    { id: 1, user: { type: 'User', login: 'alice' }, body: `${MARKER} quoted by a person` },
    { id: 2, user: bot, body: `${MARKER}\nold report` },
  ]);
  assert.strictEqual(await post(args(gh)), 'updated');
  assert.deepStrictEqual(gh.calls.map((c) => c[0]), ['update']);
  const [, a] = gh.calls[0];
  assert.strictEqual(a.comment_id, 2);
  assert.ok(a.body.includes('https://github.com/o/r/actions/runs/9/artifacts/42'));
  assert.ok(a.body.length <= LIMIT);
});

test('without a bot comment a new one is created', async () => {
  const gh = fakeGitHub([{ id: 1, user: { type: 'User', login: 'alice' }, body: `${MARKER}` }]);
  assert.strictEqual(await post(args(gh)), 'created');
  assert.deepStrictEqual(gh.calls.map((c) => c[0]), ['create']);
  assert.strictEqual(gh.calls[0][1].issue_number, 3);
});

// The bot filter is exact: each of these has the marker but is not ours,
// so a new comment is created and none of them is touched.
test('the bot filter is exact: type Bot, login github-actions[bot], marker first', async () => {
  const notOurs = [
    { id: 1, user: { type: 'Bot', login: 'evil-app[bot]' }, body: `${MARKER}\nx` },
    { id: 2, user: { type: 'User', login: 'github-actions[bot]' }, body: `${MARKER}\nx` },
    { id: 3, user: { type: 'Bot', login: 'github-actions[bot]-x' }, body: `${MARKER}\nx` },
    { id: 4, user: bot, body: `> ${MARKER}\nx` },
    { id: 5, user: null, body: `${MARKER}\nx` },
  ];
  for (const c of notOurs) {
    assert.strictEqual(post.isOurs(c), false, `comment ${c.id} taken as ours`);
  }
  assert.strictEqual(post.isOurs({ id: 6, user: bot, body: `${MARKER}\n` }), true);
  const gh = fakeGitHub(notOurs.map((c) => ({ ...c })));
  assert.strictEqual(await post(args(gh)), 'created');
  assert.deepStrictEqual(gh.calls.map((c) => c[0]), ['create']);
});

test('a result for a commit that is no longer the PR head is refused', async () => {
  const gh = fakeGitHub([{ id: 2, user: bot, body: `${MARKER}\nold` }], 'd'.repeat(40));
  assert.strictEqual(await post(args(gh)), 'stale');
  assert.deepStrictEqual(gh.calls, []);
});

test('a result older than the one shown is refused; a newer one replaces it', async () => {
  const shown = { sha: SHA, run_id: 9, run_attempt: 2, started_at: '2026-01-02T11:00:00Z' };
  const rows = [
    [{ runId: 9, runAttempt: 1, startedAt: '2026-01-02T10:00:00Z' }, 'older'],
    [{ runId: 8, runAttempt: 3, startedAt: '2026-01-02T10:30:00Z' }, 'older'],
    // the same run and attempt again (a retried comment job): rewritten
    [{ runId: 9, runAttempt: 2, startedAt: '2026-01-02T11:00:00Z' }, 'updated'],
    // a later attempt (a `/bench` re-run), even one that was cancelled
    [{ runId: 9, runAttempt: 3, startedAt: '2026-01-02T12:00:00Z', conclusion: 'cancelled' }, 'updated'],
  ];
  for (const [over, want] of rows) {
    const gh = fakeGitHub([{ id: 2, user: bot, body: sticky(shown) }]);
    assert.strictEqual(await post(args(gh, over)), want, JSON.stringify(over));
    assert.strictEqual(gh.calls.length, want === 'updated' ? 1 : 0);
  }
  // A comment of another commit (the PR's previous head) is always replaced.
  const gh = fakeGitHub([{ id: 2, user: bot, body: sticky({ ...shown, sha: 'e'.repeat(40), started_at: '2027-01-01T00:00:00Z' }) }]);
  assert.strictEqual(await post(args(gh)), 'updated');
});

test('racing jobs settle: a duplicate is deleted and an older result written over ours is replaced', async () => {
  const older = { sha: SHA, run_id: 8, run_attempt: 1, started_at: '2026-01-02T09:00:00Z' };
  const gh = fakeGitHub([], SHA, {
    onList(i, comments) {
      if (i === 1) {
        // Meanwhile the job of an older run found no comment either and created one...
        comments.push({ id: 101, user: bot, body: sticky(older) });
      }
      if (i === 2) {
        // ...and then the job of that older run overwrote ours.
        comments[0].body = sticky(older);
      }
    },
  });
  assert.strictEqual(await post(args(gh)), 'created');
  assert.deepStrictEqual(gh.calls.map((c) => c[0]), ['create', 'delete', 'update']);
  assert.strictEqual(gh.comments.length, 1);
  assert.strictEqual(post.shownRun(gh.comments[0].body).run_id, 9);
});

test('a newer result written meanwhile is left alone', async () => {
  const newer = { sha: SHA, run_id: 9, run_attempt: 2, started_at: '2026-01-02T12:00:00Z' };
  const gh = fakeGitHub([{ id: 2, user: bot, body: `${MARKER}\nold` }], SHA, {
    onList(i, comments) {
      if (i === 1) {
        comments[0].body = sticky(newer);
      }
    },
  });
  assert.strictEqual(await post(args(gh)), 'updated');
  assert.deepStrictEqual(gh.calls.map((c) => c[0]), ['update']);
  assert.strictEqual(post.shownRun(gh.comments[0].body).run_attempt, 2);
});

test('the run shown is recorded in the comment, and no value can close its HTML comment', () => {
  const run = { sha: SHA, run_id: 9, run_attempt: 2, started_at: '--> <b>x</b>' };
  const b = sticky(run);
  assert.deepStrictEqual(post.shownRun(b), run);
  assert.strictEqual(b.split('\n')[1].indexOf('-->'), b.split('\n')[1].length - 3);
  assert.strictEqual(post.shownRun(`${MARKER}\nno run line`), null);
});
