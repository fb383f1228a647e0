// bench-command.js answers a `/bench <sha>` comment on a pull request by
// re-running the PR's own pull_request run of bench.yml for that commit. It
// is called through actions/github-script by bench-command.yml, from the
// default branch's checkout.
//
// Why a re-run (issue 12): the PR's code then runs where it always runs, in
// the pull_request context (a fork's read-only token, the PR's own cache
// scope), never in the default branch's context, where the Actions cache of
// main is writable and a poisoned entry would reach main's benchmark. This
// script runs no PR code and reads no file of the PR.
//
// Results always arrive: the command job then waits for the re-run to
// complete (WAIT_MS at most) and gives its run, attempt and conclusion as
// step outputs to the next job of bench-command.yml, which posts the
// comment. It does not rely on GitHub raising workflow_run for a re-run
// attempt (bench-report.yml posts it too if it does; bench-comment.js keeps
// the newer result either way). A re-run that does not complete in time is
// answered with a reply.
//
// Rules, each pinned by bench-command.test.js:
//   - only someone with write access may ask: the permission comes from the
//     API (admin or write), not from author_association (MEMBER does not
//     mean write access);
//   - the comment names the commit the commenter reviewed, at least 12 hex
//     digits (`/bench 1a2b3c4d5e6f`: 7 digits can be made to collide); it
//     must be the PR's head now, and only a run of exactly that commit is
//     re-run;
//   - the run lookup asks GitHub for the runs it wants (workflow bench.yml,
//     event pull_request, head_sha) and keeps only those whose head
//     repository is the PR's, instead of filtering a page of latest runs.
'use strict';

// WORKFLOW is the workflow whose pull_request run is re-run.
const WORKFLOW = 'bench.yml';
// WRITERS are the permission levels that may run the benchmark. The legacy
// `permission` field reports maintain as write and triage as read.
const WRITERS = ['admin', 'write'];
// COMMAND is the whole comment: /bench, then the commit (12 to 40 hex digits).
const COMMAND = /^\/bench(?:[ \t]+([0-9a-fA-F]{12,40}))?[ \t]*$/;
// WAIT_MS is how long the command waits for the re-run: bench.yml's
// timeout-minutes (60) and time in the queue. POLL_MS is between looks.
const WAIT_MS = 75 * 60 * 1000;
const POLL_MS = 30 * 1000;

// parse returns { sha } for a `/bench` comment (sha is '' when none is
// named), or null when body is not a `/bench` command.
function parse(body) {
  const m = COMMAND.exec(String(body || '').trim());
  return m ? { sha: (m[1] || '').toLowerCase() } : null;
}

// permission returns the commenter's permission on the repository from the
// API, or 'none' when they are not a collaborator at all.
async function permission(github, owner, repo, username) {
  try {
    const { data } = await github.rest.repos.getCollaboratorPermissionLevel({ owner, repo, username });
    return data.permission || 'none';
  } catch (err) {
    if (err && err.status === 404) {
      return 'none';
    }
    throw err;
  }
}

// prRun returns the latest pull_request run of WORKFLOW for the PR's head
// commit from the PR's head repository, or null.
async function prRun(github, owner, repo, pr) {
  const headRepo = pr.head.repo && pr.head.repo.full_name;
  if (!headRepo) {
    return null; // the fork was deleted
  }
  const { data } = await github.rest.actions.listWorkflowRuns({
    owner, repo, workflow_id: WORKFLOW, event: 'pull_request', head_sha: pr.head.sha, per_page: 100,
  });
  const runs = (data.workflow_runs || []).filter((r) => r.event === 'pull_request' &&
    r.head_sha === pr.head.sha && r.head_repository && r.head_repository.full_name === headRepo);
  runs.sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
  return runs[0] || null;
}

