/**
 * ClusterApi over the Kubernetes API, for a Helm release of the chart. Thin on purpose: it finds
 * objects by the chart's names and labels, runs agent commands in Jobs made from the chart's
 * CronJobs (what `kubectl create job --from=cronjob/...` does), and runs `psql` / `postgres-agent`
 * inside pods. Everything above it is tested for real against the local implementation.
 */
import * as k8s from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Writable } from 'node:stream';
import { OperationFailed, UsageError } from '../core/errors.js';
import type { Output } from '../core/output.js';
import { toUri } from '../core/pg/conninfo.js';
import type {
  BackupEntry,
  BackupRequest,
  ClusterApi,
  Member,
  PromoteOutcome,
  RestoreRequest,
  Row,
  SnapshotEntry,
  VolumeUsage,
} from '../ops/cluster-api.js';
import { agentBackupArgs, agentRestoreArgs, agentVerifyArgs } from '../ops/agent-args.js';
import { asJsonRows } from '../ops/sql.js';
import { type KubeClients, kubeClients } from './client.js';
import { listSnapshots as listReleaseSnapshots } from '../core/snapshot/list.js';
import { isNotFound, kubeError, noKubeconfig } from './errors.js';
import { execInPod } from './exec.js';
import { volumeSnapshotApi } from './volume-snapshots.js';

export const ROLE_LABEL = 'pyairtable-stack/role';
const COMPONENTS = 'app.kubernetes.io/component in (postgres-primary,postgres-replica)';
const CONTAINER = 'postgres';
const DATA_MOUNT = '/var/lib/postgresql/data';
export const BACKUP_DIR = '/backups/postgres';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** "10Gi" -> bytes. */
export function parseQuantity(q: string | undefined): number | null {
  if (!q) return null;
  const m = /^([0-9.]+)([KMGTPE]i?|k|m)?$/.exec(q.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2] ?? '';
  const pow: Record<string, number> = {
    '': 1,
    k: 1e3,
    K: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18,
    m: 1e-3,
  };
  const bin: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60,
  };
  return Math.round(n * (bin[unit] ?? pow[unit] ?? 1));
}

