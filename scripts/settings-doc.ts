#!/usr/bin/env -S npx tsx
// Writes docs/settings.md from the settings table (src/core/config/settings.ts): for every setting,
// the chart value it comes from, its environment variable, its place in the agent's configuration
// and the modules that read it (found in src/ by the config path). `--check` only compares and exits
// 1 when stale (test/unit/settings-doc.test.ts runs the same comparison).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { settingRows } from '../src/core/config/schema.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const settingsDocPath = join(root, 'docs', 'settings.md');

/** Every TypeScript module under src/ except the settings' own, with its text. */
function sources(): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push({ path: relative(root, p), text: readFileSync(p, 'utf8') });
    }
  };
  walk(join(root, 'src'));
  return out.filter((f) => !f.path.startsWith('src/core/config/')).sort((a, b) => (a.path < b.path ? -1 : 1));
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderSettingsDoc(): string {
  const files = sources();
  const rows = settingRows.map((r) => {
    // `config.backup.dir`, `ctx.config.backup.dir` and a slice's `backup.dir` all name it; a few are
    // read from the process environment before the configuration is parsed (`process.env.PGOPS_DEBUG`).
    const re = new RegExp(`\\b${r.section}\\.${r.name}\\b|\\.${r.env}\\b|'${r.env}'`);
    const readers = files.filter((f) => re.test(f.text)).map((f) => `\`${f.path}\``);
    const values = !r.values ? '—' : r.derived ? `(from \`${r.values}\`)` : `\`${r.values}\``;
    return `| ${values} | \`${r.env}\` | \`config.${r.path}\` | ${cell(readers.join(', ') || '—')} |`;
  });
  return [
    '# Settings: one name from values to code',
    '',
    '<!-- Generated from src/core/config/settings.ts by `npx tsx scripts/settings-doc.ts`; do not edit. -->',
    '',
    'Each setting of `postgres-agent` has one row in `src/core/config/settings.ts`: the chart value it',
    'comes from, the environment variable that carries it into the container, and its place in the',
    'configuration the code reads (`ctx.config`, parsed once at start). The last column lists the',
    'modules that read it. `(from ...)`: the chart computes the variable from that value (a list joined,',
    'a Secret mounted as a file); `—`: a fact of the pod, wiring inside the chart, or a local-mode',
    'setting. Defaults and meanings: [configuration.md](configuration.md).',
    '',
    '| chart value | environment | configuration | read by |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const want = renderSettingsDoc();
  if (process.argv.includes('--check')) {
    if (readFileSync(settingsDocPath, 'utf8') !== want) {
      console.error('docs/settings.md is stale: run npx tsx scripts/settings-doc.ts');
      process.exit(1);
    }
  } else writeFileSync(settingsDocPath, want);
}
