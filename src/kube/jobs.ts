/**
 * Jobs made from the chart's CronJobs, as `kubectl create job --from=cronjob/...` makes them (same
 * template, labels, controller reference, so the CronJob's concurrencyPolicy and history limits
 * apply to them), and followed to their end: the agent's log is streamed while its container runs;
 * a Pending pod is reported with its reason; a log stream that ends before the Job does (a dropped
 * connection, an evicted node) falls back to watching the Job itself. Everything has a deadline.
 */
import * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { OperationFailed, UsageError } from '../core/errors.js';

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

export interface FollowOptions {
  /** Receives the agent container's log as it comes; none: the log is not streamed. */
  onLog?: (chunk: string) => void;
  /** Progress lines (created, Pending and why, stream ended, succeeded). */
  onProgress: (line: string) => void;
  timeoutMs?: number;
  /** Pause between looks at the Job (tests shorten it). */
  pollMs?: number;
  /** How often a Pending pod is reported again while its reason stays the same. */
  pendingEveryMs?: number;
}

type Api = <T>(what: string, call: () => Promise<T>) => Promise<T>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Why a pod is not running its container yet, in a few words (scheduling, image pull, volume attach). */
export function pendingReason(pod: k8s.V1Pod, container: string): string {
  const sched = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (sched) return `not scheduled: ${sched.message ?? sched.reason ?? 'no node fits'}`;
  const st = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const own = st.find((c) => c.name === container);
  const waiting = (own ?? st.find((c) => c.state?.waiting))?.state?.waiting;
  if (waiting)
    return `${own ? '' : 'an earlier container is '}${waiting.reason ?? 'waiting'}${waiting.message ? `: ${waiting.message}` : ''}`;
  const earlier = st.find((c) => c.name !== container && c.state?.running);
  if (earlier) return `container ${earlier.name} runs first`;
  return pod.status?.phase ?? 'Pending';
}

export class KubeJobs {
  constructor(
    private readonly kc: k8s.KubeConfig,
    private readonly core: k8s.CoreV1Api,
    private readonly batch: k8s.BatchV1Api,
    private readonly namespace: string,
    private readonly api: Api,
  ) {}

  async readCronJob(name: string): Promise<k8s.V1CronJob | undefined> {
    try {
      return await this.api(`reading CronJob ${name}`, () =>
        this.batch.readNamespacedCronJob({ name, namespace: this.namespace }),
      );
    } catch (err) {
      if (err instanceof UsageError && err.code === 'E_NOT_FOUND') return undefined;
      throw err;
    }
  }

