// bench-comment.js writes the one sticky PR comment with the mcchaos
// benchmark result, or updates it in place. It is called through
// actions/github-script by bench-report.yml after a pull_request run of
// bench.yml completes, and by bench-command.yml after a `/bench` re-run
// completes, always from the default branch's checkout: it must never come
// from the PR under test.
//
// dir holds what bench.yml uploaded as the artifact bench-comment (its job
// merge, which joins the shards):
// diff.json and results.json, written on a runner that ran the PR's code.
// bench-render.js builds the comment from their validated numbers and known
// names only; no text of the artifact is posted. What orders results
// (commit, run, attempt, start time, conclusion) comes from GitHub's
// description of the run, never from the artifact.
//
// Rules, each pinned by bench-comment.test.js:
//   - only our own comment is ever edited: user.type Bot, login exactly
//     github-actions[bot], body starting with MARKER;
//   - a result is posted only for the PR's current head commit, and never
//     replaces a newer result of the same commit (the run started later, or
//     a later attempt of the same run);
//   - the jobs that call post have no concurrency group, because GitHub
//     cancels a pending job of a group when another one queues (a result
//     would be lost). Two jobs may therefore interleave; post settles the
//     race itself: after writing it reads the comments again for a while,
//     deletes a duplicate sticky comment made at the same time, and writes
//     again if an older result replaced its newer one.
'use strict';

const { render, LIMIT } = require('./bench-render.js');

// MARKER finds our comment among the PR's comments.
const MARKER = '<!-- mcchaos-report -->';
// BOT is the login of the GITHUB_TOKEN's user, the author of our comment.
const BOT = 'github-actions[bot]';
// RUN_TAG starts the hidden line that says which run the comment shows.
const RUN_TAG = '<!-- mcchaos-run ';
// SETTLE_CHECKS and SETTLE_MS: how long post watches the comment after
// writing it. A racing job reads and writes within a second or two.
const SETTLE_CHECKS = 3;
const SETTLE_MS = 10000;

// body builds the whole comment: the marker lines, then bench-render's text.
function body({ dir, headSha, runURL, artifactURL, run, conclusion }) {
  const text = render({ dir, headSha, runURL, artifactURL, conclusion, runId: run && run.run_id, runAttempt: run && run.run_attempt });
  return [MARKER, ...(run ? [runLine(run)] : []), text].join('\n');
}

// runLine is the hidden line that records which run a comment shows.
function runLine(run) {
  // < and > escaped, so no value can close the HTML comment early.
  const json = JSON.stringify(run).replace(/</g, '\\u003c').replace(/>/g, '\\u003e');
  return `${RUN_TAG}${json} -->`;
}

// shownRun returns the run recorded in a comment body, or null (a comment
// of an older format, or one that records nothing readable).
function shownRun(text) {
  for (const line of String(text).split('\n').slice(0, 3)) {
    if (line.startsWith(RUN_TAG) && line.endsWith(' -->')) {
      try {
        const r = JSON.parse(line.slice(RUN_TAG.length, -' -->'.length));
        return r && typeof r === 'object' ? r : null;
      } catch {
        return null;
      }
    }
  }
  return null;
}

// isOurs reports whether comment c is the sticky comment this script wrote.
// A person quoting the marker, another app's bot, or a user whose login
// merely looks like the bot's is not.
function isOurs(c) {
  return Boolean(c && c.user && c.user.type === 'Bot' && c.user.login === BOT &&
    typeof c.body === 'string' && c.body.startsWith(MARKER));
}

// newer reports whether run a is a newer result than run b of the same
// commit: it started later, or it is a later attempt of the same run.
function newer(a, b) {
  const ta = Date.parse(a.started_at), tb = Date.parse(b.started_at);
  if (Number.isFinite(ta) && Number.isFinite(tb) && ta !== tb) {
    return ta > tb;
  }
  if (a.run_id === b.run_id) {
    return Number(a.run_attempt) > Number(b.run_attempt);
  }
  return Number(a.run_id) > Number(b.run_id);
}

// ours returns our sticky comments of the PR, oldest first.
async function ours(github, owner, repo, prNumber) {
  const comments = await github.paginate(github.rest.issues.listComments, {
    owner, repo, issue_number: prNumber, per_page: 100,
  });
  return comments.filter(isOurs).sort((a, b) => a.id - b.id);
}

