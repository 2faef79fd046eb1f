#!/usr/bin/env node
/**
 * Compares a scenario transcript with the reference transcript after
 * normalising volatile values (README.md "Normalisation").
 *
 *   node compare.js --name NAME --reference REF.jsonl --actual ACT.jsonl
 *                   [--deviations ../DEVIATIONS.md] [--max-diffs 3]
 *                   [--write-normalized DIR]
 *
 * Prints one summary line `NAME: N steps, equal` (plus the allowed
 * deviations, if any were used) or `NAME: N steps, D steps differ` followed
 * by a readable diff of the first differing steps. Exit status 0 when equal
 * (allowing only the deviations listed in DEVIATIONS.md), 1 when different,
 * 2 on usage or input errors.
 */
'use strict';

var fs = require('fs');
var path = require('path');

// ---------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------
function parseArgs(argv) {
  var args = { deviations: path.join(__dirname, '..', 'DEVIATIONS.md'), maxDiffs: 3 };
  for (var i = 0; i < argv.length; i++) {
    var m = /^--(name|reference|actual|deviations|max-diffs|write-normalized)(?:=(.*))?$/.exec(argv[i]);
    if (!m) { usage('unknown argument: ' + argv[i]); }
    var key = m[1] === 'max-diffs' ? 'maxDiffs' : m[1] === 'write-normalized' ? 'writeNormalized' : m[1];
    args[key] = m[2] !== undefined ? m[2] : argv[++i];
  }
  if (!args.reference || !args.actual) { usage('missing --reference or --actual'); }
  args.name = args.name || path.basename(args.actual);
  args.maxDiffs = Number(args.maxDiffs);
  return args;
}

function usage(msg) {
  process.stderr.write(msg + '\nusage: compare.js --name NAME --reference REF.jsonl --actual ACT.jsonl [--deviations FILE] [--max-diffs N] [--write-normalized DIR]\n');
  process.exit(2);
}

function readTranscript(file) {
  var text = fs.readFileSync(file, 'utf8');
  return text.split('\n').filter(function (line) { return line.trim() !== ''; }).map(function (line, i) {
    try {
      return JSON.parse(line);
    } catch (e) {
      throw new Error(file + ':' + (i + 1) + ': invalid JSON: ' + e.message);
    }
  });
}

/**
 * DEVIATIONS.md: every fenced block whose info string is `deviation` holds
 * `key: value` lines: `steps` (comma-separated step ids, required), `reason`
 * (required), `applies-to` (comma-separated comparison-name globs, optional,
 * default every comparison), `sockets` (optional: only records of these sockets).
 */
function readDeviations(file) {
  if (!file || !fs.existsSync(file)) { return []; }
  var text = fs.readFileSync(file, 'utf8');
  var blocks = [];
  var re = /^```deviation[ \t]*\n([\s\S]*?)^```[ \t]*$/gm;
  var m;
  while ((m = re.exec(text)) !== null) {
    var entry = {};
    m[1].split('\n').forEach(function (line) {
      var kv = /^\s*([a-z-]+)\s*:\s*(.*?)\s*$/.exec(line);
      if (kv) { entry[kv[1]] = kv[2]; }
    });
    if (!entry.steps || !entry.reason) {
      throw new Error(file + ': a deviation block needs `steps:` and `reason:` (got ' + JSON.stringify(m[1]) + ')');
    }
    blocks.push({
      steps: splitList(entry.steps),
      appliesTo: entry['applies-to'] ? splitList(entry['applies-to']) : ['*'],
      sockets: entry.sockets ? splitList(entry.sockets) : null,
      reason: entry.reason
    });
  }
  return blocks;
}

function splitList(s) {
  return s.split(',').map(function (x) { return x.trim(); }).filter(Boolean);
}

function globMatch(glob, name) {
  var re = new RegExp('^' + glob.split('*').map(function (p) {
    return p.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }).join('.*') + '$');
  return re.test(name);
}

// ---------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------
var SID_RE = /s%3A[A-Za-z0-9_-]+\.[A-Za-z0-9%_+/=-]+/g;
var ISO_DATE_RE = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})\b/g;
var HTTP_DATE_RE = /\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\b/g;
var TIMESTAMP_KEYS = { createdAt: true, updatedAt: true };
var STACK_LINE_RE = /\n\s+at /;

