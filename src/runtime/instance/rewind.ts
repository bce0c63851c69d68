/**
 * Rejoining an old primary to a newer one: pg_rewind --source-server (possible because data
 * checksums are on), then standby.signal. pg_rewind itself finishes crash recovery of a directory
 * that was not shut down cleanly.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperationFailed } from '../../core/errors.js';
import { toConninfo } from '../../core/pg/conninfo.js';
import type { Logger } from '../log.js';
import { exec } from '../exec.js';

export interface RewindInput {
  binDir: string;
  pgdata: string;
  source: { host: string; port: number };
  superuser: string;
  /** 0600 passfile with the superuser password. */
  passfile: string;
  log: Logger;
}

export async function rewindFrom(r: RewindInput): Promise<void> {
  const where = `${r.source.host}:${r.source.port}`;
  r.log.warn(`rewinding this old primary to follow the newer primary at ${where}`, { pgdata: r.pgdata });
  const source = toConninfo({
    host: r.source.host,
    port: r.source.port,
    user: r.superuser,
    database: 'postgres',
    passfile: r.passfile,
    params: { connect_timeout: 10 },
  });
  const res = await exec(join(r.binDir, 'pg_rewind'), ['-D', r.pgdata, `--source-server=${source}`], {
    onStderr: (c) => process.stderr.write(c),
  });
  if (res.code !== 0) {
    const why = (res.stderr + res.stdout).trim().split('\n').slice(-4).join('\n');
    throw new OperationFailed(
      'E_REWIND',
      `pg_rewind from ${where} failed: ${why}`,
      {},
      {
        hint: 'Look at the PostgreSQL log above. If the data directory cannot be rewound, re-clone this member: stop it, empty its volume and start it as a replica.',
      },
    );
  }
  writeFileSync(join(r.pgdata, 'standby.signal'), '');
  r.log.info(`rewind complete; starting as a standby of ${where}`);
}
