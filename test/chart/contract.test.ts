/**
 * The chart and postgres-agent cannot drift: every container that runs postgres-agent in any
 * profile must call a subcommand the agent declares, with flags that subcommand declares, and an
 * environment the agent's own schema accepts.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { CommandUnknownOpts as Command } from '@commander-js/extra-typings';
import { buildAgentProgram } from '../../src/agent/program.js';
import { nestConfig, parseAgentEnv, objectStoreEnv, formatIssues } from '../../src/core/config/schema.js';
import {
  AGENT_OWNED_PARAMETERS,
  CLUSTER_WIDE_MINIMUMS,
  parseConfFragment,
  patroniConfig,
  PATRONI_OWNED_PARAMETERS,
} from '../../src/core/ha/patroni-config.js';
import { validateExtraHba } from '../../src/core/instance/settings.js';
import { ROLE_LABEL } from '../../src/kube/release.js';
import { memberInputs } from '../../src/runtime/instance/patroni-inputs.js';
import { cleanupAll } from '../support/cleanup.js';
import { tempDir } from '../support/tmp.js';
import { containersOf, find, helmRun, pods, profiles, render, templateArgs, toggles } from './render.js';

after(cleanupAll);

/** What a container may carry besides PGOPS_* settings: object-store credentials and process basics. */
const passthroughEnv = [...objectStoreEnv, 'TZ', 'HOME', 'PATH', 'NODE_OPTIONS'];

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped JSON */

const program = buildAgentProgram();
const subcommands = new Map<string, Command>(program.commands.map((c) => [c.name(), c]));

