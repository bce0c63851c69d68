#!/usr/bin/env node
// Runs every suite with Node's built-in test runner (TypeScript through tsx), so that CI reads one
// closing summary. `npm test -- test/unit` runs only the files under the given paths.
import { spawnSync } from 'node:child_process';
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
const args = [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
  ...files,
];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
