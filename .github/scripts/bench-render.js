// bench-render.js builds the body of the sticky PR comment from the bench
// job's diff.json and results.json. Those files were written on a runner
// that ran the pull request's code, so they are data from a stranger: this
// module reads them with sizes capped, keeps only fields of the expected
// type whose names, units and state codes are in bench-known.json, and
// writes every word of the comment itself (diff.json has no words: states,
// verdicts and modes are codes, which WORDS below says in English). No string of the artifact reaches the
// comment except names from that list and numbers it formats; what it
// refuses is listed, by kind, never quoted. Extra fields (a newer collect)
// are ignored.
//
// Charts are Mermaid xychart blocks drawn from the numbers (GitHub renders
// them); the PNG charts stay in the artifact.
'use strict';

const fs = require('fs');
const path = require('path');
const KNOWN = require('./bench-known.json');

// LIMIT is GitHub's cap on a comment body, in characters; MAX_BODY leaves a
// margin for characters it counts differently.
const LIMIT = 65536;
const MAX_BODY = 60000;
// Caps on what is read at all.
const MAX_DIFF_BYTES = 6 << 20;
const MAX_RESULTS_BYTES = 8 << 20;
const MAX_SCENARIOS = 64;
const MAX_ROWS = 1000; // per scenario
const MAX_ARMS = 64; // values per side of a row, arms per side of a series
const MAX_POINTS = 3600; // per series arm
const MAX_LIST = 64; // names in invalid_scenarios, commits, run ids
const MAX_REFUSALS = 20;
// What the comment shows at most.
const SHOW_ROWS = 60;
const SHOW_CHARTS = 6;
const CHART_POINTS = 60;

// refusals collects one line per kind of thing refused, with a count.
class Refusals {
  constructor() { this.counts = new Map(); }
  add(what) { this.counts.set(what, (this.counts.get(what) || 0) + 1); }
  lines() {
    const out = [];
    for (const [what, n] of this.counts) {
      out.push(n > 1 ? `${what} (×${n})` : what);
    }
    if (out.length > MAX_REFUSALS) {
      const more = out.length - MAX_REFUSALS;
      return [...out.slice(0, MAX_REFUSALS), `and ${more} more kinds of refused content`];
    }
    return out;
  }
}

// readJSON returns the parsed file dir/name, or null with a refusal when it
// is missing, not a regular file, over cap bytes or not JSON.
function readJSON(dir, name, cap, refused, required) {
  const file = path.join(dir, name);
  let st;
  try {
    st = fs.lstatSync(file);
  } catch {
    if (required) {
      refused.add(`${name}: missing`);
    }
    return null;
  }
  if (!st.isFile()) {
    refused.add(`${name}: not a regular file`);
    return null;
  }
  if (st.size > cap) {
    refused.add(`${name}: ${st.size} bytes, over the ${cap}-byte cap: not read`);
    return null;
  }
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    refused.add(`${name}: not JSON`);
    return null;
  }
}

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isInt = (v) => Number.isSafeInteger(v);
const nonNegInt = (v) => isInt(v) && v >= 0;

// num reads a number of collect's JSON: a finite number, null (no data) or
// "+Inf"/"-Inf"/"not reached". It returns undefined for anything else.
function num(v) {
  if (typeof v === 'number' && Number.isFinite(v)) {
    return v;
  }
  if (v === null) {
    return NaN;
  }
  if (v === '+Inf' || v === 'not reached') {
    return Infinity;
  }
  if (v === '-Inf') {
    return -Infinity;
  }
  return undefined;
}

const known = (list, v) => typeof v === 'string' && list.includes(v);
const HEX40 = /^[0-9a-f]{40}$/;
// LABELS is collect's canonical "k=v,k=v" with known keys and plain values.
const LABEL = /^([a-z_]{1,16})=([a-z0-9_]{1,32})$/;

