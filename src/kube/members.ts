/**
 * What the release's members are and what they say: the pods (role, running, address), SQL run
 * with `psql` inside a member, and Patroni's view asked of the agent.
 */
import type * as k8s from '@kubernetes/client-node';
import { jsonRowsSchema, parseAgentOutput, parseJson } from '../core/agent-output.js';
import type { HaView, Member, Row } from '../core/cluster/cluster-api.js';
import { asJsonRows } from '../core/cluster/sql.js';
import { OperationFailed } from '../core/errors.js';
import { haViewSchema } from '../core/ha/view.js';
import { opsDatabaseConninfo, toUri } from '../core/pg/conninfo.js';
import { CONTAINER, type KubeRelease, ROLE_LABEL } from './release.js';

async function listPods(rel: KubeRelease): Promise<k8s.V1Pod[]> {
  const list = await rel.api('listing PostgreSQL pods', () =>
    rel.k.core.listNamespacedPod({ namespace: rel.namespace, labelSelector: rel.selector() }),
  );
  return list.items;
}

export async function listMembers(rel: KubeRelease): Promise<Member[]> {
  const pods = await listPods(rel);
  return pods
    .map((p): Member => {
      const name = p.metadata?.name ?? '?';
      const status = p.status?.containerStatuses?.find((c) => c.name === CONTAINER);
      const sts = p.metadata?.ownerReferences?.find((o) => o.kind === 'StatefulSet')?.name ?? rel.fullname;
      return {
        name,
        // Patroni labels the leader's pod (3.0: "master"); before Patroni the chart's own label said "primary".
        expectedRole: ['master', 'primary'].includes(p.metadata?.labels?.[ROLE_LABEL] ?? '')
          ? 'primary'
          : 'replica',
        running: p.status?.phase === 'Running' && !!status?.state?.running,
        restarts: status?.restartCount ?? null,
        // In-cluster address of the pod (its StatefulSet's headless Service); the password stays in the Secret.
        uri: toUri({
          host: `${name}.${sts}-hl.${rel.namespace}.svc`,
          port: 5432,
          user: 'postgres',
          database: 'postgres',
        }),
      };
    })
    .sort(
      (a, b) =>
        Number(a.expectedRole !== 'primary') - Number(b.expectedRole !== 'primary') ||
        a.name.localeCompare(b.name),
    );
}

export async function queryMember(
  rel: KubeRelease,
  member: string,
  sql: string,
  database = 'postgres',
): Promise<Row[]> {
  const r = await rel.run(
    member,
    [
      'psql',
      '-U',
      'postgres',
      '-d',
      opsDatabaseConninfo(database),
      '-X',
      '-q',
      '-A',
      '-t',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      asJsonRows(sql),
    ],
    `querying ${member}`,
  );
  if (r.code !== 0)
    throw new OperationFailed('E_QUERY', `psql in ${member} failed: ${r.stderr.trim().split('\n').pop()}`, {
      pod: member,
    });
  const rows = jsonRowsSchema.safeParse(parseJson(r.stdout.trim() || '[]'));
  if (!rows.success)
    throw new OperationFailed('E_QUERY', `psql in ${member} printed no JSON rows`, { pod: member });
  return rows.data;
}

/** Patroni's view, asked of the agent in any running member. */
export async function haView(rel: KubeRelease): Promise<HaView | null> {
  const members = await listMembers(rel);
  for (const m of members.filter((x) => x.running)) {
    const r = await rel
      .run(m.name, ['postgres-agent', 'ha', '-o', 'json'], `asking ${m.name} for the cluster`, {
        timeoutMs: 30_000,
      })
      .catch(() => undefined);
    if (r?.code === 0) return parseAgentOutput('ha', haViewSchema, parseJson(r.stdout));
  }
  return null;
}
