/**
 * ClusterApi over the Kubernetes API, for a Helm release of the chart. Thin on purpose: it finds
 * objects by the chart's labels (whatever fullnameOverride made of their names), runs agent
 * commands in Jobs made from the chart's CronJobs (what `kubectl create job --from=cronjob/...`
 * does: src/kube/jobs.ts), and runs `psql` / `postgres-agent` inside member pods. Everything above
 * it is tested for real against the local implementation.
 */
import type * as k8s from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { z } from 'zod';
import { jsonRowsSchema, parseAgentOutput, parseJson } from '../core/agent-output.js';
import { databaseScope } from '../core/backup/databases.js';
import { backupListEntrySchema } from '../core/backup/manifest.js';
import { verifyResultSchema } from '../core/backup/results.js';
import { promoteResultSchema } from '../core/ha/promote-result.js';
import { haViewSchema } from '../core/ha/view.js';
import { drillResultSchema, physicalBackupResultSchema, physicalInfoSchema } from '../core/pitr/results.js';
import { loadAgentEnv } from '../core/config/load.js';
import { type DiskUsage, diskUsageFromDf } from '../core/disk-usage.js';
import { OperationFailed, OpsError, UsageError } from '../core/errors.js';
import type { Output } from '../core/output.js';
import { opsDatabaseConninfo, toUri } from '../core/pg/conninfo.js';
import type {
  BackupEntry,
  BackupRequest,
  ClusterApi,
  DatabaseScope,
  HaView,
  Member,
  PromoteOptions,
  PromoteOutcome,
  RestoreRequest,
  Row,
  SnapshotEntry,
  VolumeUsage,
  DrillResult,
  PhysicalBackupRequest,
  PhysicalBackupResult,
  PhysicalInfo,
  PitrRestoreOutcome,
  PitrRestoreRequest,
} from '../core/cluster/cluster-api.js';
import { runInRepoPod } from './repo-pod.js';
import { restoreClusterOnKube } from './cluster-restore.js';
import {
  agentBackupArgs,
  agentPromoteArgs,
  agentRestoreArgs,
  agentVerifyArgs,
} from '../core/cluster/agent-args.js';
import { asJsonRows } from '../core/cluster/sql.js';
import { type KubeClients, kubeClients } from './client.js';
import { listSnapshots as listReleaseSnapshots } from '../core/snapshot/list.js';
import { kubeError, noKubeconfig } from './errors.js';
import { execInPod, type ExecOptions } from './exec.js';
import { KubeJobs, lastJsonDocument } from './jobs.js';
import { readLeaderRecord } from './leader.js';
import { volumeSnapshotApi } from './volume-snapshots.js';
import { stderrTerminal } from '../runtime/output-host.js';

/** The pod label Patroni writes (the chart's PGOPS_K8S_ROLE_LABEL): master on the leader (primary from Patroni 4), replica. */
export const ROLE_LABEL = 'pyairtable-stack/role';
/** Members carry postgres-primary (the StatefulSet's selector); postgres-replica is the layout before Patroni. */
const COMPONENTS = 'app.kubernetes.io/component in (postgres-primary,postgres-replica)';
const CONTAINER = 'postgres';
const DATA_MOUNT = '/var/lib/postgresql/data';
export const BACKUP_DIR = '/backups/postgres';

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

export interface KubeOptions {
  context?: string;
  namespace?: string;
  /** A kubeconfig file (--kubeconfig), instead of KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  release: string;
  /** Pause between looks at a Job (tests shorten it). */
  pollMs?: number;
}

export class KubeCluster implements ClusterApi {
  readonly mode = 'kubernetes' as const;
  readonly release: string;
  readonly namespace: string;
  private readonly k: KubeClients;
  private readonly server: string | undefined;
  private readonly jobs: KubeJobs;
  private readonly pollMs: number | undefined;
  private kubeconfigFile: string | undefined;
  /** The members' StatefulSet name: "<fullname>-postgres", found by label at connect. */
  private setName: string;

