import type { OutputFormat } from '../../core/output.js';
import { renderTable } from '../../core/output.js';
import type { HaView } from '../../core/ha/view.js';
import { readHaView } from '../../runtime/ha/view.js';
import type { AgentContext } from '../context.js';

/** Who leads, each member's state and lag, the failover mode and the synchronous standby. */
export async function ha(opts: { output?: OutputFormat }, ctx: AgentContext): Promise<HaView> {
  const view = await readHaView(ctx.config);
  ctx.out.result(view, opts.output ?? 'table', (v) =>
    [
      `failover: ${v.failover}   synchronous: ${v.synchronous ? `on (standby: ${v.synchronousStandby.join(', ') || 'none'})` : 'off'}`,
      renderTable(
        ['MEMBER', 'ROLE', 'STATE', 'TIMELINE', 'LAG BYTES', 'PENDING RESTART'],
        v.members.map((m) => [
          m.name,
          m.role,
          m.patroniState,
          String(m.timeline ?? ''),
          String(m.lagBytes ?? ''),
          m.pendingRestart ? 'yes' : '',
        ]),
      ),
    ].join('\n'),
  );
  return view;
}
