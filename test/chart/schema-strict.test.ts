/**
 * The strict schema check itself (test/support/k8s-schema.ts): it must catch a misspelled field that
 * kubernetes-models' own `.validate()` lets through, leave maps (labels, data, resources) open, know
 * the prometheus-operator kinds, and be closed at every other position of every object the chart
 * renders. render.test.ts then applies it to every profile.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { cleanupAll } from '../support/cleanup.js';
import { checkObject } from '../support/k8s-schema.js';
import { profiles, render, type K8sObject } from './render.js';

after(cleanupAll);

/* eslint-disable @typescript-eslint/no-explicit-any -- hand-made manifests */

function statefulSet(container: Record<string, unknown>): K8sObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db', labels: { 'app.kubernetes.io/name': 'postgres' }, annotations: { a: 'b' } },
    spec: {
      serviceName: 'db',
      selector: { matchLabels: { app: 'db' } },
      template: {
        metadata: { labels: { app: 'db' } },
        spec: {
          containers: [
            {
              name: 'postgres',
              image: 'postgres:15',
              resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } },
              ...container,
            },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data' },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } },
        },
      ],
    },
  };
}

describe('strict schema check', () => {
  it('reports a misspelled securityContext that kubernetes-models validate() accepts', async () => {
    const typo = statefulSet({ securityContex: { runAsNonRoot: true } });
    // The gap this check closes: the model's own validation passes.
    assert.doesNotThrow(() => new StatefulSet(typo).validate());
    assert.deepEqual(await checkObject(typo), [
      'StatefulSet/db: unknown field spec.template.spec.containers[0].securityContex',
    ]);
  });

  it('accepts the same object spelled correctly, with free keys in labels, annotations and resources', async () => {
    assert.deepEqual(await checkObject(statefulSet({ securityContext: { runAsNonRoot: true } })), []);
  });

  it('reports unknown fields at the top, in metadata and in arrays of objects', async () => {
    const o = statefulSet({ env: [{ name: 'A', valu: '1' }] });
    o.metadata.lables = { a: 'b' };
    o.sepc = {};
    assert.deepEqual(await checkObject(o), [
      'StatefulSet/db: unknown field metadata.lables',
      'StatefulSet/db: unknown field sepc',
      'StatefulSet/db: unknown field spec.template.spec.containers[0].env[0].valu',
    ]);
  });

  it('still reports schema errors such as a missing required field or a wrong type', async () => {
    const o = statefulSet({ ports: [{ containerPort: 'five' }] });
    delete o.spec.selector;
    const problems = await checkObject(o);
    assert.ok(
      problems.some((p) => /data\/spec must have required property selector/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes('containers/0/ports/0/containerPort must be integer')),
      problems.join('\n'),
    );
  });

  it('validates ServiceMonitor and PrometheusRule with the prometheus-operator schemas', async () => {
    const sm = {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'pg' },
      spec: {
        selector: { matchLabels: { app: 'pg' } },
        endpoints: [{ port: 'metrics', intervall: '30s' }],
      },
    };
    assert.deepEqual(await checkObject(sm), ['ServiceMonitor/pg: unknown field spec.endpoints[0].intervall']);

    const rule = {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: 'pg' },
      spec: { groups: [{ rules: [{ alert: 'PostgresDown', expresion: 'pg_up == 0' }] }] },
    };
    const problems = await checkObject(rule);
    assert.ok(
      problems.some((p) => /groups\/0 must have required property name/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /rules\/0 must have required property expr/.test(p)),
      problems.join('\n'),
    );
    assert.ok(problems.includes('PrometheusRule/pg: unknown field spec.groups[0].rules[0].expresion'));
  });

  it('says so when a kind has no schema at all', async () => {
    const o = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
    assert.deepEqual(await checkObject(o), ['Widget/w: no schema for example.com/v1 Widget']);
  });

  it('is closed at every position of every rendered object except the maps Kubernetes defines', async () => {
    // Plant a stray field in each object node of the widest profile: it must be reported as unknown,
    // unless the node is one of these maps (string keys chosen by the user).
    const maps = new Set([
      'labels',
      'annotations',
      'matchLabels',
      'data',
      'parameters',
      'limits',
      'requests',
    ]);
    const profile = profiles.find((p) => p.name === 'everything on with values-prod.yaml')!;
    const open: string[] = [];
    let closed = 0;
    for (const rendered of render(profile.args)) {
      const o = structuredClone(rendered);
      const id = `${o.kind}/${o.metadata.name}`;
      const visit = async (node: any, path: string, key: string): Promise<void> => {
        if (Array.isArray(node)) {
          for (const [i, v] of node.entries()) await visit(v, `${path}[${i}]`, key);
          return;
        }
        if (typeof node !== 'object' || node === null) return;
        node.zzStray = 'x';
        const problems = await checkObject(o);
        delete node.zzStray;
        const where = path ? `${path}.zzStray` : 'zzStray';
        if (problems.includes(`${id}: unknown field ${where}`)) closed++;
        // A Service's selector is a plain label map, unlike a workload's LabelSelector.
        else if (!maps.has(key) && !(o.kind === 'Service' && path === 'spec.selector')) {
          open.push(`${id} ${path || '(root)'}`);
        }
        for (const [k, v] of Object.entries(node)) await visit(v, path ? `${path}.${k}` : k, k);
      };
      await visit(o, '', '');
    }
    assert.deepEqual(open, [], 'positions where a misspelled field would pass');
    assert.ok(closed > 300, `only ${closed} closed positions checked`);
  });
});
