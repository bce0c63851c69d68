/** The cluster as this member's Patroni sees it (what `postgres-agent ha` prints). */
import type { AgentConfig } from '../../core/config/schema.js';
import { OperationFailed } from '../../core/errors.js';
import { haView, type HaView } from '../../core/ha/view.js';
import { withHaFile } from '../instance/patroni-inputs.js';
import { PatroniApi } from './patroni-api.js';

export async function readHaView(config: Pick<AgentConfig, 'ha'>): Promise<HaView> {
  const api = new PatroniApi(`http://127.0.0.1:${config.ha.restApiPort}`);
  try {
    const [cluster, dynamic] = await Promise.all([api.cluster(), api.config().catch(() => ({}))]);
    return haView(cluster, dynamic, withHaFile(config).ha.failover);
  } catch (err) {
    throw new OperationFailed(
      'E_PATRONI_UNREACHABLE',
      `Patroni on this member does not answer: ${(err as Error).message}`,
      {},
      { hint: 'Run this in a member container while postgres-agent instance runs.' },
    );
  }
}
