/**
 * Object store settings for local mode, where there is no chart Secret: the SDKs' own variables
 * (AWS_*, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*) from the operator's environment, and
 * `objectstore.env` in the state folder (KEY=VALUE lines, the same variables plus the chart's
 * PGOPS_SYNC_* settings). The environment wins over the file. Values are never printed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { objectStoreEnv } from '../core/config/schema.js';
import { UsageError } from '../core/errors.js';

export const OBJECTSTORE_ENV_FILE = 'objectstore.env';

/** The chart's object store settings (crossRegion.*), accepted in the file only. */
const FILE_SETTINGS = [
  'PGOPS_SYNC_PROVIDER',
  'PGOPS_SYNC_BUCKET',
  'PGOPS_SYNC_PREFIX',
  'PGOPS_SYNC_ENDPOINT',
  'PGOPS_SYNC_REGION',
];

/** KEY=VALUE lines (comments with #, optional quotes, `export ` allowed); unknown keys are refused. */
export function parseObjectStoreFile(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  const allowed = new Set([...objectStoreEnv, ...FILE_SETTINGS]);
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    const where = `${file} line ${i + 1}`;
    if (!m)
      throw new UsageError(
        'E_OBJECTSTORE_FILE',
        `${where} is not a KEY=VALUE line`,
        { file, line: i + 1 },
        { hint: 'Write one setting a line, e.g. AWS_REGION=eu-west-1 (docs/cross-region.md, "Local mode").' },
      );
    const key = m[1]!;
    if (!allowed.has(key))
      throw new UsageError(
        'E_OBJECTSTORE_FILE',
        `${where}: ${key} is not an object store setting`,
        { file, line: i + 1, key },
        { hint: `Settings it may hold: ${[...allowed].join(', ')}.` },
      );
    let value = m[2]!.trim();
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    out[key] = value;
  });
  return out;
}

/**
 * What a local agent gets to reach an object store. The SDKs' default files under the operator's
 * home (~/.aws, gcloud's application default credentials) are named explicitly, since the agent
 * runs with its own HOME.
 */
export function localObjectStoreEnv(
  stateDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const file = join(stateDir, OBJECTSTORE_ENV_FILE);
  const fromFile = existsSync(file) ? parseObjectStoreFile(readFileSync(file, 'utf8'), file) : {};
  const out: Record<string, string> = { ...fromFile };
  for (const k of objectStoreEnv) if (env[k]) out[k] = env[k]!;
  const home = env.HOME ?? homedir();
  const defaults: [string, string][] = [
    ['AWS_SHARED_CREDENTIALS_FILE', join(home, '.aws', 'credentials')],
    ['AWS_CONFIG_FILE', join(home, '.aws', 'config')],
    [
      'GOOGLE_APPLICATION_CREDENTIALS',
      join(home, '.config', 'gcloud', 'application_default_credentials.json'),
    ],
  ];
  for (const [k, path] of defaults) if (!out[k] && existsSync(path)) out[k] = path;
  return out;
}
