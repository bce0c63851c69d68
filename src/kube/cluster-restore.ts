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
import { restoreStamp, type ClusterRestoreRequest } from '../core/pitr/cluster-restore.js';
import {
  fullBackupFailed,
  physicalBackupResultSchema,
  pitrRestoreResultSchema,
} from '../core/pitr/results.js';
import { describeTarget, targetArgs, targetFlags, type RecoveryTarget } from '../core/pitr/target.js';
import type { KubeClients } from './client.js';
import { kubeError } from './errors.js';
import { pendingReason } from './jobs.js';
import { runInRepoPod } from './repo-pod.js';
import { kubeRequestStore, type RequestStore } from './restore-request.js';

export interface ClusterRestoreOptions {
  /** The members' StatefulSet; also Patroni's scope. */
  statefulSet: string;
  repoPod: string;
  target: RecoveryTarget;
  /** Asked once the target is checked, before anything changes. */
  confirm: (action: string) => Promise<void>;
  progress: (line: string) => void;
  /** --dry-run: an unfinished request is described to `confirm` (which stops), not resumed. */
  dryRun?: boolean;
  /** Longest wait for any one step (members stopping, member 0 restoring, the others cloning). */
  stepTimeoutMs?: number;
  pollMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ready = (p: k8s.V1Pod) =>
  !p.metadata?.deletionTimestamp &&
  (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false);

export async function restoreClusterOnKube(
  k: KubeClients,
  o: ClusterRestoreOptions,
): Promise<PitrRestoreOutcome> {
  return new ClusterRestore(k, o).run();
}

class ClusterRestore {
  private readonly sts: string;
  private readonly ns: string;
  private readonly store: RequestStore;
  private readonly warnings: string[] = [];
  /** The members' pods, by the StatefulSet's own selector (read once). */
  private selector = '';

  constructor(
    private readonly k: KubeClients,
    private readonly o: ClusterRestoreOptions,
  ) {
    this.sts = o.statefulSet;
    this.ns = k.namespace;
    this.store = kubeRequestStore(k.core, k.namespace, o.statefulSet);
  }

  async run(): Promise<PitrRestoreOutcome> {
    const set = await this.api(`reading StatefulSet ${this.sts}`, () =>
      this.k.apps.readNamespacedStatefulSet({ name: this.sts, namespace: this.ns }),
    );
    this.selector = Object.entries(set.spec?.selector?.matchLabels ?? {})
      .map(([key, v]) => `${key}=${v}`)
      .join(',');
    const unfinished = await this.resumable();
    if (unfinished && this.o.dryRun)
      await this.o.confirm(
        `resume the restore of the whole cluster to ${unfinished.target} started ${unfinished.requestedAt} (phase ${unfinished.phase})`,
      );
    let req = unfinished ?? (await this.request(Math.max(1, set.spec?.replicas ?? 1)));
    if (req.phase === 'requested') req = await this.restoreOnMemberZero(req);
    if (req.phase === 'failed') {
      await this.scale(req.replicas);
      throw new OperationFailed(
        'E_CLUSTER_RESTORE',
        `${req.first} could not restore ${req.target}: ${req.error ?? 'see its log'}. Nothing was replaced: the members start again on their previous data`,
        { id: req.id },
        {
          hint: `kubectl logs -n ${this.ns} ${req.first} -c restore-request --previous; fix the cause and run the restore again.`,
        },
      );
    }
    if (req.phase === 'restored') req = await this.bringBack(req);
    return this.outcome(req);
  }

  /** An unfinished request for the same target, to resume; another target's is refused. */
  private async resumable(): Promise<ClusterRestoreRequest | undefined> {
    const req = await this.store.read();
    if (!req || req.phase === 'done' || req.phase === 'failed') return undefined;
    const target = describeTarget(this.o.target);
    if (req.target !== target)
      throw new UsageError(
        'E_RESTORE_UNDER_WAY',
        `a restore of the whole cluster to ${req.target} (started ${req.requestedAt}) is under way; nothing was changed`,
        { id: req.id },
        {
          hint: `Finish it by running the same restore again (target ${req.target}), then restore to ${target}.`,
        },
      );
    this.o.progress(`resuming the restore to ${req.target} started ${req.requestedAt} (phase ${req.phase})`);
    return req;
  }

  /** Plans in the repository pod (refusals change nothing), asks, and writes the request. */
  private async request(replicas: number): Promise<ClusterRestoreRequest> {
    const { target } = this.o;
    this.o.progress(`checking ${describeTarget(target)} against the archive (in ${this.o.repoPod})…`);
    const plan = await runInRepoPod(
      { namespace: this.ns, pod: this.o.repoPod, kc: this.k.kc, schema: pitrRestoreResultSchema },
      ['pitr-restore', '--plan', ...targetArgs(target)],
      (s) => this.o.progress(s.trimEnd()),
    );
    const first = `${this.sts}-0`;
    await this.o.confirm(
      `restore the whole cluster (StatefulSet ${this.sts}, ${replicas} member${replicas > 1 ? 's' : ''}) to ${plan.target} from physical backup ${plan.backup} (timeline ${plan.timeline}): every member stops; ${first} restores into a new directory beside its data and the others re-clone; every member's previous data is kept aside on its own volume`,
    );
    const req: ClusterRestoreRequest = {
      id: restoreStamp(new Date()),
      targetFlags: targetFlags(target),
      target: describeTarget(target),
      first,
      replicas,
      requestedAt: new Date().toISOString(),
      phase: 'requested',
      result: plan,
      error: null,
      keptAside: {},
      fullBackup: null,
    };
    await this.store.write(req);
    return req;
  }

