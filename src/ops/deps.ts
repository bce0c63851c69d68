import { realpathSync } from 'node:fs';
/**
 * What a command gets: the cluster (local or Kubernetes, chosen once here) and the output host
 * (with its confirmation prompt). Local mode is chosen with --local, or when local state exists and
 * none of --context, --kubeconfig and -n names a cluster.
 */
import type { ConfirmRequest, OutputHost } from '../core/output.js';
import { KubeCluster } from '../kube/cluster.js';
import { LocalCluster } from '../local/cluster.js';
import { defaultStateDir, stateExists } from '../local/state.js';
import type { ClusterApi } from '../core/cluster/cluster-api.js';
import type { GlobalOptions } from './options.js';

export interface OpsDeps {
  cluster: ClusterApi;
  out: OutputHost;
  /** The host's confirmation, with --yes applied. */
  confirm: (req: Omit<ConfirmRequest, 'yes'>) => Promise<void>;
  opts: GlobalOptions;
}

const confirmWith = (out: OutputHost, opts: GlobalOptions) => (req: Omit<ConfirmRequest, 'yes'>) =>
  out.confirm({ ...req, yes: opts.yes });

/** The state folder, with links resolved: the instances get real paths they can reach. */
export function stateDirOf(opts: GlobalOptions): string {
  const dir = opts.stateDir ?? defaultStateDir();
  try {
    return realpathSync(dir);
  } catch {
    return dir;
  }
}

export function wantsLocal(opts: GlobalOptions): boolean {
  if (opts.local) return true;
  if (opts.context || opts.kubeconfig || opts.namespace) return false;
  return stateExists(stateDirOf(opts));
}

export async function resolveCluster(opts: GlobalOptions): Promise<ClusterApi> {
  if (wantsLocal(opts)) return new LocalCluster(stateDirOf(opts));
  return KubeCluster.connect({
    context: opts.context,
    namespace: opts.namespace,
    kubeconfig: opts.kubeconfig,
    release: opts.release,
  });
}

export async function makeDeps(opts: GlobalOptions, out: OutputHost): Promise<OpsDeps> {
  return { cluster: await resolveCluster(opts), out, confirm: confirmWith(out, opts), opts };
}

/**
 * What the `local *` verbs get: always the local mode, whatever the mode selection would say, and
 * never a Kubernetes connection. The cluster is built on first use, since `local up` may run
 * before any state exists.
 */
export function makeLocalDeps(opts: GlobalOptions, out: OutputHost): OpsDeps {
  let cluster: LocalCluster | undefined;
  return {
    get cluster() {
      return (cluster ??= new LocalCluster(stateDirOf(opts)));
    },
    out,
    confirm: confirmWith(out, opts),
    opts,
  };
}

/** How to re-run the current command (for hints), with the flags that select the same target. */
export function commandLine(opts: GlobalOptions, verb: string): string {
  const parts = ['postgres-ops', verb];
  if (opts.stateDir) parts.push('--state-dir', opts.stateDir);
  if (opts.kubeconfig) parts.push('--kubeconfig', opts.kubeconfig);
  if (opts.context) parts.push('--context', opts.context);
  if (opts.namespace) parts.push('-n', opts.namespace);
  return parts.join(' ');
}