// shows reports whether comment c already shows run, or a newer run of the
// same commit: then it must not be replaced by run's result.
function showsAtLeast(c, run) {
  const shown = shownRun(c.body);
  return Boolean(shown && shown.sha === run.sha && (newer(shown, run) || sameRun(shown, run)));
}

function showsNewer(c, run) {
  const shown = shownRun(c.body);
  return Boolean(shown && shown.sha === run.sha && newer(shown, run));
}

function sameRun(a, b) {
  return Number(a.run_id) === Number(b.run_id) && Number(a.run_attempt) === Number(b.run_attempt);
}

// post writes or updates the sticky comment on PR prNumber with the result
// of run runId (attempt runAttempt, started at startedAt, ended with
// conclusion) of commit headSha. It returns what it did: 'created',
// 'updated', 'stale' (headSha is not the PR's head any more) or 'older'
// (the comment shows a newer run).
async function post({ github, context, core, dir, runId, runAttempt = 1, startedAt = '', conclusion = '', prNumber, headSha,
  settleChecks = SETTLE_CHECKS, settleMs = SETTLE_MS, wait = (ms) => new Promise((r) => setTimeout(r, ms)) }) {
  const { owner, repo } = context.repo;
  if (!Number.isInteger(prNumber) || prNumber <= 0) {
    core.setFailed(`bench-comment: no pull request number (got ${prNumber})`);
    return 'failed';
  }
  const isHead = async () => {
    const { data: pr } = await github.rest.pulls.get({ owner, repo, pull_number: prNumber });
    if (!pr.head || pr.head.sha !== headSha) {
      core.notice(`bench-comment: ${headSha} is no longer the head of PR #${prNumber} (now ${pr.head && pr.head.sha}): its result is not posted`);
      return false;
    }
    return true;
  };
  if (!(await isHead())) {
    return 'stale';
  }
  const run = { sha: headSha, run_id: Number(runId), run_attempt: Number(runAttempt), started_at: String(startedAt) };
  const runURL = `${context.serverUrl}/${owner}/${repo}/actions/runs/${Number(runId)}`;
  let artifactURL = runURL;
  const artifacts = await github.paginate(github.rest.actions.listWorkflowRunArtifacts, {
    owner, repo, run_id: runId, per_page: 100,
  });
  const report = artifacts.find((a) => a.name === 'bench-report');
  if (report && Number.isSafeInteger(report.id)) {
    artifactURL = `${runURL}/artifacts/${report.id}`;
  }
  const text = body({ dir, headSha, runURL, artifactURL, run, conclusion });
  if (text.length > LIMIT) {
    core.setFailed(`bench-comment: the comment has ${text.length} characters, over GitHub's ${LIMIT}`);
    return 'failed';
  }

  let did = '';
  for (let check = 0; ; check++) {
    const mine = await ours(github, owner, repo, prNumber);
    // Two jobs that found no comment both created one: keep the oldest.
    for (const extra of mine.slice(1)) {
      await github.rest.issues.deleteComment({ owner, repo, comment_id: extra.id });
      core.info(`deleted the duplicate sticky comment ${extra.html_url}`);
    }
    const keep = mine[0];
    // The first time, only a newer result is kept (a retried job rewrites
    // its own); afterwards, our own result too.
    if (keep && (did ? showsAtLeast(keep, run) : showsNewer(keep, run))) {
      if (!did) {
        const shown = shownRun(keep.body);
        core.notice(`bench-comment: ${keep.html_url} shows run ${shown.run_id} attempt ${shown.run_attempt} (started ${shown.started_at}), newer than this one: not replaced`);
        return 'older';
      }
    } else if (check > 0 && !(await isHead())) {
      return did; // a newer commit's result may be on its way
    } else if (keep) {
      await github.rest.issues.updateComment({ owner, repo, comment_id: keep.id, body: text });
      core.info(`updated ${keep.html_url}`);
      did = did || 'updated';
    } else {
      const { data } = await github.rest.issues.createComment({ owner, repo, issue_number: prNumber, body: text });
      core.info(`created ${data.html_url}`);
      did = did || 'created';
    }
    if (check >= settleChecks) {
      return did;
    }
    await wait(settleMs);
  }
}

module.exports = post;
module.exports.body = body;
module.exports.MARKER = MARKER;
module.exports.BOT = BOT;
module.exports.isOurs = isOurs;
module.exports.shownRun = shownRun;
module.exports.newer = newer;
