'use strict';
var test = require('node:test');
var assert = require('node:assert');
var fs = require('fs');
var os = require('os');
var path = require('path');
var childProcess = require('child_process');
var compare = require('../compare');

var COMPARE = path.join(__dirname, '..', 'compare.js');

function transcript(records) {
  return records.map(function (r) { return JSON.stringify(r); }).join('\n') + '\n';
}

function tmpFiles(files) {
  var dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-compare-'));
  Object.keys(files).forEach(function (name) { fs.writeFileSync(path.join(dir, name), files[name]); });
  return dir;
}

function run(args) {
  var r = childProcess.spawnSync(process.execPath, [COMPARE].concat(args), { encoding: 'utf8' });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

var base = [
  { step: 'c1', kind: 'connected', socket: 'a', id: 'AAAAengineid0001' },
  { step: 'r1', kind: 'response', socket: 'a', request: 'get /me/id', statusCode: 200, headers: {}, body: { id: 'AAAAengineid0001' } },
  { step: 'r2', kind: 'response', socket: 'a', request: 'get /error', statusCode: 500, headers: {}, body: 'Error: boom\n    at f (/x/y.js:1:1)\n    at g (/x/z.js:2:2)' },
  { step: 'h1', kind: 'http', request: 'GET /hello', statusCode: 200, headers: { 'set-cookie': ['sails.sid=s%3Aabc_DEF-123.sig%2Fxyz; Path=/; HttpOnly'] }, body: { hello: 'world' } },
  { step: 'p1', kind: 'response', socket: 'a', request: 'post /pet', statusCode: 200, headers: {}, body: { id: 1, createdAt: 1700000000000, updatedAt: 1700000000000 } }
];

test('normalisation hides socket ids, session ids, timestamps and stack frames but keeps their relations', function () {
  var other = JSON.parse(JSON.stringify(base));
  other[0].id = 'zzzz-other-id'; other[1].body.id = 'zzzz-other-id';
  other[2].body = 'Error: boom\n    at h (/elsewhere.js:9:9)';
  other[3].headers['set-cookie'] = ['sails.sid=s%3AQQQ.other%2Bsig; Path=/; HttpOnly'];
  other[4].body.createdAt = other[4].body.updatedAt = 1800000000000;
  var n1 = compare.normalizeTranscript(base);
  var n2 = compare.normalizeTranscript(other);
  assert.deepStrictEqual(n1, n2);
  assert.strictEqual(n1[1].body.id, '<socket a#1>');
  assert.strictEqual(n1[2].body, 'Error: boom\n<stack>');
  assert.strictEqual(n1[4].body.createdAt, n1[4].body.updatedAt);
  // But a timestamp that differs from its sibling is still seen.
  other[4].body.updatedAt = 1800000000001;
  assert.notDeepStrictEqual(compare.normalizeTranscript(other), n1);
});

test('compare.js: equal transcripts, a readable diff, and the deviations allow-list', function () {
  var changed = JSON.parse(JSON.stringify(base));
  changed[3].body.hello = 'there';
  var dir = tmpFiles({
    'ref.jsonl': transcript(base),
    'same.jsonl': transcript(base),
    'changed.jsonl': transcript(changed),
    'none.md': '# no entries\n',
    'allow.md': 'text\n\n```deviation\nsteps: h1\napplies-to: *stub*\nreason: test entry\n```\n',
    'bad.md': '```deviation\nsteps: h1\n```\n'
  });
  var p = function (f) { return path.join(dir, f); };

  var eq = run(['--name', 'same', '--reference', p('ref.jsonl'), '--actual', p('same.jsonl'), '--deviations', p('none.md')]);
  assert.strictEqual(eq.status, 0);
  assert.strictEqual(eq.out, 'same: 5 steps, equal\n');

  var diff = run(['--name', 'real', '--reference', p('ref.jsonl'), '--actual', p('changed.jsonl'), '--deviations', p('none.md')]);
  assert.strictEqual(diff.status, 1);
  assert.match(diff.out, /^real: 5 steps, 1 step differs\n/);
  assert.match(diff.out, /step h1:/);
  assert.match(diff.out, /body\.hello: "world" → "there"/);

  // The allow-list applies only to the comparisons it names.
  var allowed = run(['--name', 'client vs server-stub', '--reference', p('ref.jsonl'), '--actual', p('changed.jsonl'), '--deviations', p('allow.md')]);
  assert.strictEqual(allowed.status, 0);
  assert.strictEqual(allowed.out, 'client vs server-stub: 5 steps, equal (1 allowed deviation: h1)\n');
  var notAllowed = run(['--name', 'client vs real', '--reference', p('ref.jsonl'), '--actual', p('changed.jsonl'), '--deviations', p('allow.md')]);
  assert.strictEqual(notAllowed.status, 1);

  var malformed = run(['--name', 'x', '--reference', p('ref.jsonl'), '--actual', p('same.jsonl'), '--deviations', p('bad.md')]);
  assert.strictEqual(malformed.status, 2);
  assert.match(malformed.err, /needs `steps:` and `reason:`/);
});

test('missing and extra records are reported', function () {
  var shorter = base.slice(0, 4);
  var r = compare.compareSteps(compare.normalizeTranscript(base), compare.normalizeTranscript(shorter));
  assert.strictEqual(r.stepCount, 5);
  assert.strictEqual(r.diffs.length, 1);
  assert.strictEqual(r.diffs[0].step, 'p1');
  assert.match(r.diffs[0].lines[0], /missing in actual/);
});

test('the committed DEVIATIONS.md parses', function () {
  var entries = compare.readDeviations(path.join(__dirname, '..', '..', 'DEVIATIONS.md'));
  assert.ok(Array.isArray(entries));
  entries.forEach(function (e) { assert.ok(e.steps.length && e.reason); });
});
