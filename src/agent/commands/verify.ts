import { OperationFailed } from '../../core/errors.js';
import type { AgentContext } from '../context.js';

/** Placeholder until this command is built. */
export async function verify(
  _file: string | undefined,
  _opts: Record<string, unknown>,
  ctx: AgentContext,
): Promise<void> {
  void ctx;
  throw new OperationFailed('E_NOT_IMPLEMENTED', 'postgres-agent verify is not implemented yet');
}