// command handles the issue_comment event in context and returns what it
// did: 'ignored', 'refused', 'replied' (told the commenter why nothing runs)
// 'rerun' (the re-run completed; its outputs are set) or 'timeout'.
async function command({ github, context, core, waitMs = WAIT_MS, pollMs = POLL_MS,
  wait = (ms) => new Promise((r) => setTimeout(r, ms)), now = Date.now }) {
  const { owner, repo } = context.repo;
  const { comment, issue } = context.payload;
  if (!issue || !issue.pull_request || !comment || !comment.user) {
    return 'ignored';
  }
  const cmd = parse(comment.body);
  if (!cmd || comment.user.type === 'Bot') {
    return 'ignored';
  }
  const login = comment.user.login;
  const level = await permission(github, owner, repo, login);
  if (!WRITERS.includes(level)) {
    core.notice(`/bench from ${login} (permission ${level}) ignored: it needs write access`);
    return 'refused';
  }
  const reply = async (text) => {
    await github.rest.issues.createComment({ owner, repo, issue_number: issue.number, body: `@${login} ${text}` });
    core.notice(text);
    return 'replied';
  };

  const { data: pr } = await github.rest.pulls.get({ owner, repo, pull_number: issue.number });
  if (pr.state !== 'open') {
    return reply(`this pull request is ${pr.state}: nothing to benchmark.`);
  }
  const head = pr.head.sha;
  if (cmd.sha === '') {
    return reply(`name the commit you reviewed, e.g. \`/bench ${head.slice(0, 12)}\` (the head now), so that what runs is what you read.`);
  }
  if (!head.startsWith(cmd.sha)) {
    return reply(`\`${cmd.sha}\` is not this pull request's head (\`${head.slice(0, 12)}\`): review the new commits, then comment \`/bench ${head.slice(0, 12)}\`.`);
  }
  const run = await prRun(github, owner, repo, pr);
  if (!run) {
    return reply(`no pull_request run of ${WORKFLOW} for \`${head.slice(0, 12)}\` from ${pr.head.repo ? pr.head.repo.full_name : 'a deleted repository'} to re-run (a fork's first run may wait for approval; pushing a commit starts one).`);
  }
  if (run.status !== 'completed') {
    return reply(`the benchmark of \`${head.slice(0, 12)}\` is ${run.status}: ${run.html_url}. Its result will be posted when it completes.`);
  }
  try {
    await github.rest.actions.reRunWorkflow({ owner, repo, run_id: run.id });
  } catch (err) {
    // e.g. a run older than GitHub's 30-day re-run limit
    return reply(`GitHub refused to re-run ${run.html_url}: ${err && err.message}. Pushing a commit starts a new run.`);
  }
  await github.rest.reactions.createForIssueComment({ owner, repo, comment_id: comment.id, content: 'rocket' });
  core.info(`re-running ${run.html_url} for ${login}: ${head}`);

  const done = await completed(github, owner, repo, run, { waitMs, pollMs, wait, now });
  if (!done) {
    await reply(`the re-run ${run.html_url} did not complete within ${Math.round(waitMs / 60000)} minutes; its result will be on its page, and in the comment if GitHub reports its completion.`);
    return 'timeout';
  }
  core.setOutput('pr', String(issue.number));
  core.setOutput('run_id', String(done.id));
  core.setOutput('run_attempt', String(done.run_attempt));
  core.setOutput('started_at', String(done.run_started_at || ''));
  core.setOutput('head_sha', String(done.head_sha));
  core.setOutput('conclusion', String(done.conclusion || ''));
  core.info(`${done.html_url} attempt ${done.run_attempt}: ${done.conclusion}`);
  return 'rerun';
}

// completed polls run until a later attempt than the one re-run has
// completed, and returns it; null when waitMs passes first.
async function completed(github, owner, repo, run, { waitMs, pollMs, wait, now }) {
  const before = Number(run.run_attempt) || 1;
  const deadline = now() + waitMs;
  for (;;) {
    const { data } = await github.rest.actions.getWorkflowRun({ owner, repo, run_id: run.id });
    if (Number(data.run_attempt) > before && data.status === 'completed' && data.head_sha === run.head_sha) {
      return data;
    }
    if (now() + pollMs > deadline) {
      return null;
    }
    await wait(pollMs);
  }
}

module.exports = command;
module.exports.parse = parse;
module.exports.WORKFLOW = WORKFLOW;
module.exports.WAIT_MS = WAIT_MS;
