/** Promotion of a replica: `postgres-agent promote` run in the candidate's pod. */
import { parseAgentOutput, parseJson } from '../core/agent-output.js';
import type { Output } from '../core/output.js';
import { agentPromoteArgs } from '../core/cluster/agent-args.js';
import type { PromoteOptions, PromoteOutcome } from '../core/cluster/cluster-api.js';
import { OperationFailed, OpsError, UsageError } from '../core/errors.js';
import { promoteResultSchema } from '../core/ha/promote-result.js';
import { listMembers } from './members.js';
import type { KubeRelease } from './release.js';

/**
 * Runs `postgres-agent promote` in the candidate's pod: it checks the candidate, lifts its fence
 * when failover is manual, and asks Patroni for a switchover (or a failover when the primary is
 * gone). Patroni moves the leader Endpoints, so the read-write Service follows by itself.
 */
export async function promoteMember(
  rel: KubeRelease,
  candidate: string,
  opts: PromoteOptions,
  out: Output,
): Promise<PromoteOutcome> {
  const members = await listMembers(rel);
  const target = members.find((m) => m.name === candidate);
  if (!target)
    throw new UsageError(
      'E_NO_SUCH_MEMBER',
      `"${candidate}" is not a PostgreSQL pod of release ${rel.release}; nothing was changed`,
      { candidate },
      { hint: `Members: ${members.map((m) => m.name).join(', ') || '(none)'}` },
    );
  if (!target.running)
    throw new OperationFailed(
      'E_NOT_RUNNING',
      `${candidate} is not running; nothing was changed`,
      {},
      { hint: `kubectl describe pod -n ${rel.namespace} ${candidate}` },
    );
  const args = ['postgres-agent', ...agentPromoteArgs(candidate, opts), '-o', 'json'];
  // The agent waits up to 90 s for the new leader to take writes, after its own checks.
  const r = await rel.run(candidate, args, `promoting ${candidate}`, {
    onStderr: (s) => out.raw(s),
    timeoutMs: 240_000,
  });
  if (r.code !== 0) {
    const msg = /^error: (.*)$/m.exec(r.stderr)?.[1] ?? r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`;
    throw new OpsError(
      'E_PROMOTE',
      msg,
      r.code === 2 || r.code === 3 ? r.code : 1,
      { pod: candidate },
      {
        hint: /^hint: (.*)$/m.exec(r.stderr)?.[1],
      },
    );
  }
  const result = parseAgentOutput('promote', promoteResultSchema, parseJson(r.stdout));
  return {
    promoted: candidate,
    previousPrimary: result.previousPrimary,
    timeline: result.timeline,
    lsn: result.lsn,
    steps: result.promoted
      ? [`${result.action} from ${result.previousPrimary ?? '(no primary)'} to ${candidate}`]
      : [],
    next: [
      `postgres-ops status -n ${rel.namespace}     # the old primary rejoins as a replica by itself`,
      'Applications keep using the read-write Service (same name); restart connection pools that cache addresses.',
    ],
    action: result.action,
    missingBytes: result.missingBytes,
    warnings: result.warnings,
    message: result.message,
  };
}
