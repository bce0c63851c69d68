/**
 * The supervisor behind `postgres-agent instance`: decides how to bring the data directory up
 * (bootstrap, clone, rewind, or start as it is), writes the configuration, runs postgres as a child,
 * answers the probes, and turns SIGTERM into a fast shutdown. Decisions live in src/core/instance.
 */
import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import pg from 'pg';
import type { AgentEnv } from '../../core/config/schema.js';
import { UsageError, whileDoing } from '../../core/errors.js';
import {
  backoffMs,
  describePeer,
  parsePeers,
  planStart,
  PROMOTED_MARKER,
  type DataDirKind,
  type PeerFacts,
  type StartPlan,
} from '../../core/instance/decide.js';
import {
  fullDiskMessage,
  logShowsDirectoryBusy,
  logShowsNoSpace,
  type HealthSnapshot,
} from '../../core/instance/health.js';
import {
  defaultSlotWalKeepSize,
  renderHba,
  renderPostgresqlConf,
  slotNameFor,
  validateExtraHba,
  type StandbyTarget,
} from '../../core/instance/settings.js';
import type { Logger } from '../log.js';
import { findPgBinDir } from '../pgbin.js';
import { bootstrapPrimary } from './bootstrap.js';
import { cloneFromPrimary } from './clone.js';
import { inspectDataDir, isMountPoint, readControlData, volumeStats } from './datadir.js';
import { startHealthServer } from './health-server.js';
import { orphanPostmaster, pidAlive, Postmaster } from './postmaster.js';
import { rewindFrom } from './rewind.js';
import { readSecret, requireSecret } from '../secrets.js';
import { ensureSlot, localStatus, probeMember, withClient, type Login } from './sql.js';
import { writePassfile } from '../passfile.js';

const FULL_DISK_FREE_BYTES = 1024 * 1024;

export class Supervisor {
  readonly snapshot: HealthSnapshot = {
    phase: 'initializing',
    lastTickAt: Date.now(),
    postmasterAlive: false,
    accepting: false,
    everAccepted: false,
  };
  /** Why the instance stopped, when it stopped on its own. */
  failure: string | undefined;
  private readonly abort = new AbortController();
  private stopping = false;
  private pm: Postmaster | undefined;
  private client: pg.Client | undefined;
  private server: Server | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private standby: StandbyTarget | undefined;
  private lastSlotCheck = 0;
  private ticking = false;
  private readonly binDir: string;
  private readonly superuserPassword: string;
  private readonly extraHba: string[];
  private readonly slot: string;

  constructor(
    private readonly env: AgentEnv,
    private readonly log: Logger,
  ) {
    // Everything that can be checked without touching the data directory is checked first.
    this.superuserPassword = requireSecret(
      env,
      'PGOPS_SUPERUSER_PASSWORD',
      'for the local connections of the agent',
    );
    if (env.PGOPS_CONFIG_FILE) checkReadable(env.PGOPS_CONFIG_FILE, 'PGOPS_CONFIG_FILE');
    this.extraHba = [];
    if (env.PGOPS_HBA_FILE) {
      checkReadable(env.PGOPS_HBA_FILE, 'PGOPS_HBA_FILE');
      this.extraHba = validateExtraHba(readFileSync(env.PGOPS_HBA_FILE, 'utf8'), env.PGOPS_HBA_FILE);
    }
    this.binDir = findPgBinDir(env.PGOPS_PG_BIN_DIR);
    this.slot = slotNameFor(env.PGOPS_POD_NAME);
  }

  private get pgdata() {
    return this.env.PGDATA;
  }

  private setPhase(phase: HealthSnapshot['phase'], reason?: string) {
    this.snapshot.phase = phase;
    this.snapshot.reason = reason;
  }

