/**
 * Renders the chart with the real helm binary and hands tests typed views of the objects: every
 * profile the product promises (defaults, the environment files, each feature toggle, all of them,
 * and the guide's own command lines). Each profile is rendered once per test file and memoised.
 */
import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { PROMETHEUS_OPERATOR_API } from '../support/promql.js';
import { helmPath, repoRoot } from '../support/tools.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped JSON */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: any };
  [k: string]: any;
};

export interface Profile {
  name: string;
  /** helm arguments after the chart path (values files are relative to the repo root, as in the guide). */
  args: string[];
  namespace?: string;
}

const chart = './helm/pyairtable-stack';
const set = (...pairs: string[]) => pairs.flatMap((p) => ['--set', p]);
const pg = (s: string) => `databases.postgres.${s}`;

/** Feature toggles, each turned on alone over the defaults (with what it needs to be valid). */
export const toggles: Record<string, string[]> = {
  replication: set(pg('replication.enabled=true'), pg('replication.replicas=2')),
  snapshots: set(pg('snapshots.enabled=true')),
  crossRegionGcs: set(
    pg('crossRegion.enabled=true'),
    pg('crossRegion.bucket=dr-bucket'),
    pg('crossRegion.credentialsSecret=gcs-key'),
  ),
  crossRegionS3: set(
    pg('crossRegion.enabled=true'),
    pg('crossRegion.provider=s3'),
    pg('crossRegion.bucket=dr-bucket'),
    pg('crossRegion.region=eu-west-1'),
    pg('crossRegion.endpoint=https://s3.example.com'),
    pg('crossRegion.credentialsSecret=s3-keys'),
  ),
  crossRegionAzure: set(
    pg('crossRegion.enabled=true'),
    pg('crossRegion.provider=azure'),
    pg('crossRegion.bucket=dr-container'),
    pg('crossRegion.credentialsSecret=azure-conn'),
  ),
  restore: set(
    pg('restore.enabled=true'),
    pg('restore.backupFile=/backups/postgres/backup_20240101_020000.sql.gz'),
  ),
  migration: set(pg('migration.enabled=true'), pg('migration.version=2.0.0')),
  tls: set(pg('tls.enabled=true'), pg('tls.existingSecret=postgres-tls')),
  networkPolicy: set(pg('networkPolicy.enabled=true')),
  existingSecret: set(pg('auth.existingSecret=my-postgres-passwords')),
  monitoringOff: set(pg('monitoring.enabled=false')),
  backupOff: set(pg('backup.enabled=false')),
  parallelBackup: set(pg('backup.jobs=4')),
  storageClassesOff: set(pg('storageClasses.create=false')),
  /** A cluster that serves the prometheus-operator's API: ServiceMonitor and PrometheusRule render. */
  prometheusOperator: PROMETHEUS_OPERATOR_API,
  manualFailover: set(pg('replication.failover=manual'), pg('replication.enabled=true')),
  pitr: set(pg('pitr.enabled=true')),
  /** The whole cluster back to a moment (needs PITR) ... */
  pitrRestoreTime: set(
    pg('pitr.enabled=true'),
    pg('restore.enabled=true'),
    pg('restore.targetTime=2026-11-30T14:02:59+00:00'),
  ),
  /** ... or to the last archived commit. */
  pitrRestoreLatest: set(pg('pitr.enabled=true'), pg('restore.enabled=true'), pg('restore.latest=true')),
};

/** A production release with every CronJob and the monitoring objects (values-prod.yaml + toggles). */
export const productionLike = [
  '--values',
  'values-prod.yaml',
  ...toggles.prometheusOperator!,
  ...toggles.snapshots!,
  ...toggles.crossRegionS3!,
];

const allOn = [
  ...toggles.prometheusOperator!,
  ...toggles.replication!,
  ...toggles.snapshots!,
  ...toggles.crossRegionS3!,
  ...toggles.restore!,
  ...toggles.migration!,
  ...toggles.tls!,
  ...toggles.networkPolicy!,
  ...toggles.pitr!,
];