  private constructor(k: KubeClients, release: string, pollMs?: number) {
    this.k = k;
    this.release = release;
    this.namespace = k.namespace;
    this.server = k.kc.getCurrentCluster()?.server;
    this.setName = `${release}-postgres`.slice(0, 63).replace(/-+$/, '');
    this.pollMs = pollMs;
    this.jobs = new KubeJobs(k.kc, k.core, k.batch, k.namespace, (what, call) => this.api(what, call));
  }

  /** Connects and checks that the release exists (listing the ones that do when it does not). */
  static async connect(opts: KubeOptions): Promise<KubeCluster> {
    let k: KubeClients;
    if (opts.kubeconfig && !existsSync(opts.kubeconfig))
      throw noKubeconfig(`no kubeconfig at ${opts.kubeconfig}`);
    try {
      k = kubeClients({ context: opts.context, namespace: opts.namespace, kubeconfig: opts.kubeconfig });
    } catch (err) {
      const msg = (err as Error).message;
      throw noKubeconfig(
        /No active cluster/.test(msg)
          ? opts.context
            ? `context "${opts.context}" not found in the kubeconfig`
            : 'the kubeconfig names no current cluster'
          : /Cannot read prop|undefined/.test(msg)
            ? `${opts.kubeconfig ?? process.env.KUBECONFIG ?? '~/.kube/config'} is empty or not a kubeconfig`
            : msg,
      );
    }
    if (!k.kc.getCurrentCluster()) throw noKubeconfig('the kubeconfig names no current cluster');
    // Without any kubeconfig the client falls back to http://localhost:8080: say so instead.
    const kubeconfig = opts.kubeconfig ?? process.env.KUBECONFIG ?? join(homedir(), '.kube', 'config');
    if (
      !opts.kubeconfig &&
      !process.env.KUBERNETES_SERVICE_HOST &&
      !kubeconfig.split(delimiter).some((f) => f && existsSync(f))
    )
      throw noKubeconfig(`no kubeconfig at ${kubeconfig}`);
    const c = new KubeCluster(k, opts.release, opts.pollMs);
    c.kubeconfigFile = opts.kubeconfig;
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

  /** The chart's "<fullname>-postgres": the StatefulSet, the read-write Service, the prefix of the CronJobs. */
  get fullname() {
    return this.setName;
  }

  private selector(extra?: string) {
    return [`app.kubernetes.io/instance=${this.release}`, COMPONENTS, ...(extra ? [extra] : [])].join(',');
  }

  /**
   * Finds the release's StatefulSet by its labels, so names follow whatever fullnameOverride made
   * of them; lists the releases that exist when this one does not.
   */
  async checkRelease(): Promise<void> {
    const sets = await this.api(`looking for release ${this.release} in namespace ${this.namespace}`, () =>
      this.k.apps.listNamespacedStatefulSet({ namespace: this.namespace, labelSelector: this.selector() }),
    );
    const members =
      sets.items.find((s) => s.metadata?.labels?.['app.kubernetes.io/component'] === 'postgres-primary') ??
      sets.items[0];
    if (members?.metadata?.name) {
      this.setName = members.metadata.name;
      return;
    }
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
          // Patroni labels the leader's pod (3.0: "master"); before Patroni the chart's own label said "primary".
          expectedRole: ['master', 'primary'].includes(p.metadata?.labels?.[ROLE_LABEL] ?? '')
            ? 'primary'
            : 'replica',
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

  private async run(pod: string, command: string[], what: string, opts: ExecOptions = {}) {
    return this.api(what, () => execInPod(this.k.kc, this.namespace, pod, CONTAINER, command, opts));
  }

  async query(member: string, sql: string, database = 'postgres'): Promise<Row[]> {
    const r = await this.run(
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

  async volumes(): Promise<VolumeUsage[]> {
    const members = await this.members();
    // Every member at once, its PVC and its df at once: each is a round trip to the API server.
    return Promise.all(
      members.map(async (m): Promise<VolumeUsage> => {
        const pvcName = `postgres-storage-${m.name}`;
        const [pvc, usage] = await Promise.all([
          this.api(`reading PVC ${pvcName}`, () =>
            this.k.core.readNamespacedPersistentVolumeClaim({ name: pvcName, namespace: this.namespace }),
          ).catch(() => undefined),
          m.running ? this.dataDiskUsage(m.name) : undefined,
        ]);
        return {
          name: pvcName,
          member: m.name,
          capacityBytes: usage?.capacityBytes ?? parseQuantity(pvc?.status?.capacity?.storage) ?? null,
          usedBytes: usage?.usedBytes ?? null,
          availableBytes: usage?.availableBytes ?? null,
          usedPercent: usage?.usedPercent ?? null,
        };
      }),
    );
  }

  /** `df` of the data volume inside a running member's pod; undefined when it does not answer. */
  private async dataDiskUsage(pod: string): Promise<DiskUsage | undefined> {
    const df = await this.run(pod, ['df', '-P', '-B1', DATA_MOUNT], `df in ${pod}`, {
      timeoutMs: 30_000,
    }).catch(() => undefined);
    const cols = df?.stdout.trim().split('\n').pop()?.split(/\s+/).map(Number);
    return cols && cols.length >= 4 && cols.slice(1, 4).every(Number.isFinite)
      ? diskUsageFromDf(cols[1]!, cols[2]!, cols[3]!)
      : undefined;
  }

  /** The member that leads, from Patroni's leader record (the pod's role label when there is none). */
  private async primaryPod(): Promise<string> {
    const record = await readLeaderRecord(this.k.core, this.namespace, this.fullname).catch(() => null);
    const members = await this.members();
    const p =
      members.find((m) => m.name === record?.member && m.running) ??
      members.find((m) => m.expectedRole === 'primary' && m.running);
    if (!p)
      throw new OperationFailed(
        'E_NO_PRIMARY',
        `no running leader in release ${this.release}`,
        {},
        {
          hint: `kubectl get pods -n ${this.namespace} -l app.kubernetes.io/instance=${this.release} -L ${ROLE_LABEL}`,
        },
      );
    return p.name;
  }

  backupLocation(): string {
    return BACKUP_DIR;
  }

  private async cronJob(name: string, enable: string): Promise<k8s.V1CronJob> {
    const cj = await this.jobs.readCronJob(name);
    if (!cj)
      throw new UsageError(
        'E_NO_CRONJOB',
        `CronJob ${name} does not exist in namespace ${this.namespace}`,
        {},
        { hint: `Enable it in the chart values (--set ${enable}) and helm upgrade.` },
      );
    return cj;
  }

  /** From the agent's settings in the primary StatefulSet (the chart gives every container the same). */
  /**
   * From the backup CronJob's settings (where the chart puts what backups cover), else the members'
   * StatefulSet (the application database).
   */
  async databases(): Promise<DatabaseScope> {
    const env: Record<string, string> = {};
    const collect = (containers: k8s.V1Container[] | undefined) => {
      for (const c of containers ?? [])
        for (const e of c.env ?? [])
          if (e.value !== undefined && /^PGOPS_(APP|BACKUP)_DATABASES?$/.test(e.name))
            env[e.name] ??= e.value;
    };
    const cj = await this.jobs.readCronJob(`${this.fullname}-backup`).catch(() => undefined);
    collect(cj?.spec?.jobTemplate.spec?.template.spec?.containers);
    if (!env.PGOPS_APP_DATABASE) {
      const sts = await this.api(`reading StatefulSet ${this.fullname}`, () =>
        this.k.apps.readNamespacedStatefulSet({ name: this.fullname, namespace: this.namespace }),
      );
      collect(sts.spec?.template.spec?.containers);
    }
    return databaseScope(loadAgentEnv(env));
  }

  /** The container of a Job template that runs `postgres-agent <verb>`. */
  private agentContainer(cronJob: string, spec: k8s.V1JobSpec, verb: string): k8s.V1Container {
    const pod = spec.template.spec!;
    const agent = [...(pod.initContainers ?? []), ...pod.containers].find(
      (c) => c.args?.[0] === verb || c.name === verb,
    );
    if (!agent)
      throw new OperationFailed(
        'E_CRONJOB_SHAPE',
        `CronJob ${cronJob} has no container running postgres-agent ${verb}`,
        {},
        { hint: 'Upgrade the release to this chart version: helm upgrade ...' },
      );
    return agent;
  }

  /** The template with `agent` as its only container, running `args` (no prune after it, no retry). */
  private only(spec: k8s.V1JobSpec, agent: k8s.V1Container, name: string, args: string[]): k8s.V1Container {
    const c: k8s.V1Container = { ...agent, name, args };
    spec.template.spec!.initContainers = [];
    spec.template.spec!.containers = [c];
    spec.backoffLimit = 0;
    return c;
  }

  private follow(name: string, container: string, out: Output, stream = true) {
    return this.jobs.follow(name, container, {
      onLog: stream ? (s) => out.raw(s) : undefined,
      onProgress: stream ? (l) => out.line(l) : (l) => out.raw(`${l}\n`),
      pollMs: this.pollMs,
    });
  }

  /**
   * A read-only agent command where the backups are: a Job from the backup CronJob (the only pods
   * that mount the backup volume are that CronJob's), its JSON result read from the log, the Job
   * deleted afterwards (it would push the real backups out of the CronJob's history).
   */
  private async readOnBackupVolume<S extends z.ZodType>(
    args: string[],
    what: string,
    schema: S,
  ): Promise<z.output<S>> {
    const cronJob = `${this.fullname}-backup`;
    const cj = await this.cronJob(cronJob, 'databases.postgres.backup.enabled=true');
    const verb = args[0]!;
    const job = await this.jobs.create(cj, verb, (spec) =>
      this.only(spec, this.agentContainer(cronJob, spec, 'backup'), verb, [...args, '-o', 'json']),
    );
    try {
      const quiet = {
        line: () => undefined,
        result: () => undefined,
        raw: (s: string) => stderrTerminal.write(s),
      };
      await this.follow(job.name, job.container, quiet, false);
      const log = await this.jobs.output(job.name, job.container);
      let printed: unknown;
      try {
        printed = lastJsonDocument(log);
      } catch {
        throw new OperationFailed('E_AGENT', `${what}: Job ${job.name} printed no result`, { job: job.name });
      }
      return parseAgentOutput(verb, schema, printed);
    } finally {
      await this.jobs.remove(job.name);
    }
  }

  /** Backups as the agent lists them on the backup volume. */
  async listBackups(): Promise<BackupEntry[]> {
    return this.readOnBackupVolume(['list-backups'], 'listing backups', z.array(backupListEntrySchema));
  }

  async verify(file: string | undefined, opts: { deep?: boolean; all?: boolean }) {
    return this.readOnBackupVolume(
      agentVerifyArgs(file, opts),
      'verifying backups',
      z.array(verifyResultSchema),
    );
  }

  /**
   * A scheduled run now: the CronJob's Job with `args` (such as `--name NAME`) added to its agent
   * container's, followed to the end.
   */
  private async runNow(
    verb: 'backup' | 'snapshot',
    name: string | undefined,
    args: string[],
    enable: string,
    out: Output,
  ) {
    const cronJob = `${this.fullname}-${verb}`;
    const cj = await this.cronJob(cronJob, enable);
    const job = await this.jobs.create(cj, name, (spec) => {
      const agent = this.agentContainer(cronJob, spec, verb);
      agent.args = [...(agent.args ?? [verb]), ...args];
      return agent;
    });
    out.line(`job.batch/${job.name} created`);
    await this.follow(job.name, job.container, out);
  }

  async backup(name: string | undefined, out: Output, req: BackupRequest = {}): Promise<void> {
    const args = agentBackupArgs(name, req).slice(1);
    await this.runNow('backup', name, args, 'databases.postgres.backup.enabled=true', out);
  }

  /**
   * A restore Job. A file on the backup volume: from the backup CronJob's template (the volume, the
   * Secret, the read-write Service). A URL: from the sync CronJob's template, which also has the
   * object store's settings, credentials and cloud identity; the backup volume is made writable for
   * the safety backup.
   */
  async restore(req: RestoreRequest, out: Output) {
    const url = /^[a-z0-9]+:\/\//.test(req.file);
    if (!req.file.startsWith('/') && !url)
      throw new UsageError(
        'E_NOT_IN_CLUSTER',
        `${req.file} is not on the backup volume`,
        {},
        {
          hint: `Copy it onto the backup volume first (docs/operations.md, "Copy files to or from the backup volume"), or give a gs://, s3:// or azure:// URL.`,
        },
      );
    const cronJob = url ? `${this.fullname}-sync` : `${this.fullname}-backup`;
    const cj = url
      ? await this.jobs.readCronJob(cronJob)
      : await this.cronJob(cronJob, 'databases.postgres.backup.enabled=true');
    if (!cj)
      throw new UsageError(
        'E_NO_OBJECT_STORE',
        `restoring ${req.file} needs the object store's settings and credentials, and release ${this.release} has no cross-region copies (CronJob ${cronJob}); nothing was changed`,
        { file: req.file },
        {
          hint: 'Enable them (databases.postgres.crossRegion.enabled=true with provider, bucket and credentialsSecret) and helm upgrade, or copy the file onto the backup volume.',
        },
      );
    const job = await this.jobs.create(cj, 'restore', (spec) => {
      const agent = this.agentContainer(cronJob, spec, url ? 'sync' : 'backup');
      const restore = this.only(spec, agent, 'restore', agentRestoreArgs(req));
      // The safety backup is written next to the others.
      restore.volumeMounts = (restore.volumeMounts ?? []).map((m) =>
        m.name === 'backups' ? { ...m, readOnly: false } : m,
      );
      return restore;
    });
    out.line(`job.batch/${job.name} created`);
    await this.follow(job.name, job.container, out);
    return { job: job.name };
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
    const args = name ? ['--name', name] : [];
    await this.runNow('snapshot', name, args, 'databases.postgres.snapshots.enabled=true', out);
    const snaps = await this.listSnapshots();
    return (name ? snaps.find((s) => s.name === name) : undefined) ?? snaps[0];
  }

  /** `kubectl exec -it POD -c postgres -- psql -U postgres -d DB` with the terminal passed through. */
  async connect(member: Member, database: string): Promise<number> {
    const kubectl = findKubectl();
    const ctx = this.k.kc.getCurrentContext();
    const args = [
      ...(this.kubeconfigFile ? ['--kubeconfig', this.kubeconfigFile] : []),
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
      '-d',
      database,
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

  /** Patroni's view, asked of the agent in any running member. */
  async ha(): Promise<HaView | null> {
    const members = await this.members();
    for (const m of members.filter((x) => x.running)) {
      const r = await this.run(
        m.name,
        ['postgres-agent', 'ha', '-o', 'json'],
        `asking ${m.name} for the cluster`,
        { timeoutMs: 30_000 },
      ).catch(() => undefined);
      if (r?.code === 0) return parseAgentOutput('ha', haViewSchema, parseJson(r.stdout));
    }
    return null;
  }

  /** The repository pod of point-in-time recovery, when the release has one. */
  private async repoPod(what: string): Promise<string> {
    const pod = `${this.fullname}-repo-0`;
    const found = await this.api(`reading pod ${pod}`, () =>
      this.k.core.readNamespacedPod({ name: pod, namespace: this.namespace }),
    ).catch(() => undefined);
    if (!found)
      throw new UsageError(
        'E_PITR_OFF',
        `${what} needs point-in-time recovery: release ${this.release} has no repository pod (${pod})`,
        { pod },
        { hint: 'Set databases.postgres.pitr.enabled=true and upgrade the release (docs/backups.md).' },
      );
    return pod;
  }

  async physicalBackup(req: PhysicalBackupRequest, out: Output): Promise<PhysicalBackupResult> {
    const pod = await this.repoPod('a physical backup');
    return runInRepoPod(
      { namespace: this.namespace, pod, kc: this.k.kc, schema: physicalBackupResultSchema },
      ['physical-backup', '--type', req.type, ...(req.name ? ['--name', req.name] : [])],
      (s) => out.raw(s),
    );
  }

  async physicalInfo(): Promise<PhysicalInfo | null> {
    const pod = await this.repoPod('listing physical backups').catch(() => undefined);
    if (!pod) return null;
    return runInRepoPod(
      { namespace: this.namespace, pod, kc: this.k.kc, schema: physicalInfoSchema },
      ['physical-info'],
      undefined,
      120_000,
    );
  }

  /** The whole cluster to a point in time, as the chart's restore Job does it (src/kube/cluster-restore.ts). */
  async restorePointInTime(req: PitrRestoreRequest, out: Output): Promise<PitrRestoreOutcome> {
    const repoPod = await this.repoPod('a point-in-time restore');
    return restoreClusterOnKube(this.k, {
      statefulSet: this.fullname,
      repoPod,
      target: req.target,
      confirm: req.confirm,
      dryRun: req.dryRun,
      progress: (line) => out.line(line),
      pollMs: this.pollMs,
    });
  }

  async drill(out: Output): Promise<DrillResult> {
    const pod = await this.repoPod('a recovery drill');
    return runInRepoPod(
      { namespace: this.namespace, pod, kc: this.k.kc, schema: drillResultSchema },
      ['drill'],
      (s) => out.raw(s),
    );
  }

  /**
   * Runs `postgres-agent promote` in the candidate's pod: it checks the candidate, lifts its fence
   * when failover is manual, and asks Patroni for a switchover (or a failover when the primary is
   * gone). Patroni moves the leader Endpoints, so the read-write Service follows by itself.
   */
  async promote(candidate: string, opts: PromoteOptions, out: Output): Promise<PromoteOutcome> {
    const members = await this.members();
    const target = members.find((m) => m.name === candidate);
    if (!target)
      throw new UsageError(
        'E_NO_SUCH_MEMBER',
        `"${candidate}" is not a PostgreSQL pod of release ${this.release}; nothing was changed`,
        { candidate },
        { hint: `Members: ${members.map((m) => m.name).join(', ') || '(none)'}` },
      );
    if (!target.running)
      throw new OperationFailed(
        'E_NOT_RUNNING',
        `${candidate} is not running; nothing was changed`,
        {},
        { hint: `kubectl describe pod -n ${this.namespace} ${candidate}` },
      );
    const args = ['postgres-agent', ...agentPromoteArgs(candidate, opts), '-o', 'json'];
    // The agent waits up to 90 s for the new leader to take writes, after its own checks.
    const r = await this.run(candidate, args, `promoting ${candidate}`, {
      onStderr: (s) => out.raw(s),
      timeoutMs: 240_000,
    });
    if (r.code !== 0) {
      const msg =
        /^error: (.*)$/m.exec(r.stderr)?.[1] ?? r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`;
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
        `postgres-ops status -n ${this.namespace}     # the old primary rejoins as a replica by itself`,
        'Applications keep using the read-write Service (same name); restart connection pools that cache addresses.',
      ],
      action: result.action,
      missingBytes: result.missingBytes,
      warnings: result.warnings,
      message: result.message,
    };
  }
}

function findKubectl(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    if (existsSync(join(dir, 'kubectl'))) return join(dir, 'kubectl');
  }
  return 'kubectl';
}
