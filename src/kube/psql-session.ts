/** An interactive `psql` in a member's pod, through kubectl (the terminal passed through). */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Member } from '../core/cluster/cluster-api.js';
import { OperationFailed } from '../core/errors.js';
import { CONTAINER, type KubeRelease } from './release.js';

/** `kubectl exec -it POD -c postgres -- psql -U postgres -d DB` with the terminal passed through. */
export async function psqlSession(rel: KubeRelease, member: Member, database: string): Promise<number> {
  const kubectl = findKubectl();
  const ctx = rel.k.kc.getCurrentContext();
  const args = [
    ...(rel.kubeconfigFile ? ['--kubeconfig', rel.kubeconfigFile] : []),
    ...(ctx ? ['--context', ctx] : []),
    '-n',
    rel.namespace,
    'exec',
    '-it',
    member.name,
    '-c',
    CONTAINER,
    '--',
    'psql',
    '-U',
    'postgres',
    '-d',
    database,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(kubectl, args, { stdio: 'inherit' });
    child.on('error', (err) =>
      reject(
        new OperationFailed(
          'E_NO_KUBECTL',
          `could not run kubectl: ${err.message}`,
          {},
          {
            hint: 'Install kubectl and put it on PATH.',
          },
        ),
      ),
    );
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

function findKubectl(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    if (existsSync(join(dir, 'kubectl'))) return join(dir, 'kubectl');
  }
  return 'kubectl';
}