function knownLabels(s) {
  if (s === undefined || s === '') {
    return '';
  }
  if (typeof s !== 'string' || s.length > 128) {
    return undefined;
  }
  for (const kv of s.split(',')) {
    const m = LABEL.exec(kv);
    if (!m || !KNOWN.label_keys.includes(m[1])) {
      return undefined;
    }
  }
  return s;
}

// side reads a row's side: its median and the number of values.
function side(v) {
  if (!isObj(v) || !nonNegInt(v.n) || v.n > MAX_ARMS) {
    return undefined;
  }
  const median = num(v.median);
  return median === undefined ? undefined : { n: v.n, median };
}

// row validates one row of a scenario; undefined when refused.
function row(r, refused) {
  if (!isObj(r) || !isObj(r.key)) {
    refused.add('a row that is not an object');
    return undefined;
  }
  const { phase, name } = r.key;
  const labels = knownLabels(r.key.labels);
  if (!known(KNOWN.phases, phase) || !known(KNOWN.figures, name) || labels === undefined) {
    refused.add('a row of an unknown figure, phase or label');
    return undefined;
  }
  if (!known(KNOWN.units, r.unit) || !known(KNOWN.directions, r.direction) || !known(KNOWN.row_verdicts, r.verdict)) {
    refused.add('a row with an unknown unit, direction or verdict');
    return undefined;
  }
  const base = side(r.base), head = side(r.head);
  const effect = num(r.effect), rel = num(r.rel);
  // p may exceed 1 by a rounding error of the U test.
  let p = r.p === null || r.p === undefined ? null : num(r.p);
  if (typeof p === 'number' && p > 1 && p < 1 + 1e-9) {
    p = 1;
  }
  if (typeof r.gating !== 'boolean' || !base || !head || effect === undefined || rel === undefined ||
      p === undefined || (p !== null && !(p >= 0 && p <= 1))) {
    refused.add('a row whose numbers are not of the schema');
    return undefined;
  }
  return { phase, name, labels, unit: r.unit, direction: r.direction, verdict: r.verdict, gating: r.gating, base, head, effect, rel, p };
}

// scenario validates one scenario of diff.json; undefined when refused.
function scenario(s, refused) {
  if (!isObj(s)) {
    refused.add('a scenario that is not an object');
    return undefined;
  }
  if (!known(KNOWN.scenarios, s.name)) {
    refused.add('a scenario with an unknown name');
    return undefined;
  }
  if (!known(KNOWN.fidelities, s.fidelity) || (s.status !== undefined && s.status !== '' && !known(KNOWN.statuses, s.status)) ||
      typeof s.compared !== 'boolean' || !nonNegInt(s.regressions) || !nonNegInt(s.improvements) ||
      num(s.integrity_violations) === undefined || !Array.isArray(s.rows) || s.rows.length > MAX_ROWS) {
    refused.add('a scenario whose fields are not of the schema');
    return undefined;
  }
  const rows = [];
  for (const r of s.rows) {
    const v = row(r, refused);
    if (v) {
      rows.push(v);
    }
  }
  let expect = '';
  if (s.expect !== undefined && s.expect !== '') {
    if (known(KNOWN.expectations, s.expect)) {
      expect = s.expect;
    } else {
      refused.add('a scenario expectation that is not known');
    }
  }
  return {
    name: s.name, fidelity: s.fidelity, status: s.status || '', compared: s.compared, expect,
    regressions: s.regressions, improvements: s.improvements, integrity: num(s.integrity_violations), rows,
  };
}

// commits returns the 40-hex commits of a run set, or [].
function commits(rs) {
  if (!isObj(rs) || !Array.isArray(rs.git_commits) || rs.git_commits.length > MAX_LIST) {
    return [];
  }
  return rs.git_commits.filter((c) => typeof c === 'string' && HEX40.test(c));
}

