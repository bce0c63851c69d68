/**
 * One Helm release of the chart as the Kubernetes adapter sees it: the clients, the namespace, the
 * members' StatefulSet found by the chart's labels (whatever fullnameOverride made of its name),
 * and the calls every part of the adapter makes through it (API calls with their errors explained,
 * commands in member pods).
 */
import type * as k8s from '@kubernetes/client-node';
import { UsageError } from '../core/errors.js';
import type { KubeClients } from './client.js';
import { kubeError } from './errors.js';
import { execInPod, type ExecOptions } from './exec.js';
import { KubeJobs } from './jobs.js';

/** The pod label Patroni writes (the chart's PGOPS_K8S_ROLE_LABEL): master on the leader (primary from Patroni 4), replica. */
export const ROLE_LABEL = 'pyairtable-stack/role';
/** Members carry postgres-primary (the StatefulSet's selector); postgres-replica is the layout before Patroni. */
const COMPONENTS = 'app.kubernetes.io/component in (postgres-primary,postgres-replica)';
export const CONTAINER = 'postgres';

export class KubeRelease {
  readonly namespace: string;
  readonly jobs: KubeJobs;
  /** A kubeconfig file given with --kubeconfig (kubectl is told the same). */
  kubeconfigFile: string | undefined;
  private readonly server: string | undefined;
  /** The members' StatefulSet name: "<fullname>-postgres", found by label at connect. */
  private setName: string;

  constructor(
    readonly k: KubeClients,
    readonly release: string,
    /** Pause between looks at a Job (tests shorten it). */
    readonly pollMs?: number,
  ) {
    this.namespace = k.namespace;
    this.server = k.kc.getCurrentCluster()?.server;
    this.setName = `${release}-postgres`.slice(0, 63).replace(/-+$/, '');
    this.jobs = new KubeJobs(k.kc, k.core, k.batch, k.namespace, (what, call) => this.api(what, call));
  }

  async api<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw kubeError(what, err, this.server);
    }
  }

  /** The chart's "<fullname>-postgres": the StatefulSet, the read-write Service, the prefix of the CronJobs. */
  get fullname() {
    return this.setName;
  }

  selector(extra?: string) {
    return [`app.kubernetes.io/instance=${this.release}`, COMPONENTS, ...(extra ? [extra] : [])].join(',');
  }

  async run(pod: string, command: string[], what: string, opts: ExecOptions = {}) {
    return this.api(what, () => execInPod(this.k.kc, this.namespace, pod, CONTAINER, command, opts));
  }

  /**
   * Finds the release's StatefulSet by its labels, so names follow whatever fullnameOverride made
   * of them; lists the releases that exist when this one does not.
   */
  async checkRelease(): Promise<void> {
    const sets = await this.api(`looking for release ${this.release} in namespace ${this.namespace}`, () =>
      this.k.apps.listNamespacedStatefulSet({ namespace: this.namespace, labelSelector: this.selector() }),
    );
    const members =
      sets.items.find((s) => s.metadata?.labels?.['app.kubernetes.io/component'] === 'postgres-primary') ??
      sets.items[0];
    if (members?.metadata?.name) {
      this.setName = members.metadata.name;
      return;
    }
    const all = await this.api('listing pyairtable-stack releases', () =>
      this.k.apps.listStatefulSetForAllNamespaces({
        labelSelector: `app.kubernetes.io/part-of=pyairtable-stack,${COMPONENTS}`,
      }),
    ).catch(() => ({ items: [] as k8s.V1StatefulSet[] }));
    const found = [
      ...new Set(
        all.items.map(
          (s) =>
            `${s.metadata?.labels?.['app.kubernetes.io/instance'] ?? '?'} (namespace ${s.metadata?.namespace})`,
        ),
      ),
    ];
    throw new UsageError(
      'E_NO_RELEASE',
      `release "${this.release}" has no PostgreSQL in namespace "${this.namespace}"`,
      { release: this.release, namespace: this.namespace, found },
      {
        hint: found.length
          ? `Releases found: ${found.join(', ')}. Pass --release NAME and -n NAMESPACE.`
          : 'No pyairtable-stack release is installed in this cluster. Install one (helm install pyairtable-stack ./helm/pyairtable-stack -n pyairtable --create-namespace) or use postgres-ops local up.',
      },
    );
  }
}
