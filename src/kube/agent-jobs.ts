/**
 * Agent commands run as Jobs made from the chart's CronJobs (what `kubectl create job
 * --from=cronjob/...` does: src/kube/jobs.ts), followed to the end, their logs relayed and their
 * JSON result read back.
 */
import type * as k8s from '@kubernetes/client-node';
import type { z } from 'zod';
import { parseAgentOutput } from '../core/agent-output.js';
import { OperationFailed, UsageError } from '../core/errors.js';
import type { Output } from '../core/output.js';
import { stderrTerminal } from '../runtime/output-host.js';
import { lastJsonDocument } from './jobs.js';
import type { KubeRelease } from './release.js';

export async function requireCronJob(rel: KubeRelease, name: string, enable: string): Promise<k8s.V1CronJob> {
  const cj = await rel.jobs.readCronJob(name);
  if (!cj)
    throw new UsageError(
      'E_NO_CRONJOB',
      `CronJob ${name} does not exist in namespace ${rel.namespace}`,
      {},
      { hint: `Enable it in the chart values (--set ${enable}) and helm upgrade.` },
    );
  return cj;
}

/** The container of a Job template that runs `postgres-agent <verb>`. */
export function agentContainer(cronJob: string, spec: k8s.V1JobSpec, verb: string): k8s.V1Container {
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
export function only(
  spec: k8s.V1JobSpec,
  agent: k8s.V1Container,
  name: string,
  args: string[],
): k8s.V1Container {
  const c: k8s.V1Container = { ...agent, name, args };
  spec.template.spec!.initContainers = [];
  spec.template.spec!.containers = [c];
  spec.backoffLimit = 0;
  return c;
}

export function follow(rel: KubeRelease, name: string, container: string, out: Output, stream = true) {
  return rel.jobs.follow(name, container, {
    onLog: stream ? (s) => out.raw(s) : undefined,
    onProgress: stream ? (l) => out.line(l) : (l) => out.raw(`${l}\n`),
    pollMs: rel.pollMs,
  });
}

/**
 * A read-only agent command where the backups are: a Job from the backup CronJob (the only pods
 * that mount the backup volume are that CronJob's), its JSON result read from the log, the Job
 * deleted afterwards (it would push the real backups out of the CronJob's history).
 */
export async function readOnBackupVolume<S extends z.ZodType>(
  rel: KubeRelease,
  args: string[],
  what: string,
  schema: S,
): Promise<z.output<S>> {
  const cronJob = `${rel.fullname}-backup`;
  const cj = await requireCronJob(rel, cronJob, 'databases.postgres.backup.enabled=true');
  const verb = args[0]!;
  const job = await rel.jobs.create(cj, verb, (spec) =>
    only(spec, agentContainer(cronJob, spec, 'backup'), verb, [...args, '-o', 'json']),
  );
  try {
    const quiet = {
      line: () => undefined,
      result: () => undefined,
      raw: (s: string) => stderrTerminal.write(s),
    };
    await follow(rel, job.name, job.container, quiet, false);
    const log = await rel.jobs.output(job.name, job.container);
    let printed: unknown;
    try {
      printed = lastJsonDocument(log);
    } catch {
      throw new OperationFailed('E_AGENT', `${what}: Job ${job.name} printed no result`, { job: job.name });
    }
    return parseAgentOutput(verb, schema, printed);
  } finally {
    await rel.jobs.remove(job.name);
  }
}

/**
 * A scheduled run now: the CronJob's Job with `args` (such as `--name NAME`) added to its agent
 * container's, followed to the end.
 */
export async function runNow(
  rel: KubeRelease,
  verb: 'backup' | 'snapshot',
  name: string | undefined,
  args: string[],
  enable: string,
  out: Output,
) {
  const cronJob = `${rel.fullname}-${verb}`;
  const cj = await requireCronJob(rel, cronJob, enable);
  const job = await rel.jobs.create(cj, name, (spec) => {
    const agent = agentContainer(cronJob, spec, verb);
    agent.args = [...(agent.args ?? [verb]), ...args];
    return agent;
  });
  out.line(`job.batch/${job.name} created`);
  await follow(rel, job.name, job.container, out);
}