// validateDiff returns the renderable part of diff.json, or null when the
// file is not a diff of a known schema.
function validateDiff(d, refused) {
  if (!isObj(d)) {
    refused.add('diff.json: not an object');
    return null;
  }
  if (!KNOWN.diff_schemas.includes(d.schema_version) || !Array.isArray(d.scenarios) || !isObj(d.head)) {
    refused.add(`diff.json: not a diff of schema ${KNOWN.diff_schemas.join(' or ')}`);
    return null;
  }
  if (!known(KNOWN.verdicts, d.verdict) || !known(KNOWN.modes, d.mode) || !nonNegInt(d.scenarios_compared) ||
      !nonNegInt(d.regressions) || typeof d.alpha !== 'number' || !(d.alpha > 0 && d.alpha < 1)) {
    refused.add('diff.json: verdict, mode or counts not of the schema');
    return null;
  }
  if (d.scenarios.length > MAX_SCENARIOS) {
    refused.add(`diff.json: more than ${MAX_SCENARIOS} scenarios`);
    return null;
  }
  const scenarios = [];
  for (const s of d.scenarios) {
    const v = scenario(s, refused);
    if (v) {
      scenarios.push(v);
    }
  }
  const list = (v) => (Array.isArray(v) ? v.slice(0, MAX_LIST) : []);
  const invalid = list(d.invalid_scenarios).filter((n) => known(KNOWN.scenarios, n));
  if (list(d.invalid_scenarios).length !== invalid.length) {
    refused.add('diff.json: an invalid scenario with an unknown name');
  }
  // Issues are counted, never quoted: each an object with a known code.
  const count = (v, what) => {
    if (v === undefined) {
      return 0;
    }
    if (!Array.isArray(v)) {
      refused.add(`diff.json: ${what} not a list`);
      return 0;
    }
    const ok = v.filter((i) => isObj(i) && known(KNOWN.issue_codes, i.code));
    for (let n = ok.length; n < v.length; n++) {
      refused.add(`diff.json: ${what.replace(/s$/, '')} with an unknown code`);
    }
    return ok.length;
  };
  // The run-level healthy-path family: rows like a scenario's.
  const healthy = [];
  if (d.healthy !== undefined) {
    if (!Array.isArray(d.healthy) || d.healthy.length > MAX_ROWS) {
      refused.add('diff.json: healthy rows not of the schema');
    } else {
      for (const r of d.healthy) {
        const v = row(r, refused);
        if (v) {
          healthy.push(v);
        }
      }
    }
  }
  let confirmation = null;
  if (d.confirmation !== undefined && d.confirmation !== null) {
    const c = d.confirmation;
    if (isObj(c) && nonNegInt(c.confirmed) && nonNegInt(c.unconfirmed)) {
      confirmation = { confirmed: c.confirmed, unconfirmed: c.unconfirmed };
    } else {
      refused.add('diff.json: a confirmation stage not of the schema');
    }
  }
  // The false-alarm control of the run: m gating rows and the bound on
  // the probability of any false regression.
  let bound = null;
  if (nonNegInt(d.gating_rows) && typeof d.false_alarm_bound === 'number' && d.false_alarm_bound >= 0 && d.false_alarm_bound <= d.gating_rows) {
    bound = { rows: d.gating_rows, p: d.false_alarm_bound };
  } else {
    refused.add('diff.json: gating rows or false-alarm bound not of the schema');
  }
  return {
    healthy, confirmation, bound,
    verdict: d.verdict, mode: d.mode, compared: d.scenarios_compared, regressions: d.regressions, alpha: d.alpha,
    profile: known(KNOWN.profiles, d.head.profile) ? d.head.profile : '',
    baseCommits: commits(d.base), headCommits: commits(d.head),
    scenarios, invalid,
    problems: count(d.problems, 'problems'), warnings: count(d.warnings, 'warnings'), integrityFailures: count(d.integrity_failures, 'integrity failures'),
  };
}

// values reads an arm's per-second values; undefined when not of the schema.
function values(a) {
  if (!Array.isArray(a) || a.length > MAX_POINTS) {
    return undefined;
  }
  const out = new Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = num(a[i]);
    if (v === undefined) {
      return undefined;
    }
    out[i] = v;
  }
  return out;
}