  /** Runs until PostgreSQL stops; returns the exit code for the container. */
  async run(): Promise<number> {
    const kind = inspectDataDir(this.pgdata);
    if (kind === 'empty' && isMountPoint(this.pgdata)) {
      throw new UsageError(
        'E_PGDATA_MOUNT_POINT',
        `PGDATA (${this.pgdata}) is itself a mount point: a new data directory is built next to it and moved into place, which cannot cross filesystems`,
        { pgdata: this.pgdata },
        {
          hint: `Mount the volume one level up and set PGDATA to a subdirectory, e.g. ${this.pgdata}/pgdata.`,
        },
      );
    }
    if (kind === 'foreign') {
      throw new UsageError(
        'E_FOREIGN_DATA',
        `${this.pgdata} is not empty and is not a PostgreSQL data directory; it was not touched`,
        { pgdata: this.pgdata },
        {
          hint: 'Point PGDATA at an empty directory or at an existing data directory (one with PG_VERSION).',
        },
      );
    }
    if (kind === 'empty' && this.env.PGOPS_ROLE === 'replica') {
      if (!this.env.PGOPS_PRIMARY_HOST)
        throw new UsageError(
          'E_NO_PRIMARY_HOST',
          'PGOPS_PRIMARY_HOST is not set: a replica needs a primary to clone from',
          {},
          {
            hint: 'Set PGOPS_PRIMARY_HOST (and PGOPS_PRIMARY_PORT) to the primary Service.',
          },
        );
      requireSecret(this.env, 'PGOPS_REPLICATION_PASSWORD', 'to clone from the primary');
    }
    if (kind === 'empty' && this.env.PGOPS_ROLE === 'primary') {
      requireSecret(this.env, 'PGOPS_REPLICATION_PASSWORD', 'to create the replication role');
      requireSecret(this.env, 'PGOPS_APP_PASSWORD', 'to create the application role');
    }
    mkdirSync(this.env.PGOPS_SOCKET_DIR, { recursive: true, mode: 0o755 });
    // `kubectl exec <pod> -- psql -U postgres` works without typing the password when the container
    // sets PGPASSFILE to this file (0600, in the runtime directory, never on the data volume).
    writePassfile(
      join(this.env.PGOPS_SOCKET_DIR, '.pgpass'),
      this.env.PGOPS_SUPERUSER,
      this.superuserPassword,
    );

    const onSignal = (sig: NodeJS.Signals) => {
      this.log.info(`received ${sig}: shutting down`, { signal: sig });
      this.shutdown();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    try {
      if (this.env.PGOPS_HEALTH_PORT !== 0) {
        this.server = await startHealthServer(
          this.env.PGOPS_HEALTH_PORT,
          () => this.snapshot,
          this.env.PGOPS_MAX_LAG_BYTES,
          this.env.PGOPS_HEALTH_ADDRESS,
        ).catch((err) => {
          throw whileDoing(`starting the health endpoint on port ${this.env.PGOPS_HEALTH_PORT}`, err);
        });
      }
      this.ticker = setInterval(() => void this.tick(), 1000);
      const prepared = await this.prepare();
      if (!prepared) return 0;
      return await this.supervise();
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      clearInterval(this.ticker);
      await this.client?.end().catch(() => undefined);
      this.server?.close();
      this.server?.closeAllConnections();
    }
  }

  shutdown() {
    if (this.stopping) return;
    this.stopping = true;
    this.setPhase('stopping');
    this.abort.abort();
    const pm = this.pm;
    if (pm?.alive) {
      pm.signal('SIGINT'); // fast shutdown: roll back sessions, checkpoint, exit
      const t = setTimeout(() => {
        if (pm.alive) {
          this.log.warn(
            `fast shutdown did not finish within ${this.env.PGOPS_SHUTDOWN_TIMEOUT_SECONDS} s: immediate shutdown (crash recovery at next start)`,
          );
          pm.signal('SIGQUIT');
        }
      }, this.env.PGOPS_SHUTDOWN_TIMEOUT_SECONDS * 1000);
      void pm.exited.then(() => clearTimeout(t));
    }
  }

  // ---------------------------------------------------------------- bringing the directory up

  /** Loops until the data directory can be started; false when shut down first. */
  private async prepare(): Promise<boolean> {
    for (let attempt = 0; !this.stopping; attempt++) {
      const kind = inspectDataDir(this.pgdata);
      const plan = kind === 'empty' && this.env.PGOPS_ROLE === 'replica' ? undefined : await this.plan(kind);
      if (plan?.action === 'bootstrap') {
        this.setPhase('bootstrapping');
        await bootstrapPrimary({
          binDir: this.binDir,
          pgdata: this.pgdata,
          superuser: this.env.PGOPS_SUPERUSER,
          superuserPassword: this.superuserPassword,
          replicationUser: this.env.PGOPS_REPLICATION_USER,
          replicationPassword: requireSecret(
            this.env,
            'PGOPS_REPLICATION_PASSWORD',
            'to create the replication role',
          ),
          appUser: this.env.PGOPS_APP_USER,
          appPassword: requireSecret(this.env, 'PGOPS_APP_PASSWORD', 'to create the application role'),
          appDatabase: this.env.PGOPS_APP_DATABASE,
          writeConfig: (dir) => this.writeConfig(dir, undefined),
          log: this.log,
        });
        continue;
      }
      if (!plan) {
        this.setPhase('cloning');
        const primary = this.primaryLogin()!;
        try {
          await cloneFromPrimary({
            binDir: this.binDir,
            pgdata: this.pgdata,
            primary,
            passfile: this.replicationPassfile(),
            slot: this.slot,
            log: this.log,
            signal: this.abort.signal,
          });
        } catch (err) {
          if (this.stopping) return false;
          const wait = backoffMs(attempt);
          this.log.warn(
            `${(err as Error).message}; the data directory was not created; retrying in ${wait / 1000} s`,
            {
              primary: `${primary.host}:${primary.port}`,
              attempt: attempt + 1,
            },
          );
          this.setPhase('waiting', (err as Error).message);
          await this.sleep(wait);
        }
        continue;
      }
      if (plan.action === 'rewind') {
        this.setPhase('rewinding', `following ${plan.source.host}:${plan.source.port}`);
        this.writeConfig(this.pgdata, undefined);
        // The superuser passfile written at start serves pg_rewind too.
        const passfile = join(this.env.PGOPS_SOCKET_DIR, '.pgpass');
        // pg_rewind reads the source's timeline from its control file, which a fresh promotion
        // updates only at its next checkpoint: without one it would wrongly find nothing to rewind.
        await withClient(
          { ...plan.source, user: this.env.PGOPS_SUPERUSER, password: this.superuserPassword },
          (c) => c.query('CHECKPOINT'),
          60_000,
        );
        await rewindFrom({
          binDir: this.binDir,
          pgdata: this.pgdata,
          source: plan.source,
          superuser: this.env.PGOPS_SUPERUSER,
          passfile,
          log: this.log,
        });
        continue;
      }
      if (plan.action === 'wait') {
        const wait = backoffMs(attempt);
        this.log.warn(`not starting PostgreSQL: ${plan.reason}; checking again in ${wait / 1000} s`, {
          hint:
            plan.hint ??
            'A data directory that was a primary never starts as a second primary. Stop the other primary if it is the stale one; if this member should be the primary and is configured as a replica, set PGOPS_ROLE=primary.',
        });
        this.setPhase('waiting', plan.reason);
        await this.sleep(wait);
        continue;
      }
      if (plan.action === 'start-standby') {
        const up = plan.upstream;
        if (!up) {
          const reason = 'this data directory is a standby but no primary is known (set PGOPS_PRIMARY_HOST)';
          this.log.warn(`not starting PostgreSQL: ${reason}`);
          this.setPhase('waiting', reason);
          await this.sleep(backoffMs(attempt));
          continue;
        }
        const replPassword = requireSecret(
          this.env,
          'PGOPS_REPLICATION_PASSWORD',
          'to stream from the primary',
        );
        this.standby = {
          host: up.host,
          port: up.port,
          user: this.env.PGOPS_REPLICATION_USER,
          passfile: this.replicationPassfile(),
          slot: this.slot,
          applicationName: this.slot,
        };
        await this.ensureUpstreamSlot(replPassword);
      } else {
        this.standby = undefined;
      }
      this.writeConfig(this.pgdata, this.standby);
      return true;
    }
    return false;
  }

  private async plan(kind: DataDirKind): Promise<StartPlan> {
    // An empty directory has no control file; its plan depends on the members alone.
    const control = kind === 'empty' ? undefined : await readControlData(this.binDir, this.pgdata);
    const members = parsePeers(this.env.PGOPS_PEERS, this.env.PGOPS_PORT);
    const primaryHost = this.env.PGOPS_PRIMARY_HOST
      ? { host: this.env.PGOPS_PRIMARY_HOST, port: this.env.PGOPS_PRIMARY_PORT }
      : undefined;
    if (primaryHost) members.unshift(primaryHost);
    const seen = new Set<string>();
    const peers: PeerFacts[] = [];
    await Promise.all(
      members
        .filter((m) => !seen.has(`${m.host}:${m.port}`) && seen.add(`${m.host}:${m.port}`))
        .map(async (m) => {
          const facts = await probeMember({
            ...m,
            user: this.env.PGOPS_SUPERUSER,
            password: this.superuserPassword,
          });
          if (facts) peers.push(facts);
        }),
    );
    const promotedTimeline = readPromotedTimeline(this.pgdata);
    const plan = planStart({
      role: this.env.PGOPS_ROLE,
      dataDir: kind,
      localTimeline: control?.timeline,
      localSystemIdentifier: control?.systemIdentifier,
      peers,
      primaryHost,
      promotedTimeline,
    });
    if (plan.action === 'start-primary' && this.env.PGOPS_ROLE === 'replica') {
      this.log.warn(
        `this member was promoted to timeline ${promotedTimeline} and no newer primary answers: starting as the primary although PGOPS_ROLE=replica`,
      );
    }
    this.log.info('start-up decision', {
      dataDir: kind,
      timeline: control?.timeline ?? null,
      answered: peers.map(describePeer),
      action: plan.action,
    });
    return plan;
  }

  private primaryLogin(): Login | undefined {
    if (!this.env.PGOPS_PRIMARY_HOST) return undefined;
    return {
      host: this.env.PGOPS_PRIMARY_HOST,
      port: this.env.PGOPS_PRIMARY_PORT,
      user: this.env.PGOPS_REPLICATION_USER,
      password: requireSecret(this.env, 'PGOPS_REPLICATION_PASSWORD', 'to clone from the primary'),
    };
  }

  /** A 0600 passfile for libpq (pg_basebackup, the WAL receiver); lives in the runtime socket directory. */
  private replicationPassfile(): string {
    const file = join(this.env.PGOPS_SOCKET_DIR, '.pgops-replication.pgpass');
    const password = readSecret(this.env, 'PGOPS_REPLICATION_PASSWORD') ?? '';
    return writePassfile(file, this.env.PGOPS_REPLICATION_USER, password);
  }

  private async ensureUpstreamSlot(password: string) {
    const s = this.standby;
    if (!s) return;
    try {
      const created = await ensureSlot({ host: s.host, port: s.port, user: s.user, password }, s.slot);
      if (created) this.log.info(`created replication slot ${s.slot} on ${s.host}:${s.port}`);
    } catch (err) {
      this.log.warn(
        `could not check replication slot ${s.slot} on ${s.host}:${s.port}: ${(err as Error).message}`,
      );
    }
  }

  private writeConfig(dir: string, standby: StandbyTarget | undefined) {
    const keep =
      this.env.PGOPS_MAX_SLOT_WAL_KEEP_SIZE || defaultSlotWalKeepSize(volumeStats(this.pgdata).sizeBytes);
    const conf = renderPostgresqlConf({
      port: this.env.PGOPS_PORT,
      listenAddresses: this.env.PGOPS_LISTEN_ADDRESSES,
      socketDir: this.env.PGOPS_SOCKET_DIR,
      maxSlotWalKeepSize: keep,
      configFile: this.env.PGOPS_CONFIG_FILE,
      tlsDir: this.env.PGOPS_TLS_DIR,
      standby,
    });
    writeFileSync(join(dir, 'postgresql.conf'), conf, { mode: 0o600 });
    writeFileSync(
      join(dir, 'pg_hba.conf'),
      renderHba({ replicationUser: this.env.PGOPS_REPLICATION_USER, extraLines: this.extraHba }),
      { mode: 0o600 },
    );
  }

  // ---------------------------------------------------------------- running postgres

  private async supervise(): Promise<number> {
    let busyTries = 0;
    let fullTries = 0;
    for (;;) {
      if (this.stopping) return 0;
      await this.stopOrphan();
      if (this.stopping) return 0;
      if (this.snapshot.phase !== 'disk-full') this.setPhase('starting');
      this.snapshot.accepting = false;
      const pm = new Postmaster(join(this.binDir, 'postgres'), ['-D', this.pgdata]);
      this.pm = pm;
      this.snapshot.postmasterAlive = true;
      this.log.info('postgres started', {
        pid: pm.pid,
        standby: this.standby ? `${this.standby.host}:${this.standby.port}` : null,
      });
      const exit = await pm.exited;
      this.snapshot.postmasterAlive = false;
      this.snapshot.accepting = false;
      const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
      if (this.stopping) {
        const clean = exit.code === 0;
        this.log.info(clean ? 'PostgreSQL shut down cleanly' : `PostgreSQL stopped with ${how}`);
        return clean ? 0 : 1;
      }
      const disk = volumeStats(this.pgdata);
      if (logShowsNoSpace(exit.logTail) || disk.freeBytes < FULL_DISK_FREE_BYTES) {
        // Not a crash loop: report, stay alive, and try again when the volume has grown.
        const { message, command } = fullDiskMessage({
          pvc: this.env.PGOPS_DATA_PVC,
          dataDir: this.pgdata,
          usedPercent: disk.usedPercent,
          sizeBytes: disk.sizeBytes,
        });
        const wait = backoffMs(fullTries++, 2000);
        this.log.error(message, {
          pvc: this.env.PGOPS_DATA_PVC ?? null,
          usedPercent: Number(disk.usedPercent.toFixed(1)),
          freeBytes: disk.freeBytes,
          command,
          retryInSeconds: wait / 1000,
        });
        this.setPhase('disk-full', message);
        this.snapshot.diskUsedPercent = disk.usedPercent;
        await this.waitForSpace(disk.freeBytes, wait);
        continue;
      }
      fullTries = 0;
      if (logShowsDirectoryBusy(exit.logTail) && busyTries < 240) {
        // The previous postmaster's backends still hold the directory (after a kill -9): wait for them.
        if (busyTries++ === 0)
          this.log.warn(
            'the data directory is still held by processes of a previous postmaster; waiting for them to exit',
          );
        await this.sleep(250);
        continue;
      }
      const tail = exit.logTail.trim().split('\n').slice(-5).join('\n');
      this.failure = `PostgreSQL stopped on its own (${how})${tail ? `; last log lines:\n${tail}` : ''}`;
      this.log.error(this.failure);
      return 1;
    }
  }

  /** Sleeps up to `maxMs`, waking early once the volume has clearly grown (an expanded PVC). */
  private async waitForSpace(freeBefore: number, maxMs: number) {
    const until = Date.now() + maxMs;
    while (!this.stopping && Date.now() < until) {
      await this.sleep(Math.min(1000, until - Date.now()));
      if (volumeStats(this.pgdata).freeBytes > freeBefore + 8 * FULL_DISK_FREE_BYTES) return;
    }
  }

  /** A postmaster left running by a killed agent: stop it (fast) so this agent supervises its own. */
  private async stopOrphan() {
    const pid = orphanPostmaster(this.pgdata);
    if (!pid) return;
    this.log.warn(
      `a postmaster (pid ${pid}) from a previous agent still serves ${this.pgdata}: fast shutdown before starting under supervision`,
    );
    process.kill(pid, 'SIGINT');
    const deadline = Date.now() + this.env.PGOPS_SHUTDOWN_TIMEOUT_SECONDS * 1000;
    while (pidAlive(pid)) {
      if (Date.now() > deadline) process.kill(pid, 'SIGQUIT');
      await this.sleep(100, false);
    }
  }

  private sleep(ms: number, abortable = true): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const signal = this.abort.signal;
      function done() {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      if (abortable) signal.addEventListener('abort', done, { once: true });
    });
  }

  // ---------------------------------------------------------------- probes

  private async tick() {
    if (this.ticking) return; // a slow answer must not pile up connections
    this.ticking = true;
    try {
      await this.tickOnce();
    } finally {
      this.ticking = false;
    }
  }

  private async tickOnce() {
    const s = this.snapshot;
    s.lastTickAt = Date.now();
    try {
      s.diskUsedPercent = Number(volumeStats(this.pgdata).usedPercent.toFixed(1));
    } catch {
      /* volume not there yet */
    }
    if (!this.pm?.alive || this.stopping) return;
    try {
      this.client ??= await this.connectLocal();
      const st = await localStatus(this.client);
      s.accepting = true;
      s.inRecovery = st.inRecovery;
      s.walReceiverStatus = st.walReceiver;
      s.lagBytes = st.lagBytes;
      s.timeline = st.timeline;
      s.lsn = st.lsn;
      s.upstream = st.upstream ?? undefined;
      if (!s.everAccepted) {
        s.everAccepted = true;
        this.log.info('PostgreSQL accepts connections', {
          role: st.inRecovery ? 'replica' : 'primary',
          timeline: st.timeline,
        });
      }
      if (s.phase === 'starting' || s.phase === 'disk-full') this.setPhase('running');
      if (st.inRecovery && st.walReceiver !== 'streaming' && Date.now() - this.lastSlotCheck > 15_000) {
        // After a promotion the new primary has no slot for us: create it so streaming can resume.
        this.lastSlotCheck = Date.now();
        const pw = readSecret(this.env, 'PGOPS_REPLICATION_PASSWORD');
        if (pw) await this.ensureUpstreamSlot(pw);
      }
    } catch {
      s.accepting = false;
      const c = this.client;
      this.client = undefined;
      await c?.end().catch(() => undefined);
    }
  }

  private async connectLocal(): Promise<pg.Client> {
    const c = new pg.Client({
      host: this.env.PGOPS_SOCKET_DIR,
      port: this.env.PGOPS_PORT,
      user: this.env.PGOPS_SUPERUSER,
      password: this.superuserPassword,
      database: 'postgres',
      application_name: 'postgres-agent',
      connectionTimeoutMillis: 5000,
      query_timeout: 5000,
    });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  }
}

/** The timeline `postgres-agent promote` recorded in this data directory, if any. */
function readPromotedTimeline(pgdata: string): number | undefined {
  try {
    const t = (JSON.parse(readFileSync(join(pgdata, PROMOTED_MARKER), 'utf8')) as { timeline?: unknown })
      .timeline;
    return typeof t === 'number' ? t : undefined;
  } catch {
    return undefined;
  }
}

function checkReadable(path: string, key: string) {
  try {
    accessSync(path, constants.R_OK);
  } catch (err) {
    throw new UsageError(
      'E_UNREADABLE_FILE',
      `${key} names ${path}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); nothing was started or changed`,
      { key, path },
      {
        hint: `Check the ConfigMap mount at ${path} and that the postgres user can read it, or unset ${key}.`,
      },
    );
  }
}
