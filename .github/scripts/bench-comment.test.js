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

function fakeGitHub(comments) {
  const calls = [];
  return {
    calls,
    paginate: async (fn, args) => fn(args),
    rest: {
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
const core = { info() {}, setFailed(m) { throw new Error(m); } };

test('the bot comment with the marker is updated in place', async () => {
  const gh = fakeGitHub([
    { id: 1, user: { type: 'User' }, body: `${MARKER} quoted by a person` },
    { id: 2, user: { type: 'Bot' }, body: `${MARKER}\nold report` },
  ]);
  await post({ github: gh, context, core, dir: artifactDir({ 'report.md': 'new' }), runId: 9, prNumber: 3, headSha: 'abc' });
  assert.strictEqual(gh.calls.length, 1);
  const [kind, args] = gh.calls[0];
  assert.strictEqual(kind, 'update');
  assert.strictEqual(args.comment_id, 2);
  assert.ok(args.body.includes('https://github.com/o/r/actions/runs/9/artifacts/42'));
});

test('without a bot comment a new one is created', async () => {
  const gh = fakeGitHub([{ id: 1, user: { type: 'User' }, body: `${MARKER}` }]);
  await post({ github: gh, context, core, dir: artifactDir({ 'report.md': 'new' }), runId: 9, prNumber: 3, headSha: 'abc' });
  assert.deepStrictEqual(gh.calls.map((c) => c[0]), ['create']);
  assert.strictEqual(gh.calls[0][1].issue_number, 3);
});
