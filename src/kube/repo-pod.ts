/**
 * The repository pod (`<release>-postgres-repo-0`): pgBackRest 2.45 backs up and expires only where
 * a repository is local, so physical backups and drills run there, by exec, as Crunchy's Jobs do.
 * Used by the scheduled CronJobs (in-cluster account allowed exactly this pod's exec) and by
 * postgres-ops.
 */
import type * as k8s from '@kubernetes/client-node';
import type { z } from 'zod';
import { parseAgentOutput } from '../core/agent-output.js';
import { OperationFailed, OpsError } from '../core/errors.js';
import { kubeClients } from './client.js';
import { execInPod } from './exec.js';

export const REPO_CONTAINER = 'repo';

/** Runs `postgres-agent <args> -o json` in the repository pod; returns its JSON as `opts.schema` reads it, or throws its error. */
export async function runInRepoPod<S extends z.ZodType>(
  opts: { namespace: string; pod: string; kc?: k8s.KubeConfig; schema: S },
  args: string[],
  onStderr?: (s: string) => void,
  timeoutMs = 6 * 3600_000,
): Promise<z.output<S>> {
  const kc = opts.kc ?? kubeClients({ namespace: opts.namespace }).kc;
  const r = await execInPod(
    kc,
    opts.namespace,
    opts.pod,
    REPO_CONTAINER,
    ['postgres-agent', ...args, '-o', 'json'],
    {
      onStderr,
      timeoutMs,
    },
  );
  if (r.code !== 0) {
    const msg = /^error: (.*)$/m.exec(r.stderr)?.[1] ?? r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`;
    throw new OpsError(
      'E_REPO_POD',
      `postgres-agent ${args[0]} in pod ${opts.pod}: ${msg}`,
      r.code === 2 || r.code === 3 ? r.code : 1,
      { pod: opts.pod },
      { hint: /^hint: (.*)$/m.exec(r.stderr)?.[1] ?? `kubectl logs -n ${opts.namespace} ${opts.pod}` },
    );
  }
  let printed: unknown;
  try {
    printed = JSON.parse(r.stdout);
  } catch {
    throw new OperationFailed(
      'E_REPO_POD',
      `postgres-agent ${args[0]} in pod ${opts.pod} printed no result`,
      {},
    );
  }
  return parseAgentOutput(args[0]!, opts.schema, printed);
}
