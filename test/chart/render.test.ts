import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cleanupAll } from '../support/cleanup.js';
import { helmRun, profiles, render, type K8sObject } from './render.js';

after(cleanupAll);

/* eslint-disable @typescript-eslint/no-explicit-any -- model classes are looked up by kind */
type Model = new (data: any) => { validate(): void };

/** kubernetes-models module of a built-in kind: apps/v1 -> kubernetes-models/apps/v1/<Kind>. */
async function modelFor(o: K8sObject): Promise<Model | undefined> {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  const path = group
    ? `kubernetes-models/${group}/${version}/${o.kind}`
    : `kubernetes-models/${version}/${o.kind}`;
  try {
    const mod = (await import(path)) as Record<string, Model>;
    return mod[o.kind];
  } catch {
    return undefined;
  }
}

/**
 * Custom resources have no model in the installed kubernetes-models (no @kubernetes-models/* CRD
 * packages): their required fields are checked here by hand, from the CRDs' own schemas.
 */
const crdChecks: Record<string, (o: K8sObject) => string[]> = {
  'snapshot.storage.k8s.io/v1/VolumeSnapshotClass': (o) => [
    ...(typeof o.driver === 'string' && o.driver ? [] : ['driver is required']),
    ...(['Delete', 'Retain'].includes(o.deletionPolicy) ? [] : ['deletionPolicy must be Delete or Retain']),
    ...(o.parameters === undefined ||
    Object.values(o.parameters as Record<string, unknown>).every((v) => typeof v === 'string')
      ? []
      : ['parameters values must be strings']),
  ],
  'monitoring.coreos.com/v1/ServiceMonitor': (o) => [
    ...(o.spec?.selector && typeof o.spec.selector === 'object' ? [] : ['spec.selector is required']),
    ...(Array.isArray(o.spec?.endpoints) && o.spec.endpoints.length > 0
      ? []
      : ['spec.endpoints is required']),
  ],
  'monitoring.coreos.com/v1/PrometheusRule': (o) =>
    Array.isArray(o.spec?.groups) && o.spec.groups.length > 0
      ? o.spec.groups.flatMap((g: any, i: number) => [
          ...(g.name ? [] : [`spec.groups[${i}].name is required`]),
          ...(g.rules ?? []).flatMap((r: any, j: number) =>
            (r.alert || r.record) && typeof r.expr === 'string' && r.expr.trim()
              ? []
              : [`spec.groups[${i}].rules[${j}] needs alert or record, and expr`],
          ),
        ])
      : ['spec.groups is required'],
};

describe('every profile renders valid Kubernetes objects', () => {
  for (const profile of profiles) {
    it(`lints with --strict and renders: ${profile.name}`, async () => {
      // lint takes the values, not the install-only flags.
      const lintArgs = profile.args.filter((a) => a !== '--create-namespace');
      const lint = helmRun(['lint', '--strict', './helm/pyairtable-stack', ...lintArgs]);
      assert.ok(lint.ok, `helm lint --strict failed:\n${lint.stdout}\n${lint.stderr}`);

      const objs = render(profile.args);
      assert.ok(objs.length > 5, 'expected the chart to render its objects');
      const problems: string[] = [];
      for (const o of objs) {
        const id = `${o.kind}/${o.metadata?.name}`;
        assert.ok(o.metadata?.name, `${o.kind} without a name`);
        const crd = crdChecks[`${o.apiVersion}/${o.kind}`];
        if (crd) {
          problems.push(...crd(o).map((p) => `${id}: ${p}`));
          continue;
        }
        const Model = await modelFor(o);
        if (!Model) {
          problems.push(`${id}: no schema for ${o.apiVersion} ${o.kind}`);
          continue;
        }
        try {
          new Model(o).validate();
        } catch (err) {
          problems.push(`${id}: ${(err as Error).message}`);
        }
      }
      assert.deepEqual(problems, []);
    });
  }

  it('gives every object of a profile a unique kind and name', () => {
    for (const profile of profiles) {
      const seen = new Set<string>();
      for (const o of render(profile.args)) {
        const id = `${o.kind}/${o.metadata.name}`;
        assert.ok(!seen.has(id), `${profile.name}: ${id} rendered twice`);
        seen.add(id);
      }
    }
  });
});