// validateSeries returns, per known scenario name, its charted series from
// results.json: { name: { series: { unit, step, sides: { base: [[...]], head } } } }.
function validateSeries(r, refused) {
  if (!isObj(r) || !KNOWN.results_schemas.includes(r.schema_version) || !Array.isArray(r.runs)) {
    refused.add(`results.json: not results of schema ${KNOWN.results_schemas.join(' or ')}`);
    return null;
  }
  const out = {};
  for (const run of r.runs.slice(0, 8)) {
    if (!isObj(run) || !Array.isArray(run.scenarios)) {
      refused.add('results.json: a run not of the schema');
      continue;
    }
    for (const s of run.scenarios.slice(0, MAX_SCENARIOS)) {
      if (!isObj(s) || !known(KNOWN.scenarios, s.name) || out[s.name] || !Array.isArray(s.series)) {
        continue;
      }
      const charts = {};
      for (const ser of s.series.slice(0, 64)) {
        if (!isObj(ser) || !known(KNOWN.charted_series, ser.name)) {
          continue;
        }
        if (!known(KNOWN.units, ser.unit) || typeof ser.step_seconds !== 'number' || !(ser.step_seconds > 0 && ser.step_seconds <= 60) || !isObj(ser.arms)) {
          refused.add('results.json: a series not of the schema');
          continue;
        }
        const sides = {};
        let ok = true;
        for (const sd of ['base', 'head']) {
          const arms = ser.arms[sd];
          if (arms === undefined) {
            continue;
          }
          if (!Array.isArray(arms) || arms.length > MAX_ARMS) {
            ok = false;
            break;
          }
          const vs = arms.map(values);
          if (vs.some((v) => v === undefined)) {
            ok = false;
            break;
          }
          sides[sd] = vs;
        }
        if (!ok) {
          refused.add('results.json: a series not of the schema');
          continue;
        }
        charts[ser.name] = { unit: ser.unit, step: ser.step_seconds, sides };
      }
      out[s.name] = charts;
    }
  }
  return out;
}

// median of the finite values of xs, NaN when none.
function median(xs) {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) {
    return NaN;
  }
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// Display units: seconds as ms, ratios as %.
const DISPLAY = { s: { unit: 'ms', scale: 1000 }, ratio: { unit: '%', scale: 100 } };

function display(unit) {
  return DISPLAY[unit] || { unit, scale: 1 };
}

// fmt formats v of unit for a table cell.
function fmt(v, unit) {
  if (Number.isNaN(v)) {
    return 'no data';
  }
  if (!Number.isFinite(v)) {
    return v > 0 ? 'not reached' : '−∞';
  }
  const d = display(unit);
  const x = v * d.scale;
  const a = Math.abs(x);
  const s = a >= 100 ? x.toFixed(0) : a >= 1 ? x.toFixed(2) : a === 0 ? '0' : x.toPrecision(2);
  return d.unit === 'count' || d.unit === 'x' ? s : `${s} ${d.unit}`;
}

function pct(rel) {
  if (!Number.isFinite(rel)) {
    return '–';
  }
  return `${rel >= 0 ? '+' : ''}${(rel * 100).toFixed(1)} %`;
}

// The words of diff.json's codes (bench-known.json lists the codes).
const VERDICT_WORDS = {
  no_regression: '✅ no regression', regression: '❌ regression', integrity_failure: '❌ integrity failure', no_baseline: 'ℹ️ no baseline',
  not_compared: '⚠️ not compared', unconfirmed: '〰️ unconfirmed', advisory: 'ℹ️ advisory',
};
const ROW_WORDS = {
  regression: '❌ regression', candidate: '🔸 candidate', unconfirmed: '〰️ not confirmed', improvement: '🟢 improvement', worse: '🔸 worse',
  better: '🔹 better', changed: '🔸 changed', added: '➕ new', removed: '➖ gone',
};
const MODE_WORDS = { paired: 'paired', stored_baseline: 'stored baseline', none: 'no baseline' };
const CHANGED = Object.keys(ROW_WORDS);

function figure(r) {
  return r.labels ? `${r.name}{${r.labels}}` : r.name;
}

