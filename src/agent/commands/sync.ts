/**
 * postgres-agent sync: copies verified backups to the configured object store, then remote
 * retention (src/runtime/sync/run.ts).
 */
import { openObjectStore, storeConfigFrom } from '../../runtime/objectstore/index.js';
import { runSync, type SyncOptions, type SyncResult } from '../../runtime/sync/run.js';
import type { AgentContext } from '../context.js';

export async function sync(opts: SyncOptions, ctx: AgentContext): Promise<SyncResult> {
  const log = ctx.log.child({ command: 'sync' });
  const store = await openObjectStore(storeConfigFrom(ctx.config, ctx.rawEnv), { log });
  return runSync(opts, ctx.config, { store, log, out: ctx.out, now: () => new Date() });
}