/** The guide's command lines, verbatim after the chart path (install/upgrade rendered as template). */
export const guideProfiles: Profile[] = [
  { name: 'guide: basic deployment', args: ['--namespace', 'pyairtable', '--create-namespace'] },
  {
    name: 'guide: enable advanced features',
    args: set(pg('backup.enabled=true'), pg('snapshots.enabled=true'), pg('monitoring.enabled=true')),
  },
  {
    name: 'guide: production deployment',
    args: [
      '--namespace',
      'pyairtable-prod',
      '--create-namespace',
      '--values',
      'values-prod.yaml',
      ...set(
        pg('persistence.storageClass=postgres-prod-ssd'),
        pg('backup.enabled=true'),
        pg('snapshots.enabled=true'),
        pg('monitoring.enabled=true'),
        pg('replication.enabled=true'),
      ),
    ],
  },
  {
    name: 'guide: point-in-time recovery',
    args: set(
      pg('restore.enabled=true'),
      pg('restore.backupFile=/backups/postgres/backup_20240101_020000.sql.gz'),
    ),
  },
  {
    name: 'guide: horizontal scaling',
    args: set(pg('replication.enabled=true'), pg('replication.replicas=2')),
  },
  {
    name: 'guide: schema migration',
    args: set(
      pg('migration.enabled=true'),
      pg('migration.version=2.0.0'),
      pg('migration.description=Add user management tables'),
    ),
  },
  {
    name: 'guide: cluster migration',
    args: ['--namespace', 'pyairtable', '--create-namespace', '--values', 'values-prod.yaml'],
  },
];

export const profiles: Profile[] = [
  { name: 'defaults', args: [] },
  { name: 'values-dev.yaml', args: ['--values', 'values-dev.yaml'] },
  { name: 'values-staging.yaml', args: ['--values', 'values-staging.yaml'] },
  { name: 'values-prod.yaml', args: ['--values', 'values-prod.yaml'] },
  ...Object.entries(toggles).map(([name, args]) => ({ name: `toggle ${name}`, args })),
  { name: 'everything on', args: allOn },
  { name: 'everything on with values-prod.yaml', args: ['--values', 'values-prod.yaml', ...allOn] },
  ...guideProfiles,
];

export function helmRun(args: string[]): { ok: boolean; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(helmPath(), args, {
      cwd: repoRoot,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { ok: true, stdout, stderr: '' };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

/** `helm template pyairtable-stack ./helm/pyairtable-stack <args>` (namespace pyairtable unless given). */
export function templateArgs(args: string[]): string[] {
  const hasNs = args.includes('--namespace') || args.includes('-n');
  return ['template', 'pyairtable-stack', chart, ...(hasNs ? [] : ['--namespace', 'pyairtable']), ...args];
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`helm output is not valid YAML: ${d.errors[0]!.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null && typeof o === 'object');
}

const cache = new Map<string, K8sObject[]>();

/** Rendered objects of a profile; throws with helm's message when rendering fails. */
export function render(args: string[]): K8sObject[] {
  const key = JSON.stringify(args);
  let objs = cache.get(key);
  if (!objs) {
    const r = helmRun(templateArgs(args));
    if (!r.ok) throw new Error(`helm template ${args.join(' ')} failed:\n${r.stderr}`);
    objs = parseManifests(r.stdout);
    cache.set(key, objs);
  }
  return objs;
}

export function find(objs: K8sObject[], kind: string, name: string): K8sObject {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) {
    const have = objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ');
    throw new Error(`${kind}/${name} not rendered (have: ${have})`);
  }
  return o;
}

export interface PodView {
  owner: string;
  /** Labels of the pods this object creates. */
  labels: Record<string, string>;
  spec: any;
}

/** The pod template of every workload (StatefulSet, Job, CronJob, bare Pod). */
export function pods(objs: K8sObject[]): PodView[] {
  const out: PodView[] = [];
  for (const o of objs) {
    const owner = `${o.kind}/${o.metadata.name}`;
    if (o.kind === 'StatefulSet' || o.kind === 'Deployment' || o.kind === 'Job') {
      out.push({ owner, labels: o.spec.template.metadata?.labels ?? {}, spec: o.spec.template.spec });
    } else if (o.kind === 'CronJob') {
      const t = o.spec.jobTemplate.spec.template;
      out.push({ owner, labels: t.metadata?.labels ?? {}, spec: t.spec });
    } else if (o.kind === 'Pod') {
      out.push({ owner, labels: o.metadata.labels ?? {}, spec: o.spec });
    }
  }
  return out;
}

export function containersOf(spec: any): any[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
}
