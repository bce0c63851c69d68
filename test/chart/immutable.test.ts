/**
 * Upgrade safety: the fields the chart renders into places Kubernetes never lets an update change
 * (a StatefulSet's selector, serviceName, podManagementPolicy and claim templates; a StorageClass's
 * provisioner, parameters, reclaim policy, binding mode and topologies; a PVC's class and access
 * modes; a headless Service's clusterIP; a VolumeSnapshotClass's driver and parameters; a Job's
 * pod template), and which values feed them. Found by changing every scalar value in values.yaml,
 * one at a time, and comparing those fields with the unchanged render: a value that starts feeding
 * one of them fails this test until docs/operations.md and docs/chart.md say what to do about it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { parse } from 'yaml';
import { cleanupAll } from '../support/cleanup.js';
import { chartDir, helmPath, repoRoot } from '../support/tools.js';
import { parseManifests, productionLike, render, templateArgs, toggles, type K8sObject } from './render.js';
import { resolveSchema, valuesSchema } from './values-schema.js';

after(cleanupAll);

/* eslint-disable @typescript-eslint/no-explicit-any -- values, schema and manifests are untyped JSON */

/** Paths of the immutable fields of each kind the chart renders. */
const IMMUTABLE: Record<string, string[]> = {
  StatefulSet: ['spec.selector', 'spec.serviceName', 'spec.podManagementPolicy', 'spec.volumeClaimTemplates'],
  StorageClass: ['provisioner', 'parameters', 'reclaimPolicy', 'volumeBindingMode', 'allowedTopologies'],
  PersistentVolumeClaim: ['spec.storageClassName', 'spec.accessModes'],
  Service: ['spec.clusterIP'],
  VolumeSnapshotClass: ['driver', 'parameters', 'deletionPolicy'],
  Job: ['spec.template', 'spec.selector'],
};

/**
 * What feeds them, and why an upgrade still works (docs/operations.md "What an upgrade cannot
 * change"). Job templates are immutable too, but the chart's Jobs are hooks deleted before they are
 * created again (before-hook-creation), so any value may change them.
 */
const EXPECTED: Record<string, string[]> = {
  'StatefulSet/pyairtable-stack-postgres spec.selector': ['nameOverride'],
  'StatefulSet/pyairtable-stack-postgres spec.volumeClaimTemplates': [
    'databases.postgres.persistence.size',
    'databases.postgres.persistence.storageClass',
    'nameOverride',
  ],
  // The repository pod of point-in-time recovery (values-prod.yaml turns it on).
  'StatefulSet/pyairtable-stack-postgres-repo spec.selector': ['nameOverride'],
  'StatefulSet/pyairtable-stack-postgres-repo spec.volumeClaimTemplates': [
    'databases.postgres.pitr.repo1.storageClass',
    'databases.postgres.pitr.repo1.storageSize',
    'nameOverride',
  ],
  'StorageClass/* provisioner': ['databases.postgres.storageClasses.provisioner'],
  'StorageClass/* parameters': [
    'databases.postgres.storageClasses.backup.parameters.type',
    'databases.postgres.storageClasses.dev.parameters.type',
    'databases.postgres.storageClasses.diskEncryptionKmsKey',
    'databases.postgres.storageClasses.prod.parameters.replication-type',
    'databases.postgres.storageClasses.prod.parameters.type',
    'databases.postgres.storageClasses.staging.parameters.replication-type',
    'databases.postgres.storageClasses.staging.parameters.type',
  ],
  'StorageClass/* reclaimPolicy': [
    'databases.postgres.storageClasses.backup.reclaimPolicy',
    'databases.postgres.storageClasses.dev.reclaimPolicy',
    'databases.postgres.storageClasses.prod.reclaimPolicy',
    'databases.postgres.storageClasses.staging.reclaimPolicy',
  ],
  'StorageClass/* volumeBindingMode': [
    'databases.postgres.storageClasses.backup.volumeBindingMode',
    'databases.postgres.storageClasses.dev.volumeBindingMode',
    'databases.postgres.storageClasses.prod.volumeBindingMode',
    'databases.postgres.storageClasses.staging.volumeBindingMode',
  ],
  'PersistentVolumeClaim/pyairtable-stack-postgres-backup-pvc spec.storageClassName': [
    'databases.postgres.backup.storageClass',
  ],
  'VolumeSnapshotClass/postgres-snapshots deletionPolicy': ['databases.postgres.snapshots.deletionPolicy'],
  'VolumeSnapshotClass/postgres-snapshots driver': ['databases.postgres.snapshots.driver'],
};

