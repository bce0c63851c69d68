import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cleanupAll } from '../support/cleanup.js';
import { checkObject } from '../support/k8s-schema.js';
import { helmRun, profiles, render } from './render.js';

after(cleanupAll);

describe('every profile renders valid Kubernetes objects', () => {
  for (const profile of profiles) {
    it(`lints with --strict and renders objects that match their schemas, unknown fields included: ${profile.name}`, async () => {
      // lint takes the values, not the install-only flags.
      const lintArgs = profile.args.filter(
        (a, i, all) =>
          a !== '--create-namespace' && a !== '--api-versions' && all[i - 1] !== '--api-versions',
      );
      const lint = helmRun(['lint', '--strict', './helm/pyairtable-stack', ...lintArgs]);
      // One warning is by design: Patroni 3.0.2 keeps the leader lock in v1 Endpoints (deprecated
      // in Kubernetes 1.33, still served; EndpointSlices are mirrored from them), so the chart
      // creates the read-write Service's Endpoints. Any other warning or error fails.
      const lintProblems = `${lint.stdout}\n${lint.stderr}`
        .split('\n')
        .filter((l) => /^\[(WARNING|ERROR)\]/.test(l))
        .filter((l) => !/members\/services\.yaml: v1 Endpoints is deprecated in v1\.33\+/.test(l));
      assert.deepEqual(lintProblems, [], `helm lint --strict failed:\n${lint.stdout}\n${lint.stderr}`);
      assert.ok(lint.ok || /1 chart\(s\) failed/.test(lint.stdout + lint.stderr), lint.stderr);

      const objs = render(profile.args);
      assert.ok(objs.length > 5, 'expected the chart to render its objects');
      // Schema of every kind (custom resources included) and no field the schema does not define.
      const problems: string[] = [];
      for (const o of objs) {
        assert.ok(o.metadata?.name, `${o.kind} without a name`);
        problems.push(...(await checkObject(o)));
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
