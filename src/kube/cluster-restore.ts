/**
 * A whole-cluster point-in-time restore on Kubernetes, as the chart's restore Job and postgres-ops
 * run it: the target is checked in the repository pod first (outside the window: nothing changes);
 * then a request is written, every member stops, member 0 starts alone and its init container
 * restores on its own volume (src/runtime/pitr/restore-request.ts), the others start again and
 * re-clone, and a full backup starts the new window. Each step is read back from the request and
 * the StatefulSet, so running the same restore again resumes an interrupted one.
 */
import * as k8s from '@kubernetes/client-node';
import type { PitrRestoreOutcome } from '../core/cluster/cluster-api.js';
import { OperationFailed, UsageError } from '../core/errors.js';
import { restoreStamp, targetArgs, type ClusterRestoreRequest } from '../core/pitr/cluster-restore.js';
import { physicalBackupResultSchema, pitrRestoreResultSchema } from '../core/pitr/results.js';
import { describeTarget, type RecoveryTarget } from '../core/pitr/target.js';
import type { KubeClients } from './client.js';
import { kubeError } from './errors.js';
import { pendingReason } from './jobs.js';
import { runInRepoPod } from './repo-pod.js';
import { kubeRequestStore } from './restore-request.js';

export interface ClusterRestoreOptions {
  /** The members' StatefulSet; also Patroni's scope. */
  statefulSet: string;
  repoPod: string;
  target: RecoveryTarget;
  /** Asked once the target is checked, before anything changes. */
  confirm: (action: string) => Promise<void>;
  progress: (line: string) => void;
  /** Longest wait for any one step (members stopping, member 0 restoring, the others cloning). */
  stepTimeoutMs?: number;
  pollMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function restoreClusterOnKube(
  k: KubeClients,
  o: ClusterRestoreOptions,
): Promise<PitrRestoreOutcome> {
  const { namespace } = k;
  const sts = o.statefulSet;
  const pollMs = o.pollMs ?? 3_000;
  const stepMs = o.stepTimeoutMs ?? 6 * 3600_000;
  const store = kubeRequestStore(k.core, namespace, sts);
  const target = describeTarget(o.target);
  const api = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      throw kubeError(what, err);
    }
  };

  let req = await store.read();
  if (req && (req.phase === 'requested' || req.phase === 'restored')) {
    if (req.target !== target)
      throw new UsageError(
        'E_RESTORE_UNDER_WAY',
        `a restore of the whole cluster to ${req.target} (started ${req.requestedAt}) is under way; nothing was changed`,
        { id: req.id },
        {
          hint: `Finish it by running the same restore again (target ${req.target}), then restore to ${target}.`,
        },
      );
    o.progress(`resuming the restore to ${req.target} started ${req.requestedAt} (phase ${req.phase})`);
  } else {
    o.progress(`checking ${target} against the archive (in ${o.repoPod})…`);
    const plan = await runInRepoPod(
      { namespace, pod: o.repoPod, kc: k.kc, schema: pitrRestoreResultSchema },
      ['pitr-restore', '--plan', ...targetArgs(o.target)],
      (s) => o.progress(s.trimEnd()),
    );
    const set = await api(`reading StatefulSet ${sts}`, () =>
      k.apps.readNamespacedStatefulSet({ name: sts, namespace }),
    );
    const replicas = Math.max(1, set.spec?.replicas ?? 1);
    const first = `${sts}-0`;
    await o.confirm(
      `restore the whole cluster (StatefulSet ${sts}, ${replicas} member${replicas > 1 ? 's' : ''}) to ${plan.target} from physical backup ${plan.backup} (timeline ${plan.timeline}): every member stops; ${first} restores into a new directory beside its data and the others re-clone; every member's previous data is kept aside on its own volume`,
    );
    req = {
      id: restoreStamp(new Date()),
      targetArgs: targetArgs(o.target),
      target,
      first,
      replicas,
      requestedAt: new Date().toISOString(),
      phase: 'requested',
      result: plan,
      error: null,
      keptAside: {},
      fullBackup: null,
    };
    await store.write(req);
  }

  let cur: ClusterRestoreRequest = req;
  const scale = async (replicas: number) => {
    o.progress(`scaling StatefulSet ${sts} to ${replicas}`);
    await api(`scaling StatefulSet ${sts}`, () =>
      k.apps.patchNamespacedStatefulSetScale(
        { name: sts, namespace, body: { spec: { replicas } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      ),
    );
  };
  const members = async () => {
    const list = await api(`listing the pods of ${sts}`, () => k.core.listNamespacedPod({ namespace }));
    const own = new RegExp(`^${sts}-\\d+$`);
    return list.items.filter((p) => own.test(p.metadata?.name ?? ''));
  };
  const ready = (p: k8s.V1Pod) =>
    !p.metadata?.deletionTimestamp &&
    p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  const waitFor = async (
    what: string,
    done: () => Promise<boolean>,
    report?: () => Promise<string | undefined>,
  ) => {
    const deadline = Date.now() + stepMs;
    let last = '';
    while (!(await done())) {
      if (Date.now() > deadline)
        throw new OperationFailed(
          'E_CLUSTER_RESTORE_TIMEOUT',
          `${what} did not happen within ${Math.round(stepMs / 60_000)} min`,
          { statefulSet: sts },
          {
            hint: `See the pods (kubectl get pods -n ${namespace}; kubectl logs -n ${namespace} ${sts}-0 -c restore-request); running the same restore again resumes it.`,
          },
        );
      const now = report ? await report() : undefined;
      if (now && now !== last) o.progress(now);
      last = now ?? last;
      await sleep(pollMs);
    }
  };

  if (cur.phase === 'requested') {
    const current = await members();
    if (current.length) {
      await scale(0);
      await waitFor(`every member of ${sts} stopping`, async () => (await members()).length === 0);
    }
    await scale(1);
    o.progress(
      `${cur.first} restores ${cur.target} before it starts (its log: kubectl logs -n ${namespace} ${cur.first} -c restore-request -f)`,
    );
    await waitFor(
      `${cur.first} restoring`,
      async () => {
        cur = (await store.read()) ?? cur;
        return cur.phase !== 'requested';
      },
      async () => {
        const pod = (await members()).find((p) => p.metadata?.name === cur.first);
        if (!pod) return `${cur.first}: not created yet`;
        const init = pod.status?.initContainerStatuses?.find((c) => c.name === 'restore-request');
        if (init?.state?.running) return `${cur.first}: restoring`;
        return `${cur.first}: ${pendingReason(pod, 'restore-request')}`;
      },
    );
  }
  if (cur.phase === 'failed') {
    await scale(cur.replicas);
    throw new OperationFailed(
      'E_CLUSTER_RESTORE',
      `${cur.first} could not restore ${cur.target}: ${cur.error ?? 'see its log'}. Nothing was replaced: the members start again on their previous data`,
      { id: cur.id },
      {
        hint: `kubectl logs -n ${namespace} ${cur.first} -c restore-request --previous; fix the cause and run the restore again.`,
      },
    );
  }
  const warnings: string[] = [];
  if (cur.phase === 'restored') {
    await waitFor(`${cur.first} leading the restored cluster`, async () =>
      (await members()).some((p) => p.metadata?.name === cur.first && ready(p)),
    );
    if (cur.replicas > 1) {
      await scale(cur.replicas);
      await waitFor(
        `${cur.replicas} members ready`,
        async () => (await members()).filter(ready).length >= cur.replicas,
        async () =>
          `${(await members()).filter(ready).length} of ${cur.replicas} members ready (the others re-clone)`,
      ).catch((err: Error) => warnings.push(`${err.message}: they keep cloning; check postgres-ops status`));
    }
    o.progress(
      'taking a full physical backup of the new timeline (the recoverability window restarts there)…',
    );
    let fullBackup: string | null = null;
    try {
      const b = await runInRepoPod(
        { namespace, pod: o.repoPod, kc: k.kc, schema: physicalBackupResultSchema },
        ['physical-backup', '--type', 'full'],
        (s) => o.progress(s.trimEnd()),
      );
      fullBackup = b.outcomes.find((x) => x.backup)?.backup?.label ?? null;
    } catch (err) {
      warnings.push(
        `the full backup after the restore failed: ${(err as Error).message}; take one now: postgres-ops backup --physical --type full`,
      );
    }
    cur = (await store.update((cur) => ({ ...cur, phase: 'done', fullBackup }))) ?? cur;
  }
  return outcome(cur, namespace, warnings);
}

function outcome(req: ClusterRestoreRequest, namespace: string, warnings: string[]): PitrRestoreOutcome {
  const r = req.result;
  const aside = Object.entries(req.keptAside).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  return {
    target: req.target,
    backup: r?.backup ?? '',
    timeline: r?.timeline ?? 0,
    targetTimeline: r?.targetTimeline ?? 'current',
    recoveredTo: r?.recoveredTo ?? null,
    recoveredLsn: r?.recoveredLsn ?? null,
    newTimeline: r?.newTimeline ?? null,
    keptAside: aside.map(([pod, dir]) => `${pod}:${dir}`),
    fullBackup: req.fullBackup ?? null,
    next: [
      `postgres-ops status -n ${namespace}`,
      ...aside.map(
        ([pod, dir]) =>
          `kubectl exec -n ${namespace} ${pod} -c postgres -- rm -rf ${dir}     # when satisfied: drop the previous data`,
      ),
    ],
    warnings,
  };
}