  /** Every member stops; member 0 starts alone and its init container restores. */
  private async restoreOnMemberZero(req: ClusterRestoreRequest): Promise<ClusterRestoreRequest> {
    if ((await this.members()).length) {
      await this.scale(0);
      await this.waitFor(
        `every member of ${this.sts} stopping`,
        async () => (await this.members()).length === 0,
      );
    }
    await this.scale(1);
    this.o.progress(
      `${req.first} restores ${req.target} before it starts (its log: kubectl logs -n ${this.ns} ${req.first} -c restore-request -f)`,
    );
    let cur = req;
    await this.waitFor(
      `${req.first} restoring`,
      async () => {
        cur = (await this.store.read()) ?? cur;
        return cur.phase !== 'requested';
      },
      async () => {
        const pod = (await this.members()).find((p) => p.metadata?.name === req.first);
        if (!pod) return `${req.first}: not created yet`;
        const init = pod.status?.initContainerStatuses?.find((c) => c.name === 'restore-request');
        return `${req.first}: ${init?.state?.running ? 'restoring' : pendingReason(pod, 'restore-request')}`;
      },
    );
    return cur;
  }

  /** Member 0 leads; the others come back and re-clone; a full backup starts the new window. */
  private async bringBack(req: ClusterRestoreRequest): Promise<ClusterRestoreRequest> {
    await this.waitFor(`${req.first} leading the restored cluster`, async () =>
      (await this.members()).some((p) => p.metadata?.name === req.first && ready(p)),
    );
    if (req.replicas > 1) {
      await this.scale(req.replicas);
      const readyCount = async () => (await this.members()).filter(ready).length;
      await this.waitFor(
        `${req.replicas} members ready`,
        async () => (await readyCount()) >= req.replicas,
        async () => `${await readyCount()} of ${req.replicas} members ready (the others re-clone)`,
      ).catch((err: Error) =>
        this.warnings.push(`${err.message}: they keep cloning; check postgres-ops status`),
      );
    }
    this.o.progress(
      'taking a full physical backup of the new timeline (the recoverability window restarts there)…',
    );
    let fullBackup: string | null = null;
    try {
      const b = await runInRepoPod(
        { namespace: this.ns, pod: this.o.repoPod, kc: this.k.kc, schema: physicalBackupResultSchema },
        ['physical-backup', '--type', 'full'],
        (s) => this.o.progress(s.trimEnd()),
      );
      fullBackup = b.outcomes.find((x) => x.backup)?.backup?.label ?? null;
    } catch (err) {
      this.warnings.push(fullBackupFailed(err));
    }
    return (await this.store.update((cur) => ({ ...cur, phase: 'done', fullBackup }))) ?? req;
  }

  private async api<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw kubeError(what, err);
    }
  }

  private async scale(replicas: number): Promise<void> {
    this.o.progress(`scaling StatefulSet ${this.sts} to ${replicas}`);
    await this.api(`scaling StatefulSet ${this.sts}`, () =>
      this.k.apps.patchNamespacedStatefulSetScale(
        { name: this.sts, namespace: this.ns, body: { spec: { replicas } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      ),
    );
  }

  private async members(): Promise<k8s.V1Pod[]> {
    const list = await this.api(`listing the pods of ${this.sts}`, () =>
      this.k.core.listNamespacedPod({ namespace: this.ns, labelSelector: this.selector || undefined }),
    );
    const own = new RegExp(`^${this.sts}-\\d+$`);
    return list.items.filter((p) => own.test(p.metadata?.name ?? ''));
  }

  /** Polls `done` up to the step timeout, printing `report` whenever it changes. */
  private async waitFor(
    what: string,
    done: () => Promise<boolean>,
    report?: () => Promise<string>,
  ): Promise<void> {
    const stepMs = this.o.stepTimeoutMs ?? 6 * 3600_000;
    const deadline = Date.now() + stepMs;
    let last = '';
    while (!(await done())) {
      if (Date.now() > deadline)
        throw new OperationFailed(
          'E_CLUSTER_RESTORE_TIMEOUT',
          `${what} did not happen within ${Math.round(stepMs / 60_000)} min`,
          { statefulSet: this.sts },
          {
            hint: `See the pods (kubectl get pods -n ${this.ns}; kubectl logs -n ${this.ns} ${this.sts}-0 -c restore-request); running the same restore again resumes it.`,
          },
        );
      const now = report ? await report() : '';
      if (now && now !== last) this.o.progress(now);
      last = now || last;
      await sleep(this.o.pollMs ?? 3_000);
    }
  }

  private outcome(req: ClusterRestoreRequest): PitrRestoreOutcome {
    const r = req.result;
    const aside = Object.entries(req.keptAside).sort(([a], [b]) =>
      a.localeCompare(b, 'en', { numeric: true }),
    );
    return {
      target: req.target,
      backup: r.backup,
      timeline: r.timeline,
      targetTimeline: r.targetTimeline,
      recoveredTo: r.recoveredTo,
      recoveredLsn: r.recoveredLsn,
      newTimeline: r.newTimeline,
      keptAside: aside.map(([pod, dir]) => `${pod}:${dir}`),
      fullBackup: req.fullBackup ?? null,
      next: [
        `postgres-ops status -n ${this.ns}`,
        ...aside.map(
          ([pod, dir]) =>
            `kubectl exec -n ${this.ns} ${pod} -c postgres -- rm -rf ${dir}     # when satisfied: drop the previous data`,
        ),
      ],
      warnings: this.warnings,
    };
  }
}
