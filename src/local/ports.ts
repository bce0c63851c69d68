import { createServer } from 'node:net';

/** A loopback TCP port nothing listens on now, not 5432 and not one of `taken`. */
export async function freePort(taken: Iterable<number> = []): Promise<number> {
  const avoid = new Set([5432, ...taken]);
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.unref();
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (!avoid.has(port)) return port;
  }
}