/** A Job name from a prefix and a person's name for the run (DNS label, <= 63, unique). */
export function jobName(prefix: string, name: string | undefined): string {
  const clean = (name ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  const suffix = randomBytes(3).toString('hex');
  const base = clean ? `${prefix}-${clean}` : prefix;
  return `${base.slice(0, 63 - suffix.length - 1).replace(/-+$/, '')}-${suffix}`;
}

export interface KubeOptions {
  context?: string;
  namespace?: string;
  release: string;
}

export class KubeCluster implements ClusterApi {
  readonly mode = 'kubernetes' as const;
  readonly release: string;
  readonly namespace: string;
  private readonly k: KubeClients;
  private readonly server: string | undefined;

  private constructor(k: KubeClients, release: string) {
    this.k = k;
    this.release = release;
    this.namespace = k.namespace;
    this.server = k.kc.getCurrentCluster()?.server;
  }

  /** Connects and checks that the release exists (listing the ones that do when it does not). */
  static async connect(opts: KubeOptions): Promise<KubeCluster> {
    let k: KubeClients;
    try {
      k = kubeClients({ context: opts.context, namespace: opts.namespace });
    } catch (err) {
      const msg = (err as Error).message;
      throw noKubeconfig(
        /No active cluster/.test(msg)
          ? opts.context
            ? `context "${opts.context}" not found in the kubeconfig`
            : 'the kubeconfig names no current cluster'
          : /Cannot read prop|undefined/.test(msg)
            ? `${process.env.KUBECONFIG ?? '~/.kube/config'} is empty or not a kubeconfig`
            : msg,
      );
    }
    if (!k.kc.getCurrentCluster()) throw noKubeconfig('the kubeconfig names no current cluster');
    // Without any kubeconfig the client falls back to http://localhost:8080: say so instead.
    const kubeconfig = process.env.KUBECONFIG ?? join(homedir(), '.kube', 'config');
    if (!process.env.KUBERNETES_SERVICE_HOST && !kubeconfig.split(delimiter).some((f) => f && existsSync(f)))
      throw noKubeconfig(`no kubeconfig at ${kubeconfig}`);
    const c = new KubeCluster(k, opts.release);
    await c.checkRelease();
    return c;
  }

  private async api<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw kubeError(what, err, this.server);
    }
  }

  get fullname() {
    return `${this.release}-postgres`.slice(0, 63).replace(/-+$/, '');
  }

  private selector(extra?: string) {
    return [`app.kubernetes.io/instance=${this.release}`, COMPONENTS, ...(extra ? [extra] : [])].join(',');
  }

  async checkRelease(): Promise<void> {
    const sets = await this.api(`looking for release ${this.release} in namespace ${this.namespace}`, () =>
      this.k.apps.listNamespacedStatefulSet({ namespace: this.namespace, labelSelector: this.selector() }),
    );
    if (sets.items.length > 0) return;
    const all = await this.api('listing pyairtable-stack releases', () =>
      this.k.apps.listStatefulSetForAllNamespaces({
        labelSelector: `app.kubernetes.io/part-of=pyairtable-stack,${COMPONENTS}`,
      }),
    ).catch(() => ({ items: [] as k8s.V1StatefulSet[] }));
    const found = [
      ...new Set(
        all.items.map(
          (s) =>
            `${s.metadata?.labels?.['app.kubernetes.io/instance'] ?? '?'} (namespace ${s.metadata?.namespace})`,
        ),
      ),
    ];
    throw new UsageError(
      'E_NO_RELEASE',
      `release "${this.release}" has no PostgreSQL in namespace "${this.namespace}"`,
      { release: this.release, namespace: this.namespace, found },
      {
        hint: found.length
          ? `Releases found: ${found.join(', ')}. Pass --release NAME and -n NAMESPACE.`
          : 'No pyairtable-stack release is installed in this cluster. Install one (helm install pyairtable-stack ./helm/pyairtable-stack -n pyairtable --create-namespace) or use postgres-ops local up.',
      },
    );
  }

  private async pods(): Promise<k8s.V1Pod[]> {
    const list = await this.api('listing PostgreSQL pods', () =>
      this.k.core.listNamespacedPod({ namespace: this.namespace, labelSelector: this.selector() }),
    );
    return list.items;
  }

  async members(): Promise<Member[]> {
    const pods = await this.pods();
    return pods
      .map((p): Member => {
        const name = p.metadata?.name ?? '?';
        const status = p.status?.containerStatuses?.find((c) => c.name === CONTAINER);
        const sts = p.metadata?.ownerReferences?.find((o) => o.kind === 'StatefulSet')?.name ?? this.fullname;
        return {
          name,
          expectedRole: p.metadata?.labels?.[ROLE_LABEL] === 'primary' ? 'primary' : 'replica',
          running: p.status?.phase === 'Running' && !!status?.state?.running,
          restarts: status?.restartCount ?? null,
          // In-cluster address of the pod (its StatefulSet's headless Service); the password stays in the Secret.
          uri: toUri({
            host: `${name}.${sts}-hl.${this.namespace}.svc`,
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

  private async run(pod: string, command: string[], what: string, onStderr?: (s: string) => void) {
    return this.api(what, () => execInPod(this.k.kc, this.namespace, pod, CONTAINER, command, onStderr));
  }

  async query(member: string, sql: string, database = 'postgres'): Promise<Row[]> {
    const r = await this.run(
      member,
      [
        'psql',
        '-U',
        'postgres',
        '-d',
        database,
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
    return JSON.parse(r.stdout.trim() || '[]') as Row[];
  }

  async volumes(): Promise<VolumeUsage[]> {
    const members = await this.members();
    const out: VolumeUsage[] = [];
    for (const m of members) {
      const pvcName = `postgres-storage-${m.name}`;
      const pvc = await this.api(`reading PVC ${pvcName}`, () =>
        this.k.core.readNamespacedPersistentVolumeClaim({ name: pvcName, namespace: this.namespace }),
      ).catch(() => undefined);
      const capacityBytes = parseQuantity(pvc?.status?.capacity?.storage);
      let usedBytes: number | null = null;
      let size: number | null = null;
      if (m.running) {
        const df = await this.run(m.name, ['df', '-P', '-B1', DATA_MOUNT], `df in ${m.name}`).catch(
          () => undefined,
        );
        const cols = df?.stdout.trim().split('\n').pop()?.split(/\s+/);
        if (cols && cols.length >= 4) {
          size = Number(cols[1]);
          usedBytes = Number(cols[2]);
        }
      }
      const cap = size ?? capacityBytes;
      out.push({
        name: pvcName,
        member: m.name,
        capacityBytes: capacityBytes ?? size,
        usedBytes,
        usedPercent: cap && usedBytes !== null ? Math.round((usedBytes / cap) * 1000) / 10 : null,
      });
    }
    return out;
  }

  private async primaryPod(): Promise<string> {
    const members = await this.members();
    const p = members.find((m) => m.expectedRole === 'primary' && m.running);
    if (!p)
      throw new OperationFailed(
        'E_NO_PRIMARY',
        `no running primary pod in release ${this.release}`,
        {},
        {
          hint: `kubectl get pods -n ${this.namespace} -l app.kubernetes.io/instance=${this.release}`,
        },
      );
    return p.name;
  }

  private async agentInPod<T>(args: string[], what: string): Promise<T> {
    const pod = await this.primaryPod();
    const r = await this.run(pod, ['postgres-agent', ...args, '-o', 'json'], what, (s) =>
      process.stderr.write(s),
    );
    if (r.code !== 0) {
      const msg = /^error: (.*)$/m.exec(r.stderr)?.[1] ?? r.stderr.trim().split('\n').pop();
      throw new OperationFailed(
        'E_AGENT',
        `${what}: ${msg}`,
        { pod },
        { hint: /^hint: (.*)$/m.exec(r.stderr)?.[1] },
      );
    }
    return JSON.parse(r.stdout) as T;
  }

  backupLocation(): string {
    return BACKUP_DIR;
  }

  /** Backups as the agent lists them in the primary pod (which mounts the backup volume). */
  async listBackups(): Promise<BackupEntry[]> {
    return this.agentInPod<BackupEntry[]>(['list-backups'], 'listing backups');
  }

  async verify(file: string | undefined, opts: { deep?: boolean; all?: boolean }) {
    return this.agentInPod(agentVerifyArgs(file, opts), 'verifying backups');
  }

  private async readCronJob(name: string): Promise<k8s.V1CronJob> {
    return this.api(`reading CronJob ${name}`, () =>
      this.k.batch.readNamespacedCronJob({ name, namespace: this.namespace }),
    ).catch((err) => {
      if (err instanceof UsageError)
        throw new UsageError(
          'E_NO_CRONJOB',
          `CronJob ${name} does not exist in namespace ${this.namespace}`,
          {},
          {
            hint: 'Enable it in the chart values (e.g. --set databases.postgres.backup.enabled=true) and helm upgrade.',
          },
        );
      throw err;
    });
  }

  /**
   * A Job from a CronJob's template (what `kubectl create job --from=cronjob/...` does), with
   * `extraArgs` appended to the container that runs `postgres-agent <verb>`; followed to the end.
   */
  private async jobFromCronJob(
    cronJob: string,
    verb: string,
    runName: string | undefined,
    extraArgs: string[],
    out: Output,
    reshape?: (spec: k8s.V1JobSpec, agent: k8s.V1Container) => k8s.V1Container,
  ) {
    const cj = await this.readCronJob(cronJob);
    const spec = structuredClone(cj.spec!.jobTemplate.spec!);
    const pod = spec.template.spec!;
    let agent = [...(pod.initContainers ?? []), ...pod.containers].find(
      (c) => c.args?.[0] === verb || c.name === verb,
    );
    if (!agent)
      throw new OperationFailed(
        'E_CRONJOB_SHAPE',
        `CronJob ${cronJob} has no container running postgres-agent ${verb}`,
        {},
        { hint: 'Upgrade the release to this chart version: helm upgrade ...' },
      );
    agent.args = [...(agent.args ?? [verb]), ...extraArgs];
    if (reshape) agent = reshape(spec, agent);
    const name = jobName(cronJob, runName);
    const job: k8s.V1Job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name,
        namespace: this.namespace,
        labels: {
          ...(cj.spec!.jobTemplate.metadata?.labels ?? {}),
          'app.kubernetes.io/managed-by': 'postgres-ops',
        },
        annotations: { 'cronjob.kubernetes.io/instantiate': 'manual' },
        ownerReferences: [
          {
            apiVersion: 'batch/v1',
            kind: 'CronJob',
            name: cronJob,
            uid: cj.metadata!.uid!,
            controller: false,
          },
        ],
      },
      spec,
    };
    await this.api(`creating Job ${name}`, () =>
      this.k.batch.createNamespacedJob({ namespace: this.namespace, body: job }),
    );
    out.line(`job.batch/${name} created`);
    await this.followJob(name, agent.name, out);
    return { job: name };
  }

  /** Streams the agent container's log (init containers too) and waits for the Job's outcome. */
  private async followJob(name: string, container: string, out: Output, timeoutMs = 6 * 3600_000) {
    const deadline = Date.now() + timeoutMs;
    let followed = false;
    while (Date.now() < deadline) {
      const job = await this.api(`reading Job ${name}`, () =>
        this.k.batch.readNamespacedJob({ name, namespace: this.namespace }),
      );
      if (!followed) {
        const pods = await this.api('listing Job pods', () =>
          this.k.core.listNamespacedPod({ namespace: this.namespace, labelSelector: `job-name=${name}` }),
        );
        const pod = pods.items.find((p) =>
          [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])].some(
            (c) => c.name === container && (c.state?.running || c.state?.terminated),
          ),
        );
        if (pod?.metadata?.name) {
          followed = true;
          const sink = new Writable({
            write(chunk, _e, cb) {
              process.stderr.write(chunk);
              cb();
            },
          });
          // The client pipes the log into `sink` and ends it when the container's log closes.
          await new Promise<void>((resolve) => {
            sink.on('finish', resolve).on('error', () => resolve());
            void new k8s.Log(this.k.kc)
              .log(this.namespace, pod.metadata!.name!, container, sink, { follow: true })
              .catch(() => resolve());
          });
        }
      }
      if ((job.status?.succeeded ?? 0) > 0) {
        out.line(`job.batch/${name} succeeded`);
        return;
      }
      const failed = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
      if (failed)
        throw new OperationFailed(
          'E_JOB_FAILED',
          `Job ${name} failed: ${failed.message ?? failed.reason ?? ''}`,
          { job: name },
          { hint: `kubectl logs -n ${this.namespace} job/${name} -c ${container}` },
        );
      await sleep(2000);
    }
    throw new OperationFailed(
      'E_JOB_TIMEOUT',
      `Job ${name} did not finish in time`,
      { job: name },
      { hint: `kubectl get job -n ${this.namespace} ${name}` },
    );
  }

  async backup(name: string | undefined, out: Output, req: BackupRequest = {}): Promise<void> {
    const args = agentBackupArgs(name, req).slice(1);
    await this.jobFromCronJob(`${this.fullname}-backup`, 'backup', name, args, out);
  }

  async restore(req: RestoreRequest, out: Output) {
    if (!req.file.startsWith('/') && !/^[a-z0-9]+:\/\//.test(req.file))
      throw new UsageError(
        'E_NOT_IN_CLUSTER',
        `${req.file} is not on the backup volume`,
        {},
        {
          hint: `Copy it there first (kubectl cp FILE ${this.namespace}/${this.fullname}-0:${BACKUP_DIR}/) or give a gs://, s3:// or azure:// URL.`,
        },
      );
    // The backup CronJob's pod has the backup volume, the Secret and the primary's address: its
    // backup container becomes the restore Job's only container (no prune after it).
    return this.jobFromCronJob(`${this.fullname}-backup`, 'backup', 'restore', [], out, (spec, agent) => {
      const restore: k8s.V1Container = { ...agent, name: 'restore', args: agentRestoreArgs(req) };
      spec.template.spec!.initContainers = [];
      spec.template.spec!.containers = [restore];
      spec.backoffLimit = 0;
      return restore;
    });
  }

  /** Our VolumeSnapshots of the release (the snapshot CronJob's marker labels), newest first. */
  async listSnapshots(): Promise<SnapshotEntry[]> {
    const list = await this.api('listing VolumeSnapshots', () =>
      listReleaseSnapshots(volumeSnapshotApi(this.k.custom, this.namespace), this.release),
    ).catch((err) => {
      // No snapshot CRDs in this cluster: there are no snapshots, which is not an error here.
      if (err instanceof UsageError || (err as { status?: number }).status === 404) return [];
      throw err;
    });
    return list.map((s) => ({
      name: s.name,
      createdAt: s.createdAt,
      readyToUse: s.readyToUse,
      source: s.source,
      sizeBytes: parseQuantity(s.restoreSize ?? undefined),
    }));
  }

  async snapshot(name: string | undefined, out: Output): Promise<SnapshotEntry | undefined> {
    await this.jobFromCronJob(
      `${this.fullname}-snapshot`,
      'snapshot',
      name,
      name ? ['--name', name] : [],
      out,
    );
    const snaps = await this.listSnapshots();
    return (name ? snaps.find((s) => s.name === name) : undefined) ?? snaps[0];
  }

  /** `kubectl exec -it POD -c postgres -- psql -U postgres` with the terminal passed through. */
  async connect(member: Member): Promise<number> {
    const kubectl = findKubectl();
    const ctx = this.k.kc.getCurrentContext();
    const args = [
      ...(ctx ? ['--context', ctx] : []),
      '-n',
      this.namespace,
      'exec',
      '-it',
      member.name,
      '-c',
      CONTAINER,
      '--',
      'psql',
      '-U',
      'postgres',
    ];
    return new Promise((resolve, reject) => {
      const child = spawn(kubectl, args, { stdio: 'inherit' });
      child.on('error', (err) =>
        reject(
          new OperationFailed(
            'E_NO_KUBECTL',
            `could not run kubectl: ${err.message}`,
            {},
            {
              hint: 'Install kubectl and put it on PATH.',
            },
          ),
        ),
      );
      child.on('exit', (code) => resolve(code ?? 1));
    });
  }

  async promote(replica: string, out: Output): Promise<PromoteOutcome> {
    const members = await this.members();
    const target = members.find((m) => m.name === replica);
    const replicas = members.filter((m) => m.expectedRole === 'replica').map((m) => m.name);
    if (!target || target.expectedRole !== 'replica')
      throw new UsageError(
        'E_NO_SUCH_REPLICA',
        `"${replica}" is not a replica pod of release ${this.release}`,
        { replica },
        {
          hint: replicas.length
            ? `Replicas: ${replicas.join(', ')}`
            : 'This release has no replicas (replication.enabled=false).',
        },
      );
    if (!target.running)
      throw new OperationFailed(
        'E_NOT_RUNNING',
        `${replica} is not running; nothing was changed`,
        {},
        {
          hint: `kubectl describe pod -n ${this.namespace} ${replica}`,
        },
      );
    const steps: string[] = [];
    const old = members.find((m) => m.expectedRole === 'primary');
    // Fence: no pod of the primary StatefulSet may run while the replica is promoted.
    await this.api(`scaling statefulset ${this.fullname} to 0`, () =>
      this.k.apps.patchNamespacedStatefulSetScale(
        { name: this.fullname, namespace: this.namespace, body: { spec: { replicas: 0 } } },
        mergePatch,
      ),
    );
    out.line(`statefulset.apps/${this.fullname} scaled to 0`);
    steps.push(`scaled statefulset ${this.fullname} to 0 (fenced the old primary)`);
    const podName = `${this.fullname}-0`;
    const deadline = Date.now() + 10 * 60_000;
    for (;;) {
      const gone = await this.k.core
        .readNamespacedPod({ name: podName, namespace: this.namespace })
        .then(() => false)
        .catch((err) => {
          if (isNotFound(err)) return true;
          throw kubeError(`waiting for ${podName} to stop`, err, this.server);
        });
      if (gone) break;
      if (Date.now() > deadline)
        throw new OperationFailed(
          'E_FENCE_TIMEOUT',
          `${podName} is still running; ${replica} was NOT promoted`,
          {},
          {
            hint: `kubectl get pod -n ${this.namespace} ${podName}; scale it back with kubectl scale statefulset ${this.fullname} --replicas=1`,
          },
        );
      await sleep(2000);
    }
    out.line(`pod/${podName} gone`);
    const r = await this.run(
      replica,
      ['postgres-agent', 'promote', '-o', 'json'],
      `promoting ${replica}`,
      (s) => process.stderr.write(s),
    );
    if (r.code !== 0)
      throw new OperationFailed(
        'E_PROMOTE',
        `promoting ${replica} failed: ${r.stderr.trim().split('\n').pop()}`,
        {},
        {
          hint: `The old primary is stopped. Bring it back: kubectl scale statefulset ${this.fullname} -n ${this.namespace} --replicas=1`,
        },
      );
    const result = JSON.parse(r.stdout || '{}') as { timeline?: number; lsn?: string };
    steps.push(`promoted ${replica} (timeline ${result.timeline ?? '?'})`);
    await this.api(`labelling ${replica}`, () =>
      this.k.core.patchNamespacedPod(
        {
          name: replica,
          namespace: this.namespace,
          body: { metadata: { labels: { [ROLE_LABEL]: 'primary' } } },
        },
        mergePatch,
      ),
    );
    out.line(`pod/${replica} labeled ${ROLE_LABEL}=primary`);
    steps.push(
      `labelled ${replica} ${ROLE_LABEL}=primary so the read-write Service ${this.fullname} follows it`,
    );
    return {
      promoted: replica,
      previousPrimary: old?.name ?? null,
      timeline: result.timeline ?? null,
      lsn: result.lsn ?? null,
      steps,
      next: [
        `postgres-ops status -n ${this.namespace}`,
        `Keep statefulset ${this.fullname} at 0 replicas until it is rebuilt as a replica; its volume is kept.`,
        `The other replicas stream from the read-write Service ${this.fullname}, which now selects ${replica}: check that they follow it (status shows their timeline and lag).`,
        'Applications keep using the read-write Service (same name); restart connection pools that cache addresses.',
      ],
    };
  }
}

function findKubectl(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    if (existsSync(join(dir, 'kubectl'))) return join(dir, 'kubectl');
  }
  return 'kubectl';
}
