// Tests of bench-command.js: node --test .github/scripts/
// (deploy's TestWorkflowScripts runs them when node is installed).
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const command = require('./bench-command.js');

const HEAD = '0123456789abcdef0123456789abcdef01234567';

// fakeGitHub is the part of Octokit command uses: a PR with head HEAD from
// fork/r, a commenter with permission perm, and the workflow runs runs.
// calls records every write and the run query.
// After a re-run, getWorkflowRun reports the states in after, one a call
// (the last one repeats).
function fakeGitHub({ perm = 'write', state = 'open', runs = [], headRepo = 'fork/r', refuse = false, after = null } = {}) {
  const calls = [];
  let gets = 0;
  return {
    calls,
    rest: {
      repos: {
        getCollaboratorPermissionLevel: async (a) => {
          calls.push(['permission', a]);
          if (perm === 404) {
            throw Object.assign(new Error('Not Found'), { status: 404 });
          }
          return { data: { permission: perm } };
        },
      },
      pulls: {
        get: async ({ pull_number }) => ({
          data: { number: pull_number, state, head: { sha: HEAD, repo: headRepo ? { full_name: headRepo } : null } },
        }),
      },
      actions: {
        listWorkflowRuns: async (a) => { calls.push(['list', a]); return { data: { workflow_runs: runs } }; },
        getWorkflowRun: async (a) => {
          calls.push(['get', a]);
          const states = after || [{ status: 'completed', conclusion: 'success', run_attempt: 2 }];
          const run = runs.find((r) => r.id === a.run_id);
          return { data: { ...run, run_started_at: '2026-01-04T00:00:00Z', ...states[Math.min(gets++, states.length - 1)] } };
        },
        reRunWorkflow: async (a) => {
          calls.push(['rerun', a]);
          if (refuse) {
            throw Object.assign(new Error('Unable to re-run this workflow run because it was created over a month ago'), { status: 403 });
          }
        },
      },
      issues: { createComment: async (a) => { calls.push(['reply', a]); } },
      reactions: { createForIssueComment: async (a) => { calls.push(['react', a]); } },
    },
  };
}

function context(body, user = { login: 'alice', type: 'User' }) {
  return {
    repo: { owner: 'o', repo: 'r' },
    payload: { issue: { number: 7, pull_request: {} }, comment: { id: 99, body, user } },
  };
}

// core records the step outputs.
function makeCore() {
  const outputs = {};
  return { outputs, info() {}, notice() {}, setOutput(k, v) { outputs[k] = v; } };
}
const core = makeCore();
const fast = { wait: async () => {}, pollMs: 1 };

// prRun is a completed pull_request run of HEAD from the fork.
function prRun(over = {}) {
  return {
    id: 500, run_attempt: 1, event: 'pull_request', head_sha: HEAD, status: 'completed', html_url: 'https://x/runs/500',
    created_at: '2026-01-02T10:00:00Z', head_repository: { full_name: 'fork/r' }, ...over,
  };
}

const kinds = (gh) => gh.calls.map((c) => c[0]);

test('parse accepts /bench with or without a commit, and nothing else', () => {
  const rows = [
    ['/bench 0123456789ab', { sha: '0123456789ab' }],
    ['  /bench  0123456789ABCDEF \n', { sha: '0123456789abcdef' }],
    ['/bench', { sha: '' }],
    ['/bench 0123456', null], // 7 digits: too short to pin a commit (collisions can be made)
    ['/bench 0123456789a', null], // 11
    ['/bench 0123456789ab please', null], // anything after the commit
    ['/benchmark', null],
    ['please /bench 0123456', null],
    ['/bench main', null], // a branch moves: only a commit is pinned
  ];
  for (const [body, want] of rows) {
    assert.deepStrictEqual(command.parse(body), want, body);
  }
});

test('write access comes from the API: only admin and write may run it', async () => {
  const rows = [
    ['admin', 'rerun'],
    ['write', 'rerun'],
    ['read', 'refused'], // a MEMBER of the organization with read access
    ['triage', 'refused'],
    ['none', 'refused'],
    [404, 'refused'], // not a collaborator
  ];
  for (const [perm, want] of rows) {
    const gh = fakeGitHub({ perm, runs: [prRun()] });
    assert.strictEqual(await command({ github: gh, context: context(`/bench ${HEAD.slice(0, 12)}`), core, ...fast }), want, String(perm));
    assert.deepStrictEqual(gh.calls[0], ['permission', { owner: 'o', repo: 'r', username: 'alice' }]);
    if (want === 'refused') {
      assert.deepStrictEqual(kinds(gh), ['permission'], 'a refused comment makes no other call');
    }
  }
});

test('a bot, a non-command or an issue that is not a PR is ignored without any call', async () => {
  for (const ctx of [
    context(`/bench ${HEAD}`, { login: 'github-actions[bot]', type: 'Bot' }),
    context('looks good'),
    { ...context(`/bench ${HEAD}`), payload: { ...context('').payload, issue: { number: 7 } } },
  ]) {
    const gh = fakeGitHub({ runs: [prRun()] });
    assert.strictEqual(await command({ github: gh, context: ctx, core }), 'ignored');
    assert.deepStrictEqual(gh.calls, []);
  }
});

