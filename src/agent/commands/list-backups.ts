import { OperationFailed } from '../../core/errors.js';
import type { AgentContext } from '../context.js';

/** Placeholder until this command is built. */
export async function listBackups(_opts: Record<string, unknown>, ctx: AgentContext): Promise<void> {
  void ctx;
  throw new OperationFailed('E_NOT_IMPLEMENTED', 'postgres-agent list-backups is not implemented yet');
}