/** Values whose change renames objects instead (a new object next to the old one). */
const RENAMES = [
  'databases.postgres.snapshots.volumeSnapshotClass',
  'databases.postgres.storageClasses.backup.name',
  'databases.postgres.storageClasses.dev.name',
  'databases.postgres.storageClasses.prod.name',
  'databases.postgres.storageClasses.staging.name',
  'fullnameOverride',
];

/** Every object of the chart at once: the profile the values are changed against. */
const base = [...productionLike, ...toggles.restore!, ...toggles.migration!, ...toggles.networkPolicy!];

const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8'));

function schemaAt(path: string[]): any {
  let node: any = valuesSchema;
  const resolve = (n: any) => resolveSchema(n);
  for (const k of path) {
    node = resolve(node);
    node =
      node?.properties?.[k] ??
      (typeof node?.additionalProperties === 'object' ? node.additionalProperties : undefined);
  }
  return resolve(node);
}

/** Every scalar leaf of values.yaml (maps walked, lists left alone). */
function leaves(node: any, path: string[] = []): [string[], unknown][] {
  if (node !== null && typeof node === 'object' && !Array.isArray(node))
    return Object.entries(node).flatMap(([k, v]) => leaves(v, [...path, k]));
  if (Array.isArray(node)) return [];
  return [[path, node]];
}

/** Candidate new values for a leaf, most plausible first; the first that renders is used. */
function candidates(path: string[], v: unknown): string[] {
  const s = schemaAt(path) ?? {};
  if (typeof v === 'boolean') return [String(!v)];
  if (typeof v === 'number') return [String(v + 1), String(v - 1), String(v * 2)];
  if (v === null) return ['7'];
  const text = String(v);
  if (Array.isArray(s.enum)) return s.enum.filter((e: unknown) => e !== v).map(String);
  const out: string[] = [];
  const num = /^(\d+)(.*)$/.exec(text);
  if (num) out.push(`${Number(num[1]) + 1}${num[2]}`);
  out.push(`${text}x`, 'x', 'https://x.example.com', '0 4 * * *', '1GB');
  return out;
}

/** Changes that need a companion value to be valid. */
const CHANGES: Record<string, string[]> = {
  'databases.postgres.tls.enabled': [
    'databases.postgres.tls.enabled=true',
    'databases.postgres.tls.existingSecret=pg-tls',
  ],
  'databases.postgres.backup.enabled': [
    'databases.postgres.backup.enabled=false',
    'databases.postgres.crossRegion.enabled=false',
  ],
  // One restore target at a time: the profile restores a backupFile.
  'databases.postgres.restore.targetTime': [
    'databases.postgres.restore.backupFile=',
    'databases.postgres.restore.targetTime=2026-11-30T14:02:59+00:00',
  ],
  'databases.postgres.restore.latest': [
    'databases.postgres.restore.backupFile=',
    'databases.postgres.restore.latest=true',
  ],
  // The chart ships SQL for 2.0.0 only; another version comes from a ConfigMap.
  'databases.postgres.migration.version': [
    'databases.postgres.migration.version=3.0.0',
    'databases.postgres.migration.configMap=migrations-3',
  ],
};