/** Values a cluster would inject for valueFrom, so the schema sees realistic text. */
function sampleValueFrom(vf: any): string {
  if (vf.fieldRef?.fieldPath === 'metadata.namespace') return 'pyairtable';
  if (vf.fieldRef?.fieldPath === 'metadata.name') return 'pyairtable-stack-postgres-0';
  if (vf.fieldRef?.fieldPath === 'status.podIP') return '10.8.0.12';
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

/** The image starts the agent under tini (PID 1 reaps and forwards signals); arguments go in args. */
const AGENT_COMMAND = ['tini', '--', 'postgres-agent'];
const runsAgent = (c: any) => Array.isArray(c.command) && c.command.includes('postgres-agent');

describe('chart to postgres-agent contract', () => {
  it('finds postgres-agent containers for every subcommand the chart uses', () => {
    const used = new Set<string>();
    for (const p of profiles) {
      for (const pod of pods(render(p.args))) {
        for (const c of containersOf(pod.spec)) if (runsAgent(c)) used.add(c.args?.[0]);
      }
    }
    for (const name of [
      'instance',
      'backup',
      'prune',
      'restore',
      'snapshot',
      'sync',
      'migrate',
      'cluster-restore',
      'restore-request',
    ]) {
      assert.ok(used.has(name), `no profile renders a container running postgres-agent ${name}`);
    }
  });

  for (const profile of profiles) {
    it(`passes only declared subcommands, flags and env to postgres-agent: ${profile.name}`, () => {
      const problems: string[] = [];
      for (const pod of pods(render(profile.args))) {
        for (const c of containersOf(pod.spec)) {
          if (!runsAgent(c)) continue;
          const where = `${pod.owner} container ${c.name}`;
          assert.deepEqual(c.command, AGENT_COMMAND, `${where}: arguments belong in args, not command`);
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
    const mount = pg.volumeMounts.find((m: any) => m.name === 'config');
    assert.equal(file, `${mount.mountPath}/pg_hba.conf`);
    assert.equal(envOf(pg).PGOPS_CONFIG_FILE, `${mount.mountPath}/postgresql.conf`);
    assert.ok(cm.data['postgresql.conf'] !== undefined);
    assert.throws(
      () => validateExtraHba('local all all trust', 'x'),
      'the agent refuses trust, so does the chart',
    );
  });

  it('rejects a misspelt setting, so this test would catch a drifted chart', () => {
    const r = parseAgentEnv({ PGOPS_BACKUP_RETENTON_DAYS: '7' });
    assert.equal(r.ok, false);
  });

  it('gives every member what Patroni needs to find the others and the leader record to route the read-write Service', () => {
    const objs = render(toggles.replication!);
    const sts = find(objs, 'StatefulSet', 'pyairtable-stack-postgres');
    const pg = sts.spec.template.spec.containers.find((c: any) => c.name === 'postgres');
    const env = envOf(pg);
    // The member's own environment, with local passwords instead of the mounted files.
    const parsed = parseAgentEnv({
      ...Object.fromEntries(Object.entries(env).filter(([k]) => !k.endsWith('_PASSWORD_FILE'))),
      PGDATA: `${tempDir()}/pgdata`,
      PGOPS_MAX_SLOT_WAL_KEEP_SIZE: '1GB',
      PGOPS_SUPERUSER_PASSWORD: 's',
      PGOPS_REPLICATION_PASSWORD: 'r',
      PGOPS_RESTAPI_PASSWORD: 'p',
    });
    assert.ok(parsed.ok, parsed.ok ? '' : formatIssues(parsed.issues));
    const conf = find(objs, 'ConfigMap', 'pyairtable-stack-postgres-config').data;
    const { inputs } = memberInputs(
      nestConfig(parsed.value),
      {
        parameters: parseConfFragment(conf['postgresql.conf']).parameters,
        extraHba: validateExtraHba(conf['pg_hba.conf'], 'pg_hba.conf'),
      },
      { postBootstrap: 'x', noFailover: false, binDir: '/usr/lib/postgresql/15/bin' },
    );
    const patroni = patroniConfig(inputs);
    const k8s = patroni.kubernetes as any;
    const podLabels = sts.spec.template.metadata.labels;
    // Patroni lists member pods by its labels plus scope_label=<scope>: every member pod carries them.
    for (const [key, value] of Object.entries({ ...k8s.labels, [k8s.scope_label]: patroni.scope }))
      assert.equal(podLabels[key], value, `member pods lack ${key}=${value}, Patroni would not find them`);
    // ... and so do the chart's leader Endpoints, or Patroni would not see them and could never take the lock.
    const ep = find(objs, 'Endpoints', String(patroni.scope));
    for (const [key, value] of Object.entries({ ...k8s.labels, [k8s.scope_label]: patroni.scope }))
      assert.equal(ep.metadata.labels[key], value, `Endpoints ${patroni.scope} lack ${key}=${value}`);
    // The leader Endpoints are the read-write Service's: same name, port named alike.
    const rw = find(objs, 'Service', String(patroni.scope));
    assert.equal(rw.spec.selector, undefined);
    assert.deepEqual(
      k8s.ports.map((p: any) => [p.name, p.port]),
      rw.spec.ports.map((p: any) => [p.name, p.targetPort]),
    );
    assert.equal(k8s.use_endpoints, true);
    assert.equal(k8s.pod_ip, '10.8.0.12');
    // The read-only Service selects the value Patroni 3.0.2 writes into its role label.
    assert.equal(
      find(objs, 'Service', 'pyairtable-stack-postgres-read').spec.selector[k8s.role_label],
      'replica',
    );
    assert.equal(k8s.role_label, ROLE_LABEL, 'the CLI reads the role from the same label');
    // <scope>-config exists, so Patroni needs no right to create Services.
    find(objs, 'Service', `${patroni.scope}-config`);
    // The REST API listens on the port the pod declares and the NetworkPolicy opens between members.
    assert.equal(
      (patroni.restapi as any).listen,
      `0.0.0.0:${pg.ports.find((p: any) => p.name === 'patroni').containerPort}`,
    );
    assert.equal(patroni.name, 'pyairtable-stack-postgres-0');
  });

  it('refuses in values every parameter Patroni owns, so none is dropped silently at run time', () => {
    for (const name of PATRONI_OWNED_PARAMETERS) {
      const r = helmRun(templateArgs(['--set', `databases.postgres.postgresql.parameters.${name}=x`]));
      assert.equal(r.ok, false, `${name} is accepted by the chart but ignored by Patroni`);
      assert.match(r.stderr, new RegExp(`parameters\\.${name} is set by postgres-agent`));
    }
  });

  it('refuses in values every parameter the agent owns, and WAL senders or slots below its minimum', () => {
    for (const name of AGENT_OWNED_PARAMETERS) {
      const r = helmRun(templateArgs(['--set', `databases.postgres.postgresql.parameters.${name}=x`]));
      assert.equal(r.ok, false, `${name} is accepted by the chart but dropped by the agent`);
      assert.match(r.stderr, new RegExp(`parameters\\.${name} is set by postgres-agent`));
    }
    for (const [name, minimum] of Object.entries(CLUSTER_WIDE_MINIMUMS)) {
      const low = helmRun(
        templateArgs(['--set', `databases.postgres.postgresql.parameters.${name}=${minimum - 1}`]),
      );
      assert.equal(low.ok, false, `${name}=${minimum - 1} is accepted by the chart but dropped by the agent`);
      assert.match(
        low.stderr,
        new RegExp(`parameters\\.${name} is ${minimum - 1}: replicas and backups need at least ${minimum}`),
      );
      const raised = helmRun(
        templateArgs(['--set', `databases.postgres.postgresql.parameters.${name}=${minimum * 2}`]),
      );
      assert.equal(raised.ok, true, raised.stderr);
    }
  });
});
