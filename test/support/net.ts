/** Addresses of this machine and plain HTTP probes, for tests of what listens where. */
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';

/** An IPv4 address of this machine that is not loopback, if it has one. */
export function nonLoopbackAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

/** GET http://host:port/path: the status code, or the connection error's code (ECONNREFUSED...). */
export function httpGetStatus(host: string, port: number, path = '/status'): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}
