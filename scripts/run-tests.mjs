#!/usr/bin/env node
// Runs every suite with Node's built-in test runner (TypeScript through tsx), so that CI reads one
// closing summary. `npm test -- test/unit` runs only the files under the given paths.
// TEST_CONCURRENCY: test files run at once (default 2).
// TEST_TIMEOUT_SECONDS: a hung test fails instead of holding the run (default 900; 0 = none). It
// is node's --test-timeout, which on Node 20 bounds each test file's process as a whole as well as
// each test in it: the file is stopped with SIGTERM (test/support/cleanup.ts then stops what it
// started) and reported as timed out. The longest files (test/faults/ha-heal.test.ts,
// test/integration/pitr-repo2.test.ts, test/integration/local-mode.test.ts) take 4 to 5 minutes on
// a busy 2-core machine; the default leaves them three times that.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const suites = ['test/unit', 'test/chart', 'test/integration', 'test/faults'];
const roots = process.argv.slice(2).length ? process.argv.slice(2) : suites;

function collect(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return [];
  }
  if (st.isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path)
    .sort()
    .flatMap((name) => collect(join(path, name)));
}

const files = roots.flatMap(collect).map((f) => relative(process.cwd(), f));
if (files.length === 0) {
  console.error(`no test files under ${roots.join(', ')}`);
  process.exit(1);
}
const timeoutSeconds = Number(process.env.TEST_TIMEOUT_SECONDS ?? 900);
if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0) {
  console.error(
    `TEST_TIMEOUT_SECONDS must be a number of seconds (0 for none), not "${process.env.TEST_TIMEOUT_SECONDS}"`,
  );
  process.exit(2);
}
const args = [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
  ...(timeoutSeconds > 0 ? [`--test-timeout=${Math.round(timeoutSeconds * 1000)}`] : []),
  ...files,
];
// Processes the suites start (PostgreSQL under a test temp dir, agents, exporters, object-store
// servers) must all be gone when the run ends: a leaked one is a bug, reported and stopped here.
// It looks at every such process on the machine, so it runs only where this run is alone: in CI
// (CI=true) or when asked (PGOPS_LEAK_CHECK=1); concurrent local runs would see each other's.
const leakCheck = Boolean(process.env.CI) || process.env.PGOPS_LEAK_CHECK === '1';
const leakPattern = /pgops-test-|dist\/agent\/main\.js|postgres-exporter|azurite|s3rver/;
function ourProcesses() {
  if (!leakCheck) return [];
  try {
    return execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().match(/^(\d+)\s+(.*)$/))
      .filter((m) => m && leakPattern.test(m[2]) && !m[2].startsWith('ps '))
      .map((m) => ({ pid: Number(m[1]), args: m[2] }));
  } catch {
    return [];
  }
}
const before = new Set(ourProcesses().map((p) => p.pid));
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
let leaked = [];
for (let i = 0; i < 10; i++) {
  leaked = ourProcesses().filter((p) => !before.has(p.pid) && p.pid !== process.pid);
  if (leaked.length === 0) break;
  spawnSync('sleep', ['0.5']); // processes that are shutting down get a moment
}
if (leaked.length > 0) {
  console.error(`\nleaked processes after the tests (a test did not clean up):`);
  for (const p of leaked) {
    console.error(`  ${p.pid} ${p.args}`);
    try {
      process.kill(p.pid, 'SIGQUIT');
    } catch {
      /* already gone */
    }
  }
  process.exit(r.status || 1);
}
process.exit(r.status ?? 1);
