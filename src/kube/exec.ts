/** Running a command in a container (what `kubectl exec` does), collecting output and exit code. */
import * as k8s from '@kubernetes/client-node';
import { Writable } from 'node:stream';

export interface PodExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

function collector(onChunk?: (s: string) => void) {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      const s = chunk.toString();
      text += s;
      onChunk?.(s);
      cb();
    },
  });
  return { stream, text: () => text };
}

export async function execInPod(
  kc: k8s.KubeConfig,
  namespace: string,
  pod: string,
  container: string,
  command: string[],
  onStderr?: (s: string) => void,
): Promise<PodExecResult> {
  const out = collector();
  const err = collector(onStderr);
  return new Promise((resolve, reject) => {
    new k8s.Exec(kc)
      .exec(namespace, pod, container, command, out.stream, err.stream, null, false, (status) => {
        let code = status.status === 'Success' ? 0 : 1;
        const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
        if (cause?.message) code = Number(cause.message) || code;
        // Give the streams a moment to flush what arrived with the status frame.
        setImmediate(() => resolve({ code, stdout: out.text(), stderr: err.text() }));
      })
      .then((ws) => {
        ws.on('error', reject);
      })
      .catch(reject);
  });
}
