/**
 * Running a command in a container (what `kubectl exec` does), collecting output and exit code.
 * Every exec has a deadline; a connection that closes before the exit status arrives, or that the
 * API server refuses, is an error saying so (with the RBAC rule to check on a 403), never a hang.
 */
import * as k8s from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import { OperationFailed } from '../core/errors.js';
import { kubeFailure, kubeFailureKind } from '../core/kube-errors.js';

export interface PodExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  onStderr?: (s: string) => void;
  /** How long the command may take, connection included (default 60 s). */
  timeoutMs?: number;
}

function collector(onChunk?: (s: string) => void) {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const s = chunk.toString();
      text += s;
      onChunk?.(s);
      cb();
    },
  });
  return { stream, text: () => text };
}

/** The HTTP status the API server answered the WebSocket upgrade with, if it refused it. */
function upgradeStatus(err: unknown): number | undefined {
  const e = err as { message?: string; error?: { message?: string } };
  const m = /Unexpected server response: (\d{3})/.exec(`${e?.message ?? ''} ${e?.error?.message ?? ''}`);
  return m ? Number(m[1]) : undefined;
}

export async function execInPod(
  kc: k8s.KubeConfig,
  namespace: string,
  pod: string,
  container: string,
  command: string[],
  opts: ExecOptions = {},
): Promise<PodExecResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const out = collector();
  const err = collector(opts.onStderr);
  const what = `${command.slice(0, 2).join(' ')} in pod ${pod}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    let socket: { close(): void; terminate?(): void } | undefined;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const fail = (e: Error) => finish(() => reject(e));
    const timer = setTimeout(() => {
      socket?.terminate?.();
      socket?.close();
      fail(
        new OperationFailed(
          'E_EXEC_TIMEOUT',
          `${what} did not finish within ${Math.round(timeoutMs / 1000)} s; it may still be running there`,
          { pod, namespace },
          {
            hint: `kubectl logs -n ${namespace} ${pod} -c ${container}; kubectl get pod -n ${namespace} ${pod}`,
          },
        ),
      );
    }, timeoutMs);
    new k8s.Exec(kc)
      .exec(namespace, pod, container, command, out.stream, err.stream, null, false, (status) => {
        let code = status.status === 'Success' ? 0 : 1;
        const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
        if (cause?.message) code = Number(cause.message) || code;
        // Give the streams a moment to flush what arrived with the status frame.
        setImmediate(() => finish(() => resolve({ code, stdout: out.text(), stderr: err.text() })));
      })
      .then((ws) => {
        socket = ws;
        ws.on('error', (e: Error) => fail(e));
        ws.on('close', () => {
          // The status frame comes before the close; after it `finish` has already run.
          setImmediate(() =>
            fail(
              new OperationFailed(
                'E_EXEC_CLOSED',
                `the connection to pod ${pod} closed before ${command.slice(0, 2).join(' ')} reported an exit status: it may or may not have completed`,
                { pod, namespace },
                {
                  hint: `Check what happened in the pod (kubectl logs -n ${namespace} ${pod} -c ${container}) before running it again.`,
                },
              ),
            ),
          );
        });
        if (settled) ws.close();
      })
      .catch((e: unknown) => {
        const status = upgradeStatus(e);
        const kind = kubeFailureKind(status);
        if (kind === 'forbidden')
          return fail(
            kubeFailure(
              status,
              `running ${what}: the Kubernetes API refused (forbidden): your account may not exec into pods in namespace ${namespace}`,
              {
                missing: 'named',
                meta: { pod, namespace, status: status ?? null },
                hint: `It needs create on pods/exec (and get, on clusters before 1.31): kubectl auth can-i create pods --subresource=exec -n ${namespace}`,
              },
            ),
          );
        if (kind === 'not-found')
          return fail(
            new OperationFailed(
              'E_NO_POD',
              `running ${what}: pod ${pod} or its container ${container} was not found`,
              {
                pod,
                namespace,
                status: status ?? null,
              },
              { hint: `kubectl get pods -n ${namespace}` },
            ),
          );
        fail(e instanceof Error ? e : new Error(String((e as { message?: string })?.message ?? e)));
      });
  });
}