function scenarioTable(diff) {
  const lines = [
    '| scenario | fault fidelity | expected | status | regressions | improvements | integrity violations |',
    '|---|---|---|---|--:|--:|--:|',
  ];
  for (const s of diff.scenarios) {
    const status = diff.invalid.includes(s.name) ? 'invalid (excluded)' : (s.status || (s.compared ? 'compared' : 'not compared'));
    lines.push(`| \`${s.name}\` | ${s.fidelity} | ${s.expect || '–'} | ${status} | ${s.regressions} | ${s.improvements} | ${fmt(s.integrity, 'count')} |`);
  }
  return lines.join('\n');
}

function changedRows(diff) {
  const rows = diff.healthy.filter((r) => CHANGED.includes(r.verdict)).map((r) => ({ scenario: 'healthy path', ...r }));
  for (const s of diff.scenarios) {
    for (const r of s.rows) {
      if (CHANGED.includes(r.verdict)) {
        rows.push({ scenario: s.name, ...r });
      }
    }
  }
  // Gating rows first, then regressions before the rest.
  const rank = (r) => (r.gating ? 0 : 2) + (r.verdict === 'regression' ? 0 : 1);
  rows.sort((a, b) => rank(a) - rank(b));
  return rows;
}

function rowsTable(rows, limit) {
  const lines = [
    '| scenario | figure | phase | base median | head median | change | p | verdict |',
    '|---|---|---|--:|--:|--:|--:|---|',
  ];
  for (const r of rows.slice(0, limit)) {
    const p = r.p === null ? '–' : Number.isFinite(r.p) ? r.p.toPrecision(2) : '–';
    const gate = r.gating ? ' (gating)' : '';
    const where = r.scenario === 'healthy path' ? r.scenario : `\`${r.scenario}\``;
    lines.push(`| ${where} | \`${figure(r)}\` | ${r.phase} | ${fmt(r.base.median, r.unit)} | ${fmt(r.head.median, r.unit)} | ${pct(r.rel)} | ${p} | ${ROW_WORDS[r.verdict]}${gate} |`);
  }
  if (rows.length > limit) {
    lines.push('', `${rows.length - limit} more changed figures are in the full report.`);
  }
  return lines.join('\n');
}

// axisNum formats a number for Mermaid: plain decimal, no exponent.
function axisNum(v) {
  if (!Number.isFinite(v)) {
    return '0';
  }
  const a = Math.abs(v);
  const s = a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toFixed(4);
  return String(Number(s));
}

// downsample averages xs into at most n points.
function downsample(xs, n) {
  if (xs.length <= n) {
    return xs;
  }
  const out = [];
  for (let i = 0; i < n; i++) {
    const lo = Math.floor(i * xs.length / n), hi = Math.floor((i + 1) * xs.length / n);
    const part = xs.slice(lo, hi).filter(Number.isFinite);
    out.push(part.length ? part.reduce((a, b) => a + b, 0) / part.length : NaN);
  }
  return out;
}

// sideLine is the per-second median over a side's arms.
function sideLine(arms) {
  const n = Math.max(0, ...arms.map((a) => a.length));
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push(median(arms.map((a) => (i < a.length ? a[i] : NaN))));
  }
  return out;
}

