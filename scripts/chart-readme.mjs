#!/usr/bin/env node
// Writes the parameters table of helm/pyairtable-stack/README.md from the `## @section` and
// `## @param <key> <description>` comments of values.yaml (Bitnami's convention), between the
// `<!-- parameters:start -->` and `<!-- parameters:end -->` markers. `--check` only compares and
// exits 1 when the README is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const chartDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'helm', 'pyairtable-stack');
const valuesPath = join(chartDir, 'values.yaml');
const readmePath = join(chartDir, 'README.md');
const START = '<!-- parameters:start -->';
const END = '<!-- parameters:end -->';

export function readParams(text) {
  const values = parse(text);
  const sections = [];
  for (const line of text.split('\n')) {
    const section = line.match(/^\s*## @section (.+)$/);
    if (section) sections.push({ title: section[1].trim(), params: [] });
    const param = line.match(/^\s*## @param (\S+) (.+)$/);
    if (param) {
      if (!sections.length) sections.push({ title: 'Parameters', params: [] });
      const key = param[1];
      const value = key.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), values);
      sections.at(-1).params.push({ key, description: param[2].trim(), value });
    }
  }
  return sections;
}

function cell(value) {
  let text = value === undefined ? '' : JSON.stringify(value);
  if (text.length > 60) text = 'see values.yaml';
  return '`' + text.replace(/\|/g, '\\|') + '`';
}

export function renderTables(sections) {
  return sections
    .map((s) =>
      [
        `### ${s.title}`,
        '',
        '| Name | Description | Default |',
        '| ---- | ----------- | ------- |',
        ...s.params.map(
          (p) => `| \`${p.key}\` | ${p.description.replace(/\|/g, '\\|')} | ${cell(p.value)} |`,
        ),
      ].join('\n'),
    )
    .join('\n\n');
}

export function updatedReadme(readme, values) {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${readmePath} lacks the ${START} ... ${END} markers`);
  return readme.slice(0, a + START.length) + '\n' + renderTables(readParams(values)) + '\n' + readme.slice(b);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readme = readFileSync(readmePath, 'utf8');
  const next = updatedReadme(readme, readFileSync(valuesPath, 'utf8'));
  if (process.argv.includes('--check')) {
    if (next !== readme) {
      console.error(`${readmePath} is out of date with values.yaml. Run: node scripts/chart-readme.mjs`);
      process.exit(1);
    }
  } else if (next !== readme) {
    writeFileSync(readmePath, next);
    console.log(`updated ${readmePath}`);
  }
}
