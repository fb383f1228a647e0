// bench-comment.js writes the one sticky PR comment with the mcchaos
// benchmark report, or updates it in place. It is called through
// actions/github-script by bench.yml (after a `/bench` comment run) and by
// bench-report.yml (after a pull_request run), always from the default
// branch's checkout: it must never come from the PR under test.
//
// dir holds what the bench job uploaded as the artifact bench-comment:
// report.md (collect's report, untrusted text) and meta.json (the baseline
// it was compared with). Either may be missing when the run failed.
'use strict';

const fs = require('fs');
const path = require('path');

// MARKER finds our comment among the PR's comments.
const MARKER = '<!-- mcchaos-report -->';
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
function body({ dir, headSha, runURL, artifactURL }) {
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

// post writes or updates the sticky comment on PR prNumber.
async function post({ github, context, core, dir, runId, prNumber, headSha }) {
  const { owner, repo } = context.repo;
  if (!Number.isInteger(prNumber) || prNumber <= 0) {
    core.setFailed(`bench-comment: no pull request number (got ${prNumber})`);
    return;
  }
  const runURL = `${context.serverUrl}/${owner}/${repo}/actions/runs/${runId}`;
  let artifactURL = runURL;
  const artifacts = await github.paginate(github.rest.actions.listWorkflowRunArtifacts, {
    owner, repo, run_id: runId, per_page: 100,
  });
  const report = artifacts.find((a) => a.name === 'bench-report');
  if (report) {
    artifactURL = `${runURL}/artifacts/${report.id}`;
  }
  const text = body({ dir, headSha, runURL, artifactURL });

  const comments = await github.paginate(github.rest.issues.listComments, {
    owner, repo, issue_number: prNumber, per_page: 100,
  });
  const mine = comments.find((c) => c.user && c.user.type === 'Bot' && c.body && c.body.startsWith(MARKER));
  if (mine) {
    await github.rest.issues.updateComment({ owner, repo, comment_id: mine.id, body: text });
    core.info(`updated ${mine.html_url}`);
  } else {
    const { data } = await github.rest.issues.createComment({ owner, repo, issue_number: prNumber, body: text });
    core.info(`created ${data.html_url}`);
  }
}

module.exports = post;
module.exports.body = body;
module.exports.cut = cut;
module.exports.MARKER = MARKER;
module.exports.MAX_BODY = MAX_BODY;
