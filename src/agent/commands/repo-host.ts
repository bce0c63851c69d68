/**
 * postgres-agent repo-host: the repository pod on Kubernetes. It holds repo1 on its own volume,
 * runs pgBackRest's TLS server (the members push WAL to it and fetch WAL from it), creates the
 * stanza once the primary answers, and is where physical backups and drills run (2.45 backs up
 * only where the repository is local); the CronJobs reach it with `scheduled`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { pgbackrestConf } from '../../core/pitr/conf.js';
import { drillResultSchema, physicalBackupResultSchema } from '../../core/pitr/results.js';
import { confInputs, pgbackrestEnv, writePrivate } from '../../runtime/pitr/config.js';
import { pgbackrest, stanzaCreate } from '../../runtime/pitr/pgbackrest.js';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { AgentContext } from '../context.js';
import { requirePitr } from './physical.js';
import { runInRepoPod } from '../../kube/repo-pod.js';
import type { OutputFormat } from '../../core/output.js';

export async function repoHost(ctx: AgentContext): Promise<void> {
  requirePitr(ctx, 'the repository host');
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
  for (const s of [child.stdout!, child.stderr!])
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

/** postgres-agent scheduled physical-backup|drill: what a CronJob runs, in the repository pod. */
export async function scheduled(
  what: string,
  opts: { type?: string; output?: OutputFormat },
  ctx: AgentContext,
): Promise<unknown> {
  if (what !== 'physical-backup' && what !== 'drill')
    throw new UsageError('E_USAGE', `scheduled runs physical-backup or drill, not "${what}"`);
  if (!ctx.env.PGOPS_PGBACKREST_REPO_POD)
    throw new UsageError(
      'E_USAGE',
      'PGOPS_PGBACKREST_REPO_POD names no repository pod',
      {},
      {
        hint: 'The chart sets it on the physical backup and drill CronJobs.',
      },
    );
  const args = what === 'drill' ? ['drill'] : ['physical-backup', '--type', opts.type ?? 'full'];
  const r = await runInRepoPod(
    {
      namespace: ctx.env.PGOPS_NAMESPACE,
      pod: ctx.env.PGOPS_PGBACKREST_REPO_POD,
      schema: what === 'drill' ? drillResultSchema : physicalBackupResultSchema,
    },
    args,
    (s) => process.stderr.write(s),
  );
  ctx.out.result(r, opts.output ?? 'table', (x) => JSON.stringify(x, null, 2));
  return r;
}
