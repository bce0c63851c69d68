import { MemberSupervisor } from '../../runtime/instance/member.js';
import type { AgentContext } from '../context.js';

/**
 * The member's entry point in every database pod (and each local-mode member): PostgreSQL under
 * Patroni, with the agent's probes, full-disk reporting and healing on top. Exits 0 after a clean
 * shutdown on SIGTERM.
 */
export async function instance(ctx: AgentContext): Promise<void> {
  // A full disk under the log file must not end the member: a failed log write is dropped.
  process.stderr.on('error', () => undefined);
  process.stdout.on('error', () => undefined);
  const member = new MemberSupervisor(ctx.config, ctx.log);
  const code = await member.run();
  if (code !== 0) process.exitCode = code;
}
