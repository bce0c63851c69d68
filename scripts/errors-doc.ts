#!/usr/bin/env -S npx tsx
// Writes docs/errors.md from the error code registry (src/core/error-codes.ts): every code with its
// exit status and meaning. `--check` only compares and exits 1 when stale (test/unit/errors.test.ts
// runs the same comparison).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorCodes, type ErrorCodeEntry } from '../src/core/error-codes.js';

export const errorsDocPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'errors.md');

const cell = (s: string) =>
  s.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\n/g, ' ');

export function renderErrorsDoc(): string {
  const rows = Object.entries(errorCodes as Record<string, ErrorCodeEntry>)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(
      ([code, e]) =>
        `| \`${code}\` | ${e.exit}${e.relayed ? " (or the agent's)" : ''} | ${cell(e.meaning)} |`,
    );
  return [
    '# Error codes',
    '',
    '<!-- Generated from src/core/error-codes.ts by `npx tsx scripts/errors-doc.ts`; do not edit. -->',
    '',
    'Every failure of `postgres-ops` and `postgres-agent` prints `error: <message>` on stderr, most with',
    'a `hint:` line naming the command to type next, and exits with a status scripts can rely on:',
    '',
    '- **1**: the operation was attempted and failed;',
    '- **2**: bad usage or input (a flag, a name, a setting); nothing was touched;',
    '- **3**: refused for safety (going on could lose data); nothing was changed.',
    '',
    'With `-o json` the error is also printed on stdout as',
    '`{"error":{"code":"E_...","message":"...","meta":{...},"hint":"..."|null}}` (with `-o yaml`, the',
    'same object in YAML). The codes below are',
    "stable: scripts may match on them. '(or the agent's)': the code also reports a failure of",
    "`postgres-agent` in a pod, a Job or a child process, and then exits with that agent's status,",
    'passing on the code the agent reported.',
    '',
    '| code | exit | meaning |',
    '| --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const want = renderErrorsDoc();
  if (process.argv.includes('--check')) {
    const have = readFileSync(errorsDocPath, 'utf8');
    if (have !== want) {
      console.error('docs/errors.md is stale: run npx tsx scripts/errors-doc.ts');
      process.exit(1);
    }
  } else writeFileSync(errorsDocPath, want);
}