test('the commit named in the comment is pinned: it must be the head, else nothing runs', async () => {
  for (const body of ['/bench', '/bench 111111111111']) {
    const gh = fakeGitHub({ runs: [prRun()] });
    assert.strictEqual(await command({ github: gh, context: context(body), core }), 'replied', body);
    assert.deepStrictEqual(kinds(gh), ['permission', 'reply'], body);
    assert.ok(gh.calls[1][1].body.includes(`/bench ${HEAD.slice(0, 12)}`), 'the reply says what to comment');
  }
});

test("it re-runs the PR's own pull_request run of that commit, found by a query for it", async () => {
  const gh = fakeGitHub({
    runs: [
      // a run of a fork's branch with the same commit (another repository): never
      prRun({ id: 1, head_repository: { full_name: 'someone/else' }, created_at: '2026-01-03T00:00:00Z' }),
      // another commit, or another event, that the API still returned: never
      prRun({ id: 2, head_sha: 'f'.repeat(40), created_at: '2026-01-03T00:00:00Z' }),
      prRun({ id: 3, event: 'push', created_at: '2026-01-03T00:00:00Z' }),
      // the older run of this commit, then the newest: the newest is re-run
      prRun({ id: 4, created_at: '2026-01-01T00:00:00Z' }),
      prRun({ id: 5, created_at: '2026-01-02T00:00:00Z' }),
    ],
  });
  const c = makeCore();
  assert.strictEqual(await command({ github: gh, context: context(`/bench ${HEAD.slice(0, 12)}`), core: c, ...fast }), 'rerun');
  const list = gh.calls.find((c) => c[0] === 'list')[1];
  assert.deepStrictEqual(
    { workflow_id: list.workflow_id, event: list.event, head_sha: list.head_sha },
    { workflow_id: 'bench.yml', event: 'pull_request', head_sha: HEAD });
  assert.deepStrictEqual(gh.calls.find((c) => c[0] === 'rerun')[1], { owner: 'o', repo: 'r', run_id: 5 });
  assert.deepStrictEqual(kinds(gh), ['permission', 'list', 'rerun', 'react', 'get']);
  // The next job posts the re-run's result from these outputs.
  assert.deepStrictEqual(c.outputs, {
    pr: '7', run_id: '5', run_attempt: '2', started_at: '2026-01-04T00:00:00Z', head_sha: HEAD, conclusion: 'success',
  });
});

test('the command waits for the re-run to complete, and answers if it does not in time', async () => {
  // Still the old attempt, then the new one running, then completed (cancelled: a timeout).
  const after = [
    { status: 'completed', run_attempt: 1 },
    { status: 'in_progress', run_attempt: 2 },
    { status: 'completed', run_attempt: 2, conclusion: 'cancelled' },
  ];
  const gh = fakeGitHub({ runs: [prRun()], after });
  const c = makeCore();
  assert.strictEqual(await command({ github: gh, context: context(`/bench ${HEAD}`), core: c, ...fast }), 'rerun');
  assert.deepStrictEqual(kinds(gh), ['permission', 'list', 'rerun', 'react', 'get', 'get', 'get']);
  assert.strictEqual(c.outputs.conclusion, 'cancelled');

  let t = 0;
  const slow = fakeGitHub({ runs: [prRun()], after: [{ status: 'in_progress', run_attempt: 2 }] });
  const got = await command({ github: slow, context: context(`/bench ${HEAD}`), core: makeCore(), waitMs: 100, pollMs: 30, wait: async (ms) => { t += ms; }, now: () => t });
  assert.strictEqual(got, 'timeout');
  assert.strictEqual(kinds(slow).filter((k) => k === 'get').length, 4, 'polled until the deadline');
  assert.match(slow.calls.at(-1)[1].body, /did not complete within/);
});

test('nothing is re-run without a completed run of the head, a head repository or an open PR', async () => {
  const rows = [
    [{ runs: [] }, 'no run'],
    [{ runs: [prRun({ status: 'in_progress' })] }, 'running'],
    [{ runs: [prRun()], headRepo: null }, 'fork deleted'],
    [{ runs: [prRun()], state: 'closed' }, 'closed'],
  ];
  for (const [opts, why] of rows) {
    const gh = fakeGitHub(opts);
    assert.strictEqual(await command({ github: gh, context: context(`/bench ${HEAD}`), core, ...fast }), 'replied', why);
    assert.ok(!kinds(gh).includes('rerun'), why);
  }
});

test('a re-run GitHub refuses is answered, not only logged', async () => {
  const gh = fakeGitHub({ runs: [prRun()], refuse: true });
  assert.strictEqual(await command({ github: gh, context: context(`/bench ${HEAD}`), core, ...fast }), 'replied');
  assert.deepStrictEqual(kinds(gh), ['permission', 'list', 'rerun', 'reply']);
  assert.ok(gh.calls[3][1].body.includes('over a month ago'));
});