function normalizeTranscript(records) {
  // Socket ids, in order of connection: <socket a#1>, <socket a#2> after a reconnect.
  var socketIds = [];
  var generations = {};
  records.forEach(function (r) {
    if (r.kind === 'connected' && typeof r.id === 'string' && r.id !== '') {
      generations[r.socket] = (generations[r.socket] || 0) + 1;
      socketIds.push({ id: r.id, token: '<socket ' + r.socket + '#' + generations[r.socket] + '>' });
    }
  });
  socketIds.sort(function (x, y) { return y.id.length - x.id.length; });
  var sids = new Map();
  var times = new Map();

  function ordinal(map, value, prefix) {
    if (!map.has(value)) { map.set(value, '<' + prefix + '#' + (map.size + 1) + '>'); }
    return map.get(value);
  }

  function normString(s) {
    if (STACK_LINE_RE.test(s)) {
      // Keep the first line of a stack trace (the error message).
      s = s.split('\n')[0] + '\n<stack>';
    }
    socketIds.forEach(function (entry) {
      if (s.indexOf(entry.id) !== -1) { s = s.split(entry.id).join(entry.token); }
    });
    s = s.replace(SID_RE, function (sid) { return ordinal(sids, sid, 'sid'); });
    s = s.replace(ISO_DATE_RE, '<date>').replace(HTTP_DATE_RE, '<date>');
    return s;
  }

  function walk(value, key) {
    if (typeof value === 'string') { return normString(value); }
    if (typeof value === 'number' && key && TIMESTAMP_KEYS[key]) { return ordinal(times, value, 'time'); }
    if (Array.isArray(value)) { return value.map(function (v) { return walk(v); }); }
    if (value && typeof value === 'object') {
      var out = {};
      Object.keys(value).sort().forEach(function (k) { out[k] = walk(value[k], k); });
      return out;
    }
    return value;
  }

  return records.map(function (r) { return walk(r); });
}

// ---------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------
function groupBySteps(records) {
  var order = [];
  var groups = {};
  records.forEach(function (r) {
    var step = r.step;
    if (!groups[step]) { groups[step] = []; order.push(step); }
    groups[step].push(r);
  });
  return { order: order, groups: groups };
}

/** Paths where two JSON values differ, e.g. `body.headers.x-test: "a" → "b"`. */
function differences(a, b, prefix, out) {
  out = out || [];
  if (out.length >= 8) { return out; }
  var label = prefix || '(record)';
  if (a === b) { return out; }
  var aObj = a && typeof a === 'object';
  var bObj = b && typeof b === 'object';
  if (aObj && bObj && Array.isArray(a) === Array.isArray(b)) {
    var keys = Array.isArray(a)
      ? Array.from({ length: Math.max(a.length, b.length) }, function (_, i) { return String(i); })
      : Array.from(new Set(Object.keys(a).concat(Object.keys(b)))).sort();
    keys.forEach(function (k) {
      var p = prefix ? prefix + (Array.isArray(a) ? '[' + k + ']' : '.' + k) : k;
      if (!(k in a)) { out.push(p + ': (missing) → ' + short(b[k])); }
      else if (!(k in b)) { out.push(p + ': ' + short(a[k]) + ' → (missing)'); }
      else { differences(a[k], b[k], p, out); }
    });
    return out;
  }
  out.push(label + ': ' + short(a) + ' → ' + short(b));
  return out;
}

function short(v) {
  var s = v === undefined ? 'undefined' : JSON.stringify(v);
  return s.length > 160 ? s.slice(0, 160) + '…' : s;
}

function describe(r) {
  var bits = [r.kind];
  if (r.socket) { bits.push('socket=' + r.socket); }
  if (r.request) { bits.push(r.request); }
  if (r.event) { bits.push('event=' + r.event); }
  return bits.join(' ');
}

