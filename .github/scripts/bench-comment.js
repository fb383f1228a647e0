// bench-comment.js writes the one sticky PR comment with the mcchaos
// benchmark report, or updates it in place. It is called through
// actions/github-script by bench-report.yml after a pull_request run of
// bench.yml completes (a `/bench` comment re-runs that run: see
// bench-command.js), always from the default branch's checkout: it must never
// come from the PR under test.
//
// dir holds what the bench job uploaded as the artifact bench-comment:
// report.md (collect's report) and meta.json (what it was compared with).
// Both were written on a runner that ran the PR's code: they are untrusted
// text, shown, never obeyed. What orders results (commit, run, attempt, start
// time) comes from GitHub's description of the run, never from the artifact.
//
// Rules (issue 12), each pinned by bench-comment.test.js:
//   - only our own comment is ever edited: user.type Bot, login exactly
//     github-actions[bot], body starting with MARKER;
//   - a result is posted only for the PR's current head commit, and never
//     replaces a newer result of the same commit (the run started later, or
//     a later attempt of the same run). The caller's job has a concurrency
//     group per PR, so the read and the write below do not race.
'use strict';

const fs = require('fs');
const path = require('path');

// MARKER finds our comment among the PR's comments.
const MARKER = '<!-- mcchaos-report -->';
// BOT is the login of the GITHUB_TOKEN's user, the author of our comment.
const BOT = 'github-actions[bot]';
// RUN_TAG starts the hidden line that says which run the comment shows.
const RUN_TAG = '<!-- mcchaos-run ';
// GitHub refuses comment bodies over 65536 characters; keep a margin for
// the header, the cut notice and characters counted differently.
const MAX_BODY = 65536 - 2048;

// cut returns report shortened to at most room characters, at a line end,
// with open code fences and <details> closed, and a notice linking to the
// full report. A report that fits is returned as it is.
function cut(report, room, fullURL) {
  if (report.length <= room) {
    return report;
  }
  const notice = `\n\n> ✂️ Cut to fit GitHub's comment size limit: the full report is in the [bench-report artifact](${fullURL}).\n`;
  const closers = '\n```\n</details>\n</details>\n';
  let end = report.lastIndexOf('\n', Math.max(0, room - notice.length - closers.length));
  if (end <= 0) {
    end = Math.max(0, room - notice.length - closers.length);
  }
  let text = report.slice(0, end);
  const fences = (text.match(/^[ \t]*```/gm) || []).length;
  if (fences % 2 === 1) {
    text += '\n```';
  }
  const open = (text.match(/<details>/g) || []).length - (text.match(/<\/details>/g) || []).length;
  for (let i = 0; i < Math.min(open, 2); i++) {
    text += '\n</details>';
  }
  return text + notice;
}

function readIfExists(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

// body builds the comment from the artifact directory.
function body({ dir, headSha, runURL, artifactURL, run }) {
  const report = readIfExists(path.join(dir, 'report.md'));
  let meta = {};
  try {
    meta = JSON.parse(readIfExists(path.join(dir, 'meta.json')) || '{}');
  } catch {
    meta = {};
  }
  const baseline = typeof meta.baseline === 'string' && meta.baseline !== '' ? meta.baseline : 'unknown';
  const header = [
    MARKER,
    ...(run ? [runLine(run)] : []),
    '### mcchaos benchmark (profile `pr`)',
    '',
    `Commit \`${String(headSha).slice(0, 12)}\` · baseline: ${baseline.replace(/[\r\n]/g, ' ')}`,
    `[Run log](${runURL}) · [full report, results.json, charts, logs (artifact bench-report)](${artifactURL})`,
    '',
  ].join('\n');
  if (report === null) {
    return `${header}\n**The benchmark produced no report.** See the [run log](${runURL}).\n`;
  }
  return `${header}\n${cut(report, MAX_BODY - header.length, artifactURL)}`;
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

// post writes or updates the sticky comment on PR prNumber with the result
// of run runId (attempt runAttempt, started at startedAt) of commit headSha.
// It returns what it did: 'created', 'updated', 'stale' (headSha is not the
// PR's head any more) or 'older' (the comment shows a newer run).
async function post({ github, context, core, dir, runId, runAttempt = 1, startedAt = '', prNumber, headSha }) {
  const { owner, repo } = context.repo;
  if (!Number.isInteger(prNumber) || prNumber <= 0) {
    core.setFailed(`bench-comment: no pull request number (got ${prNumber})`);
    return 'failed';
  }
  const { data: pr } = await github.rest.pulls.get({ owner, repo, pull_number: prNumber });
  if (!pr.head || pr.head.sha !== headSha) {
    core.notice(`bench-comment: ${headSha} is no longer the head of PR #${prNumber} (now ${pr.head && pr.head.sha}): its result is not posted`);
    return 'stale';
  }
  const run = { sha: headSha, run_id: Number(runId), run_attempt: Number(runAttempt), started_at: String(startedAt) };
  const runURL = `${context.serverUrl}/${owner}/${repo}/actions/runs/${runId}`;
  let artifactURL = runURL;
  const artifacts = await github.paginate(github.rest.actions.listWorkflowRunArtifacts, {
    owner, repo, run_id: runId, per_page: 100,
  });
  const report = artifacts.find((a) => a.name === 'bench-report');
  if (report) {
    artifactURL = `${runURL}/artifacts/${report.id}`;
  }
  const text = body({ dir, headSha, runURL, artifactURL, run });

  const comments = await github.paginate(github.rest.issues.listComments, {
    owner, repo, issue_number: prNumber, per_page: 100,
  });
  const mine = comments.find(isOurs);
  if (mine) {
    const shown = shownRun(mine.body);
    if (shown && shown.sha === headSha && newer(shown, run)) {
      core.notice(`bench-comment: ${mine.html_url} shows run ${shown.run_id} attempt ${shown.run_attempt} (started ${shown.started_at}), newer than this one: not replaced`);
      return 'older';
    }
    await github.rest.issues.updateComment({ owner, repo, comment_id: mine.id, body: text });
    core.info(`updated ${mine.html_url}`);
    return 'updated';
  }
  const { data } = await github.rest.issues.createComment({ owner, repo, issue_number: prNumber, body: text });
  core.info(`created ${data.html_url}`);
  return 'created';
}

module.exports = post;
module.exports.body = body;
module.exports.cut = cut;
module.exports.MARKER = MARKER;
module.exports.BOT = BOT;
module.exports.isOurs = isOurs;
module.exports.shownRun = shownRun;
module.exports.MAX_BODY = MAX_BODY;
