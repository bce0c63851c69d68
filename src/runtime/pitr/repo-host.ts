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
  const { config, log } = ctx;
  if (!config.pitr.repo1Path || !config.pitr.tlsDir || !config.pitr.pgHosts)
    throw new UsageError(
      'E_REPO_HOST_SETTINGS',
      'the repository host needs PGOPS_PGBACKREST_REPO1_PATH, PGOPS_PGBACKREST_TLS_DIR and PGOPS_PGBACKREST_PG_HOSTS',
      {},
      { hint: 'The chart sets them on the repository pod (databases.postgres.pitr.enabled).' },
    );
  const dir = join(config.instance.socketDir, 'pgops');
  mkdirSync(join(dir, 'pgbackrest-lock'), { recursive: true, mode: 0o700 });
  mkdirSync(config.pitr.repo1Path, { recursive: true, mode: 0o750 });
  const conf = join(dir, 'pgbackrest.conf');
  writePrivate(
    conf,
    pgbackrestConf(confInputs(config, ctx.rawEnv, 'repo-host', join(dir, 'pgbackrest-lock'))),
  );
  const runner = {
    configFile: conf,
    stanza: config.pitr.stanza,
    env: pgbackrestEnv(config, ctx.rawEnv),
  };
  const child = spawn('pgbackrest', [`--config=${conf}`, 'server'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...runner.env },
  });
  for (const s of [child.stdout, child.stderr])
    createInterface({ input: s }).on('line', (l) =>
      log.relay(l, /ERROR/.test(l) ? 'error' : 'info', 'pgbackrest'),
    );
  log.info(`pgBackRest TLS server started on port ${config.pitr.tlsPort}; repo1 in ${config.pitr.repo1Path}`);
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
        log.info(`stanza ${config.pitr.stanza} is ready`);
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
