import { freePort as freeLoopbackPort } from '../../src/local/ports.js';

const handedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that nothing listens on now and that this process has not handed out before. */
export async function freePort(): Promise<number> {
  const port = await freeLoopbackPort(handedOut);
  handedOut.add(port);
  return port;
}