function compareSteps(ref, act) {
  var refG = groupBySteps(ref);
  var actG = groupBySteps(act);
  var steps = refG.order.slice();
  actG.order.forEach(function (s) { if (!refG.groups[s]) { steps.push(s); } });
  var result = [];
  steps.forEach(function (step) {
    var a = refG.groups[step] || [];
    var b = actG.groups[step] || [];
    var lines = [];
    var socketsInvolved = new Set();
    for (var i = 0; i < Math.max(a.length, b.length); i++) {
      var x = a[i];
      var y = b[i];
      if (x && y && JSON.stringify(x) === JSON.stringify(y)) { continue; }
      if (x) { socketsInvolved.add(x.socket); }
      if (y) { socketsInvolved.add(y.socket); }
      if (!y) { lines.push('record ' + (i + 1) + ' (' + describe(x) + '): missing in actual'); continue; }
      if (!x) { lines.push('record ' + (i + 1) + ' (' + describe(y) + '): not in reference'); continue; }
      lines.push('record ' + (i + 1) + ' (' + describe(x) + '):');
      differences(x, y, '').forEach(function (d) { lines.push('    ' + d); });
    }
    if (lines.length) {
      result.push({ step: step, lines: lines, sockets: socketsInvolved, inReference: !!refG.groups[step] });
    }
  });
  return { stepCount: refG.order.length, diffs: result };
}

function allowedBy(deviations, name, diff) {
  return deviations.filter(function (d) {
    if (d.steps.indexOf(diff.step) === -1) { return false; }
    if (!d.appliesTo.some(function (g) { return globMatch(g, name); })) { return false; }
    if (d.sockets) {
      var ok = true;
      diff.sockets.forEach(function (s) { if (d.sockets.indexOf(s) === -1) { ok = false; } });
      return ok;
    }
    return true;
  });
}

function main() {
  var args = parseArgs(process.argv.slice(2));
  var ref, act, deviations;
  try {
    ref = normalizeTranscript(readTranscript(args.reference));
    act = normalizeTranscript(readTranscript(args.actual));
    deviations = readDeviations(args.deviations);
  } catch (e) {
    process.stderr.write('compare: ' + e.message + '\n');
    process.exit(2);
  }
  if (args.writeNormalized) {
    fs.mkdirSync(args.writeNormalized, { recursive: true });
    var write = function (file, recs) {
      fs.writeFileSync(path.join(args.writeNormalized, path.basename(file)), recs.map(function (r) { return JSON.stringify(r); }).join('\n') + '\n');
    };
    write(args.reference, ref);
    write(args.actual, act);
  }
  var cmp = compareSteps(ref, act);
  var allowed = [];
  var unexpected = [];
  cmp.diffs.forEach(function (d) {
    (allowedBy(deviations, args.name, d).length ? allowed : unexpected).push(d);
  });
  var allowedNote = allowed.length
    ? ' (' + allowed.length + ' allowed deviation' + (allowed.length === 1 ? '' : 's') + ': ' + allowed.map(function (d) { return d.step; }).join(', ') + ')'
    : '';
  if (!unexpected.length) {
    process.stdout.write(args.name + ': ' + cmp.stepCount + ' steps, equal' + allowedNote + '\n');
    process.exit(0);
  }
  process.stdout.write(args.name + ': ' + cmp.stepCount + ' steps, ' + unexpected.length + ' step' +
    (unexpected.length === 1 ? '' : 's') + ' differ' + (unexpected.length === 1 ? 's' : '') + allowedNote + '\n');
  unexpected.slice(0, args.maxDiffs).forEach(function (d) {
    process.stdout.write('  step ' + d.step + (d.inReference ? '' : ' (not in reference)') + ':\n');
    d.lines.slice(0, 20).forEach(function (l) { process.stdout.write('    ' + l + '\n'); });
  });
  if (unexpected.length > args.maxDiffs) {
    process.stdout.write('  … and ' + (unexpected.length - args.maxDiffs) + ' more: ' +
      unexpected.slice(args.maxDiffs).map(function (d) { return d.step; }).join(', ') + '\n');
  }
  process.exit(1);
}

if (require.main === module) {
  main();
}

module.exports = { normalizeTranscript: normalizeTranscript, compareSteps: compareSteps, readDeviations: readDeviations, allowedBy: allowedBy };