function helmAsync(args: string[]): Promise<{ ok: boolean; stdout: string }> {
  return new Promise((resolve) => {
    execFile(helmPath(), args, { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) =>
      resolve({ ok: !err, stdout }),
    );
  });
}

const get = (o: any, path: string) => path.split('.').reduce((x, k) => x?.[k], o);
const id = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;

describe('fields Kubernetes never lets an upgrade change', () => {
  it('are fed only by the values the documentation names', async () => {
    const before = new Map(render(base).map((o) => [id(o), o]));
    const feeds = new Map<string, Set<string>>();
    const renames = new Set<string>();
    const unchanged: string[] = [];
    const todo = leaves(values);
    const worker = async () => {
      for (let item = todo.shift(); item; item = todo.shift()) {
        const [path, v] = item;
        const key = path.join('.');
        let after: K8sObject[] | undefined;
        const attempts = CHANGES[key]
          ? [CHANGES[key].flatMap((c) => ['--set', c])]
          : // Strings stay strings (--set-string); numbers and booleans keep their type (--set).
            candidates(path, v).map((c) => [typeof v === 'string' ? '--set-string' : '--set', `${key}=${c}`]);
        for (const change of attempts) {
          const r = await helmAsync(templateArgs([...base, ...change]));
          if (r.ok) {
            after = parseManifests(r.stdout);
            break;
          }
        }
        if (!after) {
          unchanged.push(key);
          continue;
        }
        const afterIds = new Set(after.map(id));
        if (
          [...before.keys()].some((k) => !afterIds.has(k) && !k.startsWith('Job/')) &&
          after.length >= before.size
        )
          renames.add(key);
        for (const o of after) {
          const old = before.get(id(o));
          if (!old) continue;
          for (const field of IMMUTABLE[o.kind] ?? []) {
            if (isDeepStrictEqual(get(o, field), get(old, field))) continue;
            if (o.kind === 'Job') continue; // hooks: deleted before they are created again
            const name = o.kind === 'StorageClass' ? `${o.kind}/*` : id(o);
            const k = `${name} ${field}`;
            if (!feeds.has(k)) feeds.set(k, new Set());
            feeds.get(k)!.add(key);
          }
        }
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    const found = Object.fromEntries(
      [...feeds.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, s]) => [k, [...s].sort()]),
    );
    const expected = Object.fromEntries(Object.entries(EXPECTED).sort(([a], [b]) => a.localeCompare(b)));
    assert.deepEqual(found, expected);
    assert.deepEqual([...renames].sort(), RENAMES);
    assert.deepEqual(unchanged, [], 'values this test could not change (no valid alternative found)');
  });

  it('keep the StatefulSet fields every earlier chart version rendered, so upgrades apply', () => {
    const sts = render([]).find((o) => o.kind === 'StatefulSet')!;
    // As rendered by the chart before Patroni: the selector of the primary StatefulSet, its governing
    // Service and its ordered start.
    assert.deepEqual(sts.spec.selector, {
      matchLabels: {
        'app.kubernetes.io/name': 'pyairtable-stack',
        'app.kubernetes.io/instance': 'pyairtable-stack',
        'app.kubernetes.io/component': 'postgres-primary',
      },
    });
    assert.equal(sts.spec.serviceName, 'pyairtable-stack-postgres-hl');
    assert.equal(sts.spec.podManagementPolicy, 'OrderedReady');
    assert.deepEqual(sts.spec.volumeClaimTemplates[0].metadata, {
      name: 'postgres-storage',
      labels: {
        'app.kubernetes.io/name': 'pyairtable-stack',
        'app.kubernetes.io/instance': 'pyairtable-stack',
      },
    });
  });

  it('are never in a Job the chart updates in place: its Jobs are hooks replaced on each run', () => {
    for (const job of render(base).filter((o) => o.kind === 'Job'))
      assert.match(
        job.metadata.annotations?.['helm.sh/hook-delete-policy'] ?? '',
        /before-hook-creation/,
        id(job),
      );
  });
});