// lineChart draws one series of a scenario: the median of each side's arms
// per second, base first, head second.
function lineChart(name, seriesName, ser) {
  const d = display(ser.unit);
  const sides = ['base', 'head'].filter((s) => ser.sides[s] && ser.sides[s].length);
  if (sides.length === 0) {
    return '';
  }
  const lines = sides.map((s) => downsample(sideLine(ser.sides[s]), CHART_POINTS).map((v) => v * d.scale));
  const len = Math.max(...lines.map((l) => l.length));
  if (len < 2) {
    return '';
  }
  const top = Math.max(0, ...lines.flat().filter(Number.isFinite));
  const seconds = Math.max(...sides.map((s) => Math.max(...ser.sides[s].map((a) => a.length)))) * ser.step;
  const who = sides.length === 2 ? 'grey = base, blue = head' : `${sides[0]} only`;
  return [
    '```mermaid',
    '---',
    'config:',
    '  themeVariables:',
    '    xyChart:',
    `      plotColorPalette: "${sides.length === 2 ? '#8c8c8c, #1f4fb4' : sides[0] === 'base' ? '#8c8c8c' : '#1f4fb4'}"`,
    '---',
    'xychart-beta',
    `  title "${name}: ${seriesName.replace(/_/g, ' ')} (${d.unit}), ${who}"`,
    `  x-axis "seconds since the scenario started" 0 --> ${axisNum(seconds)}`,
    `  y-axis "${d.unit}" 0 --> ${axisNum(top > 0 ? top * 1.05 : 1)}`,
    ...lines.map((l) => `  line [${l.map((v) => (Number.isFinite(v) ? axisNum(v) : '0')).join(', ')}]`),
    '```',
  ].join('\n');
}

// barChart is the fallback without series: the relative change of each
// gating figure of the scenario, in %.
function barChart(s) {
  const rows = s.rows.filter((r) => r.gating && Number.isFinite(r.rel)).slice(0, 10);
  if (rows.length === 0) {
    return '';
  }
  const vals = rows.map((r) => r.rel * 100);
  const lim = Math.max(1, ...vals.map(Math.abs)) * 1.1;
  return [
    '```mermaid',
    'xychart-beta',
    `  title "${s.name}: change of each gating figure, head vs base (%)"`,
    `  x-axis [${rows.map((r) => `"${r.phase} ${r.name}"`).join(', ')}]`,
    `  y-axis "change (%)" ${axisNum(-lim)} --> ${axisNum(lim)}`,
    `  bar [${vals.map(axisNum).join(', ')}]`,
    '```',
  ].join('\n');
}

// charts returns the Mermaid blocks of the scenarios that changed, most
// regressions first, at most SHOW_CHARTS scenarios.
function charts(diff, series) {
  const changed = diff.scenarios
    .filter((s) => s.regressions > 0 || s.improvements > 0 || s.rows.some((r) => r.gating && CHANGED.includes(r.verdict)))
    .sort((a, b) => b.regressions - a.regressions)
    .slice(0, SHOW_CHARTS);
  const blocks = [];
  for (const s of changed) {
    const ser = series && series[s.name];
    const parts = [];
    if (ser) {
      for (const n of KNOWN.charted_series) {
        if (ser[n]) {
          const c = lineChart(s.name, n, ser[n]);
          if (c) {
            parts.push(c);
          }
        }
      }
    }
    if (parts.length === 0) {
      const c = barChart(s);
      if (c) {
        parts.push(c);
      }
    }
    if (parts.length) {
      blocks.push({ name: s.name, text: `<details><summary><code>${s.name}</code></summary>\n\n${parts.join('\n\n')}\n\n</details>` });
    }
  }
  return blocks;
}

// CONCLUSIONS are the run conclusions said in words.
const CONCLUSIONS = {
  cancelled: 'was cancelled before it finished (a run that exceeds its time limit ends cancelled too)',
  timed_out: 'timed out',
  failure: 'failed',
  success: 'succeeded',
  startup_failure: 'failed to start',
};

