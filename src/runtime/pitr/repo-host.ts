/**
 * The repository pod on Kubernetes (postgres-agent repo-host). It holds repo1 on its own volume,
 * runs pgBackRest's TLS server (the members push WAL to it and fetch WAL from it), creates the
 * stanza once the primary answers, and is where physical backups and drills run (2.45 backs up
 * only where the repository is local).
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { UsageError } from '../../core/errors.js';
import { pgbackrestConf } from '../../core/pitr/conf.js';
import { confInputs, pgbackrestEnv, writePrivate, type PitrJobContext } from './config.js';
import { pgbackrest, stanzaCreate } from './pgbackrest.js';

/** Runs the TLS server until SIGTERM or SIGINT; the stanza is created in the background. */
export async function runRepoHost(ctx: PitrJobContext): Promise<void> {
  const { env, log } = ctx;
  if (!env.PGOPS_PGBACKREST_REPO1_PATH || !env.PGOPS_PGBACKREST_TLS_DIR || !env.PGOPS_PGBACKREST_PG_HOSTS)
    throw new UsageError(
      'E_REPO_HOST_SETTINGS',
      'the repository host needs PGOPS_PGBACKREST_REPO1_PATH, PGOPS_PGBACKREST_TLS_DIR and PGOPS_PGBACKREST_PG_HOSTS',
      {},
      { hint: 'The chart sets them on the repository pod (databases.postgres.pitr.enabled).' },
    );
  const dir = join(env.PGOPS_SOCKET_DIR, 'pgops');
  mkdirSync(join(dir, 'pgbackrest-lock'), { recursive: true, mode: 0o700 });
  mkdirSync(env.PGOPS_PGBACKREST_REPO1_PATH, { recursive: true, mode: 0o750 });
  const conf = join(dir, 'pgbackrest.conf');
  writePrivate(conf, pgbackrestConf(confInputs(env, ctx.rawEnv, 'repo-host', join(dir, 'pgbackrest-lock'))));
  const runner = {
    configFile: conf,
    stanza: env.PGOPS_PGBACKREST_STANZA,
    env: pgbackrestEnv(env, ctx.rawEnv),
  };
  const child = spawn('pgbackrest', [`--config=${conf}`, 'server'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...runner.env },
  });
  for (const s of [child.stdout, child.stderr])
    createInterface({ input: s }).on('line', (l) =>
      log.relay(l, /ERROR/.test(l) ? 'error' : 'info', 'pgbackrest'),
    );
  log.info(
    `pgBackRest TLS server started on port ${env.PGOPS_PGBACKREST_TLS_PORT}; repo1 in ${env.PGOPS_PGBACKREST_REPO1_PATH}`,
  );
  let stopping = false;
  const stop = () => {
    stopping = true;
    child.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const exited = new Promise<number>((r) => child.on('close', (code) => r(code ?? 1)));
  // The stanza, as soon as a primary answers: until it exists no WAL is archived.
  void (async () => {
    for (let attempt = 0; !stopping; attempt++) {
      try {
        await stanzaCreate(runner);
        log.info(`stanza ${env.PGOPS_PGBACKREST_STANZA} is ready`);
        await pgbackrest(runner, 'check', [], { timeoutMs: 180_000 }).then(
          () => log.info('pgbackrest check passed: the members archive into every repository'),
          (err: Error) => log.error(err.message),
        );
        return;
      } catch (err) {
        if (attempt % 10 === 0)
          log.warn(`stanza not created yet (the primary may still be starting): ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 15_000));
      }
    }
  })();
  const code = await exited;
  if (!stopping) throw new UsageError('E_PGBACKREST_SERVER', `pgbackrest server exited with code ${code}`);
}
