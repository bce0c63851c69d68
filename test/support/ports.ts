import { createServer } from 'node:net';

const handedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that nothing listens on now and that this process has not handed out before. */
export async function freePort(): Promise<number> {
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
    if (port !== 5432 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}