// render returns the comment's text below the marker lines. dir holds the
// artifact bench-comment; the rest comes from GitHub's description of the
// run, never from the artifact.
function render({ dir, headSha, runURL, artifactURL, conclusion = '', runId = 0, runAttempt = 1 }) {
  const refused = new Refusals();
  const rawDiff = dir ? readJSON(dir, 'diff.json', MAX_DIFF_BYTES, refused, true) : null;
  const diff = rawDiff === null ? null : validateDiff(rawDiff, refused);
  const rawResults = diff && dir ? readJSON(dir, 'results.json', MAX_RESULTS_BYTES, refused, false) : null;
  const series = rawResults === null ? null : validateSeries(rawResults, refused);

  const sha = HEX40.test(String(headSha)) ? String(headSha).slice(0, 12) : 'unknown';
  const run = `[run ${Number(runId) || '?'}${Number(runAttempt) > 1 ? `, attempt ${Number(runAttempt)}` : ''}](${runURL})`;
  const ended = CONCLUSIONS[conclusion] ? ` The run ${CONCLUSIONS[conclusion]}.` : '';
  const head = [];
  if (!diff) {
    head.push('### mcchaos benchmark: no result', '',
      `The benchmark of commit \`${sha}\` gave no comparison to show.${ended} See its log: ${run}; anything it wrote is in the [artifact bench-report](${artifactURL}).`);
  } else {
    head.push(`### mcchaos benchmark: ${VERDICT_WORDS[diff.verdict]}`, '',
      `These numbers were produced by this pull request's own workflow run (${run}) and checked against the schema by the default branch's renderer, which wrote this comment.${ended} ` +
      `The full report, PNG charts and logs are in the [artifact bench-report](${artifactURL}).`, '');
    const base = diff.mode === 'paired' && diff.baseCommits.length === 1 ? ` against base \`${diff.baseCommits[0].slice(0, 12)}\`` : '';
    const bound = diff.bound ? ` · false-alarm bound ${axisNum(diff.bound.p * 100)} % over ${diff.bound.rows} gating figures` : '';
    head.push(`Commit \`${sha}\` · ${MODE_WORDS[diff.mode]}${base}${diff.profile ? ` · profile \`${diff.profile}\`` : ''} · ` +
      `${diff.compared} scenarios compared · ${diff.regressions} regressions · α = ${axisNum(diff.alpha)}${bound}`);
    const notes = [];
    if (diff.confirmation) {
      notes.push(`Confirmation runs: ${diff.confirmation.confirmed} candidates confirmed, ${diff.confirmation.unconfirmed} not confirmed.`);
    }
    if (diff.invalid.length) {
      notes.push(`Invalid (faults not in effect as asked; excluded from the verdict): ${diff.invalid.map((n) => `\`${n}\``).join(', ')}.`);
    }
    if (diff.integrityFailures) {
      notes.push(`${diff.integrityFailures} integrity failures.`);
    }
    if (diff.problems || diff.warnings) {
      notes.push(`${diff.problems} problems and ${diff.warnings} warnings: their text is in the full report.`);
    }
    if (notes.length) {
      head.push('', notes.join(' '));
    }
  }
  const foot = () => {
    const lines = refused.lines();
    return lines.length ? `\n\n**Refused from the artifact** (not shown; the renderer shows only known names and numbers):\n${lines.map((l) => `- ${l}`).join('\n')}\n` : '\n';
  };
  let text = head.join('\n');
  if (!diff) {
    return text + foot();
  }
  text += `\n\n${scenarioTable(diff)}`;
  const rows = changedRows(diff);
  let rowsText = rows.length ? `\n\n#### Changed figures\n\n${rowsTable(rows, SHOW_ROWS)}` : '\n\nNo figure changed beyond its floor.';
  // Leave room for the refusal lines (bounded) and the marker lines.
  const room = MAX_BODY - 4000;
  for (let limit = SHOW_ROWS; (text + rowsText).length > room && limit > 0; limit = Math.floor(limit / 2)) {
    rowsText = `\n\n#### Changed figures\n\n${rowsTable(rows, Math.floor(limit / 2))}`;
  }
  text += rowsText;
  const blocks = charts(diff, series);
  if (blocks.length) {
    let chartText = '\n\n#### Charts of the scenarios that changed\n';
    let dropped = 0;
    for (const b of blocks) {
      if ((text + chartText + b.text).length + 200 > room) {
        dropped++;
        continue;
      }
      chartText += `\n${b.text}\n`;
    }
    if (dropped) {
      chartText += `\n${dropped} more charts left out for GitHub's size limit: see the artifact.\n`;
    }
    text += chartText;
  }
  return text + foot();
}

module.exports = { render, validateDiff, validateSeries, readJSON, Refusals, LIMIT, MAX_BODY, MAX_DIFF_BYTES, MAX_RESULTS_BYTES };
