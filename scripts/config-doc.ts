#!/usr/bin/env -S npx tsx
// Writes docs/configuration.md from the agent's settings table (src/core/config/settings.ts): every
// PGOPS_* variable with its default and meaning. `--check` only compares and exits 1 when stale
// (test/unit/config-doc.test.ts runs the same comparison).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeAgentEnv, objectStoreEnv, parseAgentEnv } from '../src/core/config/schema.js';

export const configDocPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'configuration.md');

const cell = (s: string) =>
  s.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\n/g, ' ');

export function renderConfigDoc(): string {
  const parsed = parseAgentEnv({});
  if (!parsed.ok) throw new Error('the schema has no defaults for an empty environment');
  const defaults = parsed.value as Record<string, string | number | boolean | undefined>;
  const rows = describeAgentEnv().map(({ key, description }) => {
    const d = defaults[key];
    const shown = d === undefined ? '(unset)' : d === '' ? '`""`' : `\`${String(d)}\``;
    return `| \`${key}\` | ${shown} | ${cell(description)} |`;
  });
  return [
    '# postgres-agent settings',
    '',
    '<!-- Generated from src/core/config/settings.ts by `npx tsx scripts/config-doc.ts`; do not edit. -->',
    '',
    'Every container of the chart that runs `postgres-agent` is configured through these environment',
    'variables (the chart sets them from its values; local mode sets them for the processes it starts).',
    'The agent refuses to start on an unknown `PGOPS_*` name or a bad value, listing every one, and an',
    'empty value is not a default: unset a variable to get its default. `postgres-agent config --check`',
    'validates an environment; `postgres-agent config` prints the values in effect. The chart value each',
    'comes from and the modules that read it: [settings.md](settings.md).',
    '',
    '| setting | default | meaning |',
    '| --- | --- | --- |',
    ...rows,
    '',
    "The agent also reads the object store SDKs' own variables, never logged:",
    `${objectStoreEnv.map((k) => `\`${k}\``).join(', ')}. See [cross-region.md](cross-region.md).`,
    '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const want = renderConfigDoc();
  if (process.argv.includes('--check')) {
    const have = readFileSync(configDocPath, 'utf8');
    if (have !== want) {
      console.error('docs/configuration.md is stale: run npx tsx scripts/config-doc.ts');
      process.exit(1);
    }
  } else writeFileSync(configDocPath, want);
}