  /**
   * Creates a Job from `cj`'s template, `reshape` choosing and changing the container that runs
   * the agent (it receives the template to change); returns the Job's and that container's names.
   */
  async create(
    cj: k8s.V1CronJob,
    runName: string | undefined,
    reshape: (spec: k8s.V1JobSpec) => k8s.V1Container,
  ): Promise<{ name: string; container: string }> {
    const cronJob = cj.metadata!.name!;
    const spec = structuredClone(cj.spec!.jobTemplate.spec!);
    const agent = reshape(spec);
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
        annotations: {
          ...(cj.spec!.jobTemplate.metadata?.annotations ?? {}),
          'cronjob.kubernetes.io/instantiate': 'manual',
        },
        // What kubectl create job --from=cronjob/... writes: the CronJob is the controller, so its
        // concurrencyPolicy (Forbid) counts this Job as running and its history limits clean it up.
        ownerReferences: [
          {
            apiVersion: 'batch/v1',
            kind: 'CronJob',
            name: cronJob,
            uid: cj.metadata!.uid!,
            controller: true,
          },
        ],
      },
      spec,
    };
    await this.api(`creating Job ${name}`, () =>
      this.batch.createNamespacedJob({ namespace: this.namespace, body: job }),
    );
    return { name, container: agent.name };
  }

  /** Follows the Job to its end: resolves when it succeeded, throws when it failed or ran out of time. */
  async follow(name: string, container: string, opts: FollowOptions): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 6 * 3600_000;
    const pollMs = opts.pollMs ?? 2000;
    const pendingEveryMs = opts.pendingEveryMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;
    const streamed = new Set<string>();
    let stream: { pod: string; done: Promise<void>; abort: () => void; ended: boolean } | undefined;
    let lastPending = { text: '', at: 0 };
    let noted = false;
    try {
      while (Date.now() < deadline) {
        const job = await this.api(`reading Job ${name}`, () =>
          this.batch.readNamespacedJob({ name, namespace: this.namespace }),
        );
        if ((job.status?.succeeded ?? 0) > 0) {
          // Let the end of the log arrive (the stream closes with the container).
          if (stream && !stream.ended) await Promise.race([stream.done, sleep(5000)]);
          opts.onProgress(`job.batch/${name} succeeded`);
          return;
        }
        const failed = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
        if (failed) {
          if (stream && !stream.ended) await Promise.race([stream.done, sleep(5000)]);
          throw new OperationFailed(
            'E_JOB_FAILED',
            `Job ${name} failed: ${failed.message ?? failed.reason ?? ''}`,
            { job: name },
            { hint: `kubectl logs -n ${this.namespace} job/${name} -c ${container}` },
          );
        }
        if (stream?.ended && !noted) {
          noted = true;
          opts.onProgress(
            `the log of pod ${stream.pod} ended before job.batch/${name} finished; waiting for the Job (kubectl logs -n ${this.namespace} -f job/${name} -c ${container})`,
          );
        }
        if (!stream || stream.ended) {
          const pods = await this.api(`listing the pods of Job ${name}`, () =>
            this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: `job-name=${name}` }),
          );
          const newest = [...pods.items].sort((a, b) =>
            String(b.metadata?.creationTimestamp ?? '').localeCompare(
              String(a.metadata?.creationTimestamp ?? ''),
            ),
          )[0];
          const podName = newest?.metadata?.name;
          const st = [
            ...(newest?.status?.initContainerStatuses ?? []),
            ...(newest?.status?.containerStatuses ?? []),
          ].find((c) => c.name === container);
          const started = !!(st?.state?.running || st?.state?.terminated);
          if (podName && started && opts.onLog && !streamed.has(podName)) {
            streamed.add(podName);
            noted = false;
            stream = this.streamLog(podName, container, opts.onLog, deadline);
          } else if (!started) {
            const text = newest
              ? `pod ${podName} is Pending: ${pendingReason(newest, container)}`
              : 'waiting for its pod to be created';
            if (text !== lastPending.text || Date.now() - lastPending.at >= pendingEveryMs) {
              opts.onProgress(`job.batch/${name}: ${text}`);
              lastPending = { text, at: Date.now() };
            }
          }
        }
        await sleep(pollMs);
      }
    } finally {
      stream?.abort();
    }
    throw new OperationFailed(
      'E_JOB_TIMEOUT',
      `Job ${name} did not finish within ${Math.round(timeoutMs / 60_000)} min; it may still be running`,
      { job: name },
      {
        hint: `kubectl get job -n ${this.namespace} ${name}; kubectl logs -n ${this.namespace} -f job/${name} -c ${container}`,
      },
    );
  }

  private streamLog(pod: string, container: string, onLog: (s: string) => void, deadline: number) {
    let controller: AbortController | undefined;
    const state = { pod, ended: false, abort: () => controller?.abort(), done: Promise.resolve() };
    state.done = new Promise<void>((resolve) => {
      const end = () => {
        state.ended = true;
        clearTimeout(timer);
        resolve();
      };
      const sink = new Writable({
        write(chunk: Buffer, _e, cb) {
          onLog(chunk.toString());
          cb();
        },
      });
      sink.on('finish', end).on('error', end);
      const timer = setTimeout(() => controller?.abort(), Math.max(0, deadline - Date.now()));
      new k8s.Log(this.kc)
        .log(this.namespace, pod, container, sink, { follow: true })
        .then((c) => {
          controller = c;
          c.signal.addEventListener('abort', end);
        })
        .catch(end);
    });
    return state;
  }

  /** The container's whole log (after it ended). */
  async output(name: string, container: string): Promise<string> {
    const pods = await this.api(`listing the pods of Job ${name}`, () =>
      this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: `job-name=${name}` }),
    );
    const ok = pods.items.find((p) => p.status?.phase === 'Succeeded') ?? pods.items[0];
    if (!ok?.metadata?.name)
      throw new OperationFailed('E_JOB_OUTPUT', `Job ${name} has no pod to read the result from`, {
        job: name,
      });
    return this.api(`reading the log of pod ${ok.metadata.name}`, () =>
      this.core.readNamespacedPodLog({ name: ok.metadata!.name!, namespace: this.namespace, container }),
    );
  }

  /** Deletes a Job and its pods (a read-only run leaves nothing behind). */
  async remove(name: string): Promise<void> {
    await this.api(`deleting Job ${name}`, () =>
      this.batch.deleteNamespacedJob({ name, namespace: this.namespace, propagationPolicy: 'Background' }),
    ).catch(() => undefined);
  }
}

/**
 * The last JSON document a command printed with `-o json` in a log that also holds its log lines
 * (one JSON object a line) and progress: the document is printed indented, so it starts on a line
 * that is `[` / `{` alone (or `[]` / `{}`).
 */
export function lastJsonDocument(log: string): unknown {
  const lines = log.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!.trimEnd();
    if (l === '[]' || l === '{}') return JSON.parse(l);
    if (l !== '[' && l !== '{') continue;
    const close = l === '[' ? ']' : '}';
    for (let j = i + 1; j < lines.length; j++) {
      if (lines[j]!.trimEnd() !== close) continue;
      try {
        return JSON.parse(lines.slice(i, j + 1).join('\n'));
      } catch {
        /* an inner line: keep looking */
      }
    }
  }
  throw new OperationFailed('E_JOB_OUTPUT', 'the Job printed no JSON result', {});
}
