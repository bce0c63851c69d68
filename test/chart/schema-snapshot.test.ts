/**
 * snapshot.storage.k8s.io/v1 has no models package; test/support/k8s-schema.ts carries a schema
 * for the fields we use. Here: the schema refuses what the CRD refuses, the chart's
 * VolumeSnapshotClass passes it, and so does the VolumeSnapshot the snapshot command sends.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { buildVolumeSnapshot } from '../../src/core/snapshot/build.js';
import { ANNOTATION_CONSISTENCY, ANNOTATION_START_LSN } from '../../src/core/snapshot/model.js';
import { cleanupAll } from '../support/cleanup.js';
import { checkObject } from '../support/k8s-schema.js';
import { find, render } from './render.js';

after(cleanupAll);

/* eslint-disable @typescript-eslint/no-explicit-any -- hand-made manifests */

const snapshot = (spec: Record<string, unknown>, extra: Record<string, unknown> = {}): any => ({
  apiVersion: 'snapshot.storage.k8s.io/v1',
  kind: 'VolumeSnapshot',
  metadata: { name: 's1', namespace: 'pyairtable' },
  spec,
  ...extra,
});

const snapshotClass = (fields: Record<string, unknown>): any => ({
  apiVersion: 'snapshot.storage.k8s.io/v1',
  kind: 'VolumeSnapshotClass',
  metadata: { name: 'postgres-snapshots' },
  ...fields,
});

describe('VolumeSnapshot schema', () => {
  it('accepts the VolumeSnapshot the snapshot command builds, with and without a class', async () => {
    const base = {
      name: 'postgres-data-20240101-020000',
      namespace: 'pyairtable',
      release: 'pyairtable-stack',
      pvc: 'data-pyairtable-stack-postgres-0',
      annotations: { [ANNOTATION_CONSISTENCY]: 'backup-mode', [ANNOTATION_START_LSN]: '0/3000028' },
    };
    assert.deepEqual(
      await checkObject(buildVolumeSnapshot({ ...base, snapshotClass: 'postgres-snapshots' })),
      [],
    );
    assert.deepEqual(await checkObject(buildVolumeSnapshot(base)), []);
  });

  it('accepts a VolumeSnapshot read back with the status the snapshot controller writes', async () => {
    const o = snapshot(
      { volumeSnapshotClassName: 'c', source: { persistentVolumeClaimName: 'data-0' } },
      {
        status: {
          boundVolumeSnapshotContentName: 'snapcontent-1',
          creationTime: '2024-01-01T02:00:05Z',
          readyToUse: true,
          restoreSize: '10Gi',
        },
      },
    );
    assert.deepEqual(await checkObject(o), []);
    o.status.restoreSize = 10737418240;
    assert.deepEqual(await checkObject(o), []);
    o.status.restoreSize = '10 GB';
    const problems = await checkObject(o);
    assert.ok(
      problems.includes('VolumeSnapshot/s1: status.restoreSize: must match a schema in anyOf'),
      problems.join('\n'),
    );
  });

  it('refuses a source naming neither or both of a PVC and a VolumeSnapshotContent', async () => {
    for (const source of [{}, { persistentVolumeClaimName: 'data-0', volumeSnapshotContentName: 'c' }]) {
      const problems = await checkObject(snapshot({ source }));
      assert.ok(
        problems.includes('VolumeSnapshot/s1: spec.source: must match exactly one schema in oneOf'),
        problems.join('\n'),
      );
    }
    assert.deepEqual(await checkObject(snapshot({ volumeSnapshotContentName: 'c' }, {})), [
      "VolumeSnapshot/s1: spec: must have required property 'source'",
      'VolumeSnapshot/s1: unknown field spec.volumeSnapshotContentName',
    ]);
  });

  it('refuses an empty class name, misspelled fields and a malformed metadata', async () => {
    const o = snapshot(
      { volumeSnapshotClassName: '', source: { persistentVolumeClaimName: 'data-0', pvc: 'x' } },
      { sepc: {} },
    );
    o.metadata.labels = { a: 1 };
    o.metadata.lables = {};
    const problems = await checkObject(o);
    assert.deepEqual(problems, [
      'VolumeSnapshot/s1: unknown field sepc',
      'VolumeSnapshot/s1: spec.volumeSnapshotClassName: must NOT have fewer than 1 characters',
      'VolumeSnapshot/s1: unknown field spec.source.pvc',
      'VolumeSnapshot/s1: metadata: data/labels/a must be string',
      'VolumeSnapshot/s1: unknown field metadata.lables',
    ]);
  });
});

describe('VolumeSnapshotClass schema', () => {
  it("accepts the chart's VolumeSnapshotClass", async () => {
    const vsc = find(
      render(['--values', 'values-staging.yaml']),
      'VolumeSnapshotClass',
      'postgres-snapshots',
    );
    assert.deepEqual(await checkObject(vsc), []);
  });

  it('refuses a class without a driver, a deletion policy other than Delete or Retain, and non-string parameters', async () => {
    assert.deepEqual(
      await checkObject(snapshotClass({ deletionPolicy: 'Keep', parameters: { 'storage-locations': 1 } })),
      [
        "VolumeSnapshotClass/postgres-snapshots: (root): must have required property 'driver'",
        'VolumeSnapshotClass/postgres-snapshots: deletionPolicy: must be equal to one of the allowed values (Delete, Retain)',
        'VolumeSnapshotClass/postgres-snapshots: parameters.storage-locations: must be string',
      ],
    );
    assert.deepEqual(
      await checkObject(
        snapshotClass({ driver: 'pd.csi.storage.gke.io', deletionPolicy: 'Retain', spec: {} }),
      ),
      ['VolumeSnapshotClass/postgres-snapshots: unknown field spec'],
    );
  });
});
