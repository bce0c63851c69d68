/**
 * A kubeconfig file pointing at a stand-in API server on loopback (no real cluster can run here):
 * one cluster, one token user, one current context `ctx` with a namespace.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './tmp.js';

export interface KubeconfigOptions {
  /** The context's namespace. */
  namespace?: string;
  /** For an https:// server with no real certificate. */
  insecureSkipTlsVerify?: boolean;
}

/** Writes the kubeconfig into a new temporary directory and returns its path (for KUBECONFIG). */
export function writeKubeconfig(server: string, opts: KubeconfigOptions = {}): string {
  const file = join(tempDir(), 'kubeconfig');
  const cluster: Record<string, unknown> = { server };
  if (opts.insecureSkipTlsVerify) cluster['insecure-skip-tls-verify'] = true;
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster }],
      users: [{ name: 'u', user: { token: 'not-a-real-token' } }],
      contexts: [
        { name: 'ctx', context: { cluster: 'c', user: 'u', namespace: opts.namespace ?? 'pyairtable' } },
      ],
      'current-context': 'ctx',
    }),
  );
  return file;
}
