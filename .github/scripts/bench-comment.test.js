// Tests of bench-comment.js: node --test .github/scripts/bench-comment.test.js
// (deploy's TestBenchCommentScript runs them when node is installed).
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const post = require('./bench-comment.js');

const { body, cut, MARKER } = post;
const LIMIT = 65536;

function artifactDir(files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-comment-'));
  for (const [name, text] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const urls = { headSha: '0123456789abcdef', runURL: 'https://x/runs/1', artifactURL: 'https://x/runs/1/artifacts/2' };

test('a report that fits is posted whole under the marker and header', () => {
  const dir = artifactDir({ 'report.md': '# Report\n\n| a | b |\n', 'meta.json': '{"baseline": "main@abc (bench run 7)"}' });
  const b = body({ dir, ...urls });
  assert.ok(b.startsWith(MARKER));
  assert.ok(b.includes('main@abc (bench run 7)'));
  assert.ok(b.includes('`0123456789ab`'));
  assert.ok(b.includes(urls.artifactURL));
  assert.ok(b.endsWith('# Report\n\n| a | b |\n'));
});

test('a huge report is cut under the limit, fences closed, with a link', () => {
  const lines = ['# Report', '<details>', '```'];
  for (let i = 0; i < 6000; i++) {
    lines.push('| packet-loss-2-pct | throughput | 1234.5 ops/s | ~ | ✅ |');
  }
  const dir = artifactDir({ 'report.md': lines.join('\n'), 'meta.json': '{}' });
  const b = body({ dir, ...urls });
  assert.ok(b.length <= LIMIT, `length ${b.length}`);
  assert.strictEqual((b.match(/^[ \t]*```/gm) || []).length % 2, 0, 'code fences balanced');
  assert.strictEqual((b.match(/<details>/g) || []).length, (b.match(/<\/details>/g) || []).length);
  assert.ok(b.includes(`[bench-report artifact](${urls.artifactURL})`));
});

test('a report of one endless line is still cut under the limit', () => {
  const out = cut('x'.repeat(200000), 60000, urls.artifactURL);
  assert.ok(out.length <= 60000, `length ${out.length}`);
});

test('a run without a report says so', () => {
  const b = body({ dir: artifactDir({}), ...urls });
  assert.ok(b.includes('produced no report'));
  assert.ok(b.includes('baseline: unknown'));
});

// fakeGitHub is the part of Octokit post uses. The PR's head is prHead.
function fakeGitHub(comments, prHead = 'abc') {
  const calls = [];
  return {
    calls,
    paginate: async (fn, args) => fn(args),
    rest: {
      pulls: { get: async ({ pull_number }) => ({ data: { number: pull_number, head: { sha: prHead } } }) },
      actions: { listWorkflowRunArtifacts: () => [{ name: 'bench-report', id: 42 }] },
      issues: {
        listComments: () => comments,
        updateComment: async (a) => { calls.push(['update', a]); },
        createComment: async (a) => { calls.push(['create', a]); return { data: { html_url: 'u' } }; },
      },
    },
  };
}

const context = { repo: { owner: 'o', repo: 'r' }, serverUrl: 'https://github.com' };
const core = { info() {}, notice() {}, setFailed(m) { throw new Error(m); } };
const bot = { type: 'Bot', login: 'github-actions[bot]' };

// ours is a sticky comment body showing run (as post writes it).
function ours(run) {
  return body({ dir: artifactDir({ 'report.md': 'old' }), headSha: run.sha, runURL: 'u', artifactURL: 'u', run });
}

const run9 = { dir: null, runId: 9, runAttempt: 1, startedAt: '2026-01-02T10:00:00Z', prNumber: 3, headSha: 'abc' };
function args(gh, over = {}) {
  return { github: gh, context, core, ...run9, dir: artifactDir({ 'report.md': 'new' }), ...over };
}

test('the bot comment with the marker is updated in place', async () => {
  const gh = fakeGitHub([
    { id: 1, user: { type: 'User', login: 'alice' }, body: `${MARKER} quoted by a person` },
    { id: 2, user: bot, body: `${MARKER}\nold report` },
  ]);
  assert.strictEqual(await post(args(gh)), 'updated');
  assert.strictEqual(gh.calls.length, 1);
  const [kind, a] = gh.calls[0];
  assert.strictEqual(kind, 'update');
  assert.strictEqual(a.comment_id, 2);
  assert.ok(a.body.includes('https://github.com/o/r/actions/runs/9/artifacts/42'));
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
    // another app's bot
    { id: 1, user: { type: 'Bot', login: 'evil-app[bot]' }, body: `${MARKER}\nx` },
    // a person whose login looks like the bot's (type User)
    { id: 2, user: { type: 'User', login: 'github-actions[bot]' }, body: `${MARKER}\nx` },
    // a login that only contains the bot's
    { id: 3, user: { type: 'Bot', login: 'github-actions[bot]-x' }, body: `${MARKER}\nx` },
    // our bot, but the marker is not at the start (a quote, another workflow's comment)
    { id: 4, user: bot, body: `> ${MARKER}\nx` },
    // no user at all (a deleted account)
    { id: 5, user: null, body: `${MARKER}\nx` },
  ];
  for (const c of notOurs) {
    assert.strictEqual(post.isOurs(c), false, `comment ${c.id} taken as ours`);
  }
  assert.strictEqual(post.isOurs({ id: 6, user: bot, body: `${MARKER}\n` }), true);
  const gh = fakeGitHub(notOurs);
  assert.strictEqual(await post(args(gh)), 'created');
  assert.deepStrictEqual(gh.calls.map((c) => c[0]), ['create']);
});

test('a result for a commit that is no longer the PR head is refused', async () => {
  const gh = fakeGitHub([{ id: 2, user: bot, body: `${MARKER}\nold` }], 'def');
  assert.strictEqual(await post(args(gh)), 'stale');
  assert.deepStrictEqual(gh.calls, []);
});

test('a result older than the one shown is refused; a newer one replaces it', async () => {
  const shown = { sha: 'abc', run_id: 9, run_attempt: 2, started_at: '2026-01-02T11:00:00Z' };
  const rows = [
    // the first attempt, started before the shown second attempt: refused
    [{ runId: 9, runAttempt: 1, startedAt: '2026-01-02T10:00:00Z' }, 'older'],
    // another run of the same commit that started earlier: refused
    [{ runId: 8, runAttempt: 3, startedAt: '2026-01-02T10:30:00Z' }, 'older'],
    // the same run and attempt again (a retried comment job): updated
    [{ runId: 9, runAttempt: 2, startedAt: '2026-01-02T11:00:00Z' }, 'updated'],
    // a later attempt (a `/bench` re-run): updated
    [{ runId: 9, runAttempt: 3, startedAt: '2026-01-02T12:00:00Z' }, 'updated'],
  ];
  for (const [over, want] of rows) {
    const gh = fakeGitHub([{ id: 2, user: bot, body: ours(shown) }]);
    assert.strictEqual(await post(args(gh, over)), want, JSON.stringify(over));
    assert.strictEqual(gh.calls.length, want === 'updated' ? 1 : 0);
  }
  // A comment of another commit (the PR's previous head) is always replaced.
  const gh = fakeGitHub([{ id: 2, user: bot, body: ours({ ...shown, sha: 'old', started_at: '2027-01-01T00:00:00Z' }) }]);
  assert.strictEqual(await post(args(gh)), 'updated');
});

test('the run shown is recorded in the comment, and no value can close its HTML comment', () => {
  const run = { sha: 'abc', run_id: 9, run_attempt: 2, started_at: '--> <b>x</b>' };
  const b = ours(run);
  assert.deepStrictEqual(post.shownRun(b), run);
  assert.strictEqual(b.split('\n')[1].indexOf('-->'), b.split('\n')[1].length - 3);
  assert.strictEqual(post.shownRun(`${MARKER}\nno run line`), null);
});
