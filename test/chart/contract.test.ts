/**
 * The chart and postgres-agent cannot drift: every container that runs postgres-agent in any
 * profile must call a subcommand the agent declares, with flags that subcommand declares, and an
 * environment the agent's own schema accepts.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Command } from 'commander';
import { buildAgentProgram } from '../../src/agent/program.js';
import { parseAgentEnv, passthroughEnv, formatIssues } from '../../src/core/config/schema.js';
import { validateExtraHba } from '../../src/core/instance/settings.js';
import { cleanupAll } from '../support/cleanup.js';
import { containersOf, find, pods, profiles, render } from './render.js';

after(cleanupAll);

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped JSON */

const program = buildAgentProgram();
const subcommands = new Map<string, Command>(program.commands.map((c) => [c.name(), c]));

/** Values a cluster would inject for valueFrom, so the schema sees realistic text. */
function sampleValueFrom(vf: any): string {
  if (vf.fieldRef?.fieldPath === 'metadata.namespace') return 'pyairtable';
  if (vf.fieldRef?.fieldPath === 'metadata.name') return 'pyairtable-stack-postgres-0';
  if (vf.secretKeyRef) return 'sample-secret-value';
  if (vf.configMapKeyRef) return 'sample-config-value';
  throw new Error(`unexpected valueFrom ${JSON.stringify(vf)}`);
}

/** The container's env as the process would see it, $(VAR) references expanded as the kubelet does. */
export function envOf(container: any): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    const raw = e.valueFrom ? sampleValueFrom(e.valueFrom) : String(e.value ?? '');
    env[e.name] = raw.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string) => env[name] ?? m);
  }
  return env;
}

function flagProblems(sub: Command, args: string[]): string[] {
  const known = new Set(sub.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f)));
  const problems: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) continue;
    const flag = a.split('=')[0]!;
    const opt = sub.options.find((o) => o.long === flag || o.short === flag);
    if (!known.has(flag) || !opt) {
      problems.push(`${sub.name()} does not declare ${flag}`);
      continue;
    }
    if (opt.required && !a.includes('=')) i++; // its value
  }
  return problems;
}

describe('chart to postgres-agent contract', () => {
  it('finds postgres-agent containers for every subcommand the chart uses', () => {
    const used = new Set<string>();
    for (const p of profiles) {
      for (const pod of pods(render(p.args))) {
        for (const c of containersOf(pod.spec))
          if (c.command?.[0] === 'postgres-agent') used.add(c.args?.[0]);
      }
    }
    for (const name of ['instance', 'backup', 'prune', 'restore', 'snapshot', 'sync', 'migrate']) {
      assert.ok(used.has(name), `no profile renders a container running postgres-agent ${name}`);
    }
  });

  for (const profile of profiles) {
    it(`passes only declared subcommands, flags and env to postgres-agent: ${profile.name}`, () => {
      const problems: string[] = [];
      for (const pod of pods(render(profile.args))) {
        for (const c of containersOf(pod.spec)) {
          if (c.command?.[0] !== 'postgres-agent') continue;
          const where = `${pod.owner} container ${c.name}`;
          assert.equal(c.command.length, 1, `${where}: arguments belong in args, not command`);
          const [subName, ...rest] = (c.args ?? []) as string[];
          const sub = subName ? subcommands.get(subName) : undefined;
          if (!sub) {
            problems.push(`${where}: "${subName}" is not a postgres-agent subcommand`);
            continue;
          }
          problems.push(...flagProblems(sub, rest).map((p) => `${where}: ${p}`));

          const env = envOf(c);
          for (const name of Object.keys(env)) {
            const ours = name === 'PGDATA' || name.startsWith('PGOPS_') || passthroughEnv.includes(name);
            if (!ours)
              problems.push(`${where}: env ${name} is neither a PGOPS_* setting nor a known passthrough`);
          }
          const parsed = parseAgentEnv(env);
          if (!parsed.ok) problems.push(`${where}: ${formatIssues(parsed.issues)}`);
          for (const name of Object.keys(env)) {
            if (/PASSWORD$/.test(name))
              problems.push(`${where}: ${name} carries a password in env; use the _FILE form`);
          }
        }
      }
      assert.deepEqual(problems, []);
    });
  }

  it('ships pg_hba lines the agent accepts, and mounts them where PGOPS_HBA_FILE points', () => {
    const objs = render([]);
    const cm = find(objs, 'ConfigMap', 'pyairtable-stack-postgres-config');
    const lines = validateExtraHba(cm.data['pg_hba.conf'], 'pg_hba.conf');
    assert.deepEqual(lines, ['local all postgres peer']);
    const spec = pods(objs).find((p) => p.owner === 'StatefulSet/pyairtable-stack-postgres')!.spec;
    const pg = spec.containers.find((c: any) => c.name === 'postgres');
    const file = envOf(pg).PGOPS_HBA_FILE;
    assert.ok(
      pg.volumeMounts.some(
        (m: any) => m.mountPath === file && m.subPath === 'pg_hba.conf' && m.name === 'config',
      ),
    );
    assert.throws(
      () => validateExtraHba('local all all trust', 'x'),
      'the agent refuses trust, so does the chart',
    );
  });

  it('rejects a misspelt setting, so this test would catch a drifted chart', () => {
    const r = parseAgentEnv({ PGOPS_BACKUP_RETENTON_DAYS: '7' });
    assert.equal(r.ok, false);
  });

  it('gives the primary and the replicas the role, peers and primary host fencing needs', () => {
    const objs = render([
      '--set',
      'databases.postgres.replication.enabled=true',
      '--set',
      'databases.postgres.replication.replicas=2',
    ]);
    const envFor = (owner: string) => {
      const pod = pods(objs).find((p) => p.owner === owner)!;
      return envOf(pod.spec.containers.find((c: any) => c.name === 'postgres'));
    };
    const primary = envFor('StatefulSet/pyairtable-stack-postgres');
    const replica = envFor('StatefulSet/pyairtable-stack-postgres-replica');
    assert.equal(primary.PGOPS_ROLE, 'primary');
    assert.equal(
      primary.PGOPS_PEERS,
      [0, 1]
        .map(
          (i) =>
            `pyairtable-stack-postgres-replica-${i}.pyairtable-stack-postgres-replica-hl.pyairtable.svc.cluster.local:5432`,
        )
        .join(','),
    );
    assert.equal(replica.PGOPS_ROLE, 'replica');
    assert.equal(replica.PGOPS_PRIMARY_HOST, 'pyairtable-stack-postgres.pyairtable.svc.cluster.local');
    assert.equal(
      replica.PGOPS_PEERS,
      'pyairtable-stack-postgres-0.pyairtable-stack-postgres-hl.pyairtable.svc.cluster.local:5432',
    );
    assert.equal(replica.PGOPS_POD_NAME, 'pyairtable-stack-postgres-0'); // sample for fieldRef metadata.name
    assert.equal(primary.PGOPS_DATA_PVC, 'postgres-storage-pyairtable-stack-postgres-0');
    assert.equal(replica.PGOPS_DATA_PVC, 'postgres-storage-pyairtable-stack-postgres-0'); // $(PGOPS_POD_NAME) expanded
  });
});
