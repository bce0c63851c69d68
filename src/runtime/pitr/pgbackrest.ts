/**
 * Runs pgBackRest with our configuration file (`--config` always: Debian's package also ships a
 * legacy /etc/pgbackrest.conf), the stanza, and repo2's keys in its environment only.
 */
import { z } from 'zod';
import { OperationFailed } from '../../core/errors.js';
import { parseInfo, type StanzaInfo } from '../../core/pitr/info.js';
import { exec } from '../exec.js';

export const PGBACKREST_BIN = 'pgbackrest';

export interface PgbackrestRunner {
  configFile: string;
  stanza: string;
  /** PGBACKREST_REPO2_* keys and the like. */
  env: Record<string, string>;
}

/** pgBackRest's own message ("ERROR: [055]: ...") without its noise. */
export function pgbackrestMessage(stderr: string, stdout = ''): string {
  const raw = `${stderr}\n${stdout}`.split('\n');
  const out: string[] = [];
  let inError = false;
  for (const l of raw) {
    if (/\b(ERROR|ASSERT)\b/.test(l)) {
      inError = true;
      out.push(l.trim());
    } else if (inError && /^\s+\S/.test(l))
      out.push(l.trim()); // its continuation lines
    else inError = false;
  }
  const lines = out.length
    ? out
    : raw
        .map((l) => l.trim())
        .filter(Boolean)
        .slice(-3);
  return lines.join(' ').replace(/^P\d+\s+/, '') || 'no output';
}

export async function pgbackrest(
  r: PgbackrestRunner,
  command: string,
  args: string[] = [],
  opts: { timeoutMs?: number; what?: string; onStderr?: (c: string) => void; params?: string[] } = {},
): Promise<string> {
  const argv = [`--config=${r.configFile}`, `--stanza=${r.stanza}`, ...args, command, ...(opts.params ?? [])];
  const res = await exec(PGBACKREST_BIN, argv, {
    env: { ...process.env, ...r.env },
    timeoutMs: opts.timeoutMs,
    onStderr: opts.onStderr,
  });
  if (res.code !== 0)
    throw new OperationFailed(
      'E_PGBACKREST',
      `${opts.what ?? `pgbackrest ${command}`} failed: ${
        res.signal && opts.timeoutMs
          ? `no answer within ${opts.timeoutMs / 1000} s`
          : pgbackrestMessage(res.stderr, res.stdout)
      }`,
      { command, exitCode: res.code },
      { hint: 'Check the repository (postgres-ops status shows archive health) and run the command again.' },
    );
  return res.stdout;
}

/** A repository that does not answer makes pgBackRest retry for minutes: each is asked within this. */
export const REPO_ANSWER_MS = 60_000;

export async function pgbackrestInfo(r: PgbackrestRunner, repo?: number): Promise<StanzaInfo> {
  const out = await pgbackrest(r, 'info', ['--output=json', ...(repo ? [`--repo=${repo}`] : [])], {
    timeoutMs: REPO_ANSWER_MS,
    what: `reading ${repo ? `repo${repo}` : 'the repositories'} (pgbackrest info)`,
  });
  return parseInfo(out, r.stanza);
}

/**
 * Every repository, each asked on its own (one that is down must not hold up the others); one
 * that does not answer is listed with its error (code 99) and no backups. Throws only when none
 * answered.
 */
export async function pgbackrestInfoEach(r: PgbackrestRunner, repos: number[]): Promise<StanzaInfo> {
  const answers = await Promise.all(
    repos.map((repo) =>
      pgbackrestInfo(r, repo).then(
        (info) => ({ repo, info, error: undefined }),
        (err: Error) => ({ repo, info: undefined, error: err }),
      ),
    ),
  );
  const ok = answers.filter((a) => a.info);
  if (!ok.length) throw answers[0]?.error ?? new Error('no repository is configured');
  const first = ok[0]!.info!;
  return {
    ...first,
    repos: answers.flatMap((a) =>
      a.info
        ? a.info.repos
        : [
            {
              repo: `repo${a.repo}`,
              code: 99,
              message: a.error.message,
              archiveMin: null,
              archiveMax: null,
              archiveIds: [],
            },
          ],
    ),
    backups: ok.flatMap((a) => a.info!.backups),
  };
}

/**
 * pgBackRest's words when another stanza-create is halfway through (the leader's duty and a backup
 * that found the stanza missing can meet): its folders exist, its info files not yet.
 */
const CREATING_ELSEWHERE = /directory not empty|unable to acquire lock|ERROR: \[050\]/;

/** Creates the stanza where it is missing (idempotent: an existing one is left as it is). */
export async function stanzaCreate(r: PgbackrestRunner): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await pgbackrest(r, 'stanza-create', [], { timeoutMs: 300_000, what: 'creating the stanza' });
      return;
    } catch (err) {
      // Once the other one is done, stanza-create finds a valid stanza and succeeds.
      if (attempt >= 5 || !CREATING_ELSEWHERE.test((err as Error).message)) throw err;
      await new Promise((res) => setTimeout(res, 2000));
    }
  }
}

/** A file from the archive (a history file or a WAL segment) into `dest`; false when it is not there. */
export async function archiveGet(r: PgbackrestRunner, name: string, dest: string): Promise<boolean> {
  const res = await exec(
    PGBACKREST_BIN,
    [`--config=${r.configFile}`, `--stanza=${r.stanza}`, 'archive-get', name, dest],
    {
      env: { ...process.env, ...r.env },
      timeoutMs: 300_000,
    },
  );
  if (res.code === 0) return true;
  if (res.code === 1) return false; // pgBackRest: not found in any repository
  throw new OperationFailed(
    'E_PGBACKREST',
    `reading ${name} from the archive failed: ${pgbackrestMessage(res.stderr, res.stdout)}`,
    { file: name },
  );
}

/** `repo-ls --output=json`: an object keyed by name (`.` is the folder itself). */
const repoLsSchema = z.record(z.string(), z.unknown());

/** Names in a repository folder (`repo-ls`), e.g. the history files of an archive id. */
export async function repoLs(r: PgbackrestRunner, path: string, repo = 1): Promise<string[]> {
  const out = await pgbackrest(r, 'repo-ls', ['--output=json', `--repo=${repo}`], {
    params: [path],
    timeoutMs: 120_000,
    what: `listing ${path} in repo${repo}`,
  });
  return Object.keys(repoLsSchema.parse(JSON.parse(out || '{}'))).filter((k) => k !== '.');
}
