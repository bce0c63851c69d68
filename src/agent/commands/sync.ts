import { OperationFailed } from '../../core/errors.js';
import type { AgentContext } from '../context.js';

/** Placeholder until this command is built. */
export async function sync(_opts: Record<string, unknown>, ctx: AgentContext): Promise<void> {
  void ctx;
  throw new OperationFailed('E_NOT_IMPLEMENTED', 'postgres-agent sync is not implemented yet');
}
