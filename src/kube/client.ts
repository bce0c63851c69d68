/**
 * The only module family that imports the Kubernetes client. In a pod it uses the in-cluster
 * service account; elsewhere the kubeconfig (--kubeconfig, KUBECONFIG or ~/.kube/config) and an
 * optional context.
 */
import * as k8s from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';

export interface KubeClients {
  kc: k8s.KubeConfig;
  namespace: string;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  batch: k8s.BatchV1Api;
  custom: k8s.CustomObjectsApi;
}

const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export function kubeClients(
  opts: { context?: string; namespace?: string; kubeconfig?: string } = {},
): KubeClients {
  const kc = new k8s.KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else if (process.env.KUBERNETES_SERVICE_HOST && !process.env.KUBECONFIG) kc.loadFromCluster();
  else kc.loadFromDefault();
  if (opts.context) kc.setCurrentContext(opts.context);
  let namespace = opts.namespace;
  if (!namespace) {
    try {
      namespace = readFileSync(SA_NAMESPACE_FILE, 'utf8').trim();
    } catch {
      namespace = kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
    }
  }
  return {
    kc,
    namespace,
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    batch: kc.makeApiClient(k8s.BatchV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
  };
}
