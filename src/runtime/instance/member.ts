/**
 * `postgres-agent instance`: one member of the cluster, PostgreSQL under Patroni. The agent writes
 * Patroni's configuration from our settings, runs Patroni as its child (restarting it if it dies;
 * PostgreSQL keeps running meanwhile and the new Patroni adopts it), relays and reads the logs, and
 * does what Patroni does not: full-disk reporting, re-cloning a replica that lost its WAL,
 * keeping the cluster-wide configuration and the role passwords in step with the settings, and the
 * manual-failover fence. Decisions are pure (src/core/ha, src/core/instance/health); the files it
 * keeps are member-files.ts, the leader's duties leader-duties.ts, re-cloning a stuck replica
 * replica-healing.ts, the full-disk report disk-watch.ts.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import type { AgentConfig } from '../../core/config/schema.js';
import { whileDoing } from '../../core/errors.js';
import { classifyLine } from '../../core/ha/log-lines.js';
import { patroniConfig } from '../../core/ha/patroni-config.js';
import type { HealthSnapshot } from '../../core/instance/health.js';
import type { Logger } from '../log.js';
import { findPgBinDir } from '../pgbin.js';
import { readSecret, requireSecret } from '../secrets.js';
import { PatroniApi } from '../ha/patroni-api.js';
import { PatroniProcess } from '../ha/patroni-process.js';
import { inspectDataDir } from './datadir.js';
import { DiskWatch } from './disk-watch.js';
import { startHealthServer } from './health-server.js';
import { runLeaderDuties } from './leader-duties.js';
import {
  checkDataDir,
  failoverAllowedByFile,
  initialNoFailover,
  retireOldConfiguration,
  secretsFingerprint,
  writeUserPassfile,
} from './member-files.js';
import {
  checkTimings,
  memberInputs,
  memberPaths,
  readMemberFiles,
  withHaFile,
  type MemberConfigFiles,
} from './patroni-inputs.js';
import { ReplicaHealer } from './replica-healing.js';
import { localStatus } from './sql.js';
import { TlsReloader } from './tls-files.js';
import { agentCommand } from './self-command.js';
import { MemberArchive } from '../pitr/member-archive.js';

const TICK_MS = 2000;
const LEADER_DUTY_MS = 10_000;
/** How long before the earliest end of a silent leader's lease the watchdog acts. */
const WATCHDOG_MARGIN_MS = 3000;

export class MemberSupervisor {
  readonly snapshot: HealthSnapshot = {
    phase: 'initializing',
    lastTickAt: Date.now(),
    patroniAlive: false,
    accepting: false,
    everAccepted: false,
  };
  /** Why the member stopped, when it stopped on its own. */
  failure: string | undefined;
  private readonly paths;
  private readonly binDir: string;
  private files: MemberConfigFiles;
  private patroni: PatroniProcess | undefined;
  private readonly api: PatroniApi;
  private server: Server | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private ticking = false;
  private stopping = false;
  private client: pg.Client | undefined;
  private yamlText = '';
  private secretsSeen = '';
  private noFailover = false;
  private lastLeaderDuty = 0;
  /** Patroni is creating a new cluster (initdb, then our post_bootstrap hook). */
  private bootstrapping = false;
  /** When Patroni's REST API last answered (the watchdog's clock). */
  private lastPatroniAnswer = Date.now();
  private tls: TlsReloader;
  private readonly archive: MemberArchive;
  private readonly healer: ReplicaHealer;
  private readonly disk: DiskWatch;
  private stopped!: () => void;
  private readonly done = new Promise<void>((r) => (this.stopped = r));

  /** The settings in force: the configuration with PGOPS_HA_FILE applied (re-read on reload). */
  private config: AgentConfig;

  constructor(
    private readonly baseConfig: AgentConfig,
    private readonly log: Logger,
  ) {
    const config = withHaFile(baseConfig);
    this.config = config;
    // Everything that can be checked without touching the data directory is checked first.
    requireSecret(config, 'PGOPS_SUPERUSER_PASSWORD', "for Patroni's connections");
    requireSecret(config, 'PGOPS_REPLICATION_PASSWORD', 'for streaming replication');
    requireSecret(config, 'PGOPS_APP_PASSWORD', 'to create the application role');
    requireSecret(config, 'PGOPS_RESTAPI_PASSWORD', "to protect Patroni's REST API");
    checkTimings(config);
    this.files = readMemberFiles(config);
    this.binDir = findPgBinDir(config.instance.binDir);
    this.paths = memberPaths(config);
    this.tls = new TlsReloader(config.postgresql.tlsDir);
    this.archive = new MemberArchive(config, process.env, log);
    this.api = new PatroniApi(
      `http://127.0.0.1:${config.ha.restApiPort}`,
      {
        username: config.ha.restApiUser,
        password: requireSecret(config, 'PGOPS_RESTAPI_PASSWORD', "to protect Patroni's REST API"),
      },
      2000,
    );
    const setPhase = (phase: HealthSnapshot['phase'], reason?: string) => this.setPhase(phase, reason);
    this.healer = new ReplicaHealer(this.api, this.archive, log, this.snapshot, setPhase);
    this.disk = new DiskWatch(log, this.snapshot, setPhase);
  }

  private get pgdata() {
    return this.config.instance.dataDir;
  }

  private setPhase(phase: HealthSnapshot['phase'], reason?: string) {
    this.snapshot.phase = phase;
    this.snapshot.reason = reason;
  }

  /** Runs until SIGTERM; returns the exit code for the container. */
  async run(): Promise<number> {
    const kind = checkDataDir(this.pgdata);
    mkdirSync(this.config.instance.socketDir, { recursive: true, mode: 0o755 });
    mkdirSync(this.paths.privateDir, { recursive: true, mode: 0o700 });
    chmodSync(this.paths.privateDir, 0o700);
    writeFileSync(this.paths.agentPid, `${process.pid}\n`, { mode: 0o600 });
    writeUserPassfile(this.config);
    if (kind !== 'empty') retireOldConfiguration(this.pgdata, this.log);
    this.noFailover = await initialNoFailover(kind, this.config, this.binDir, this.paths.allowFailover);

    const onSignal = (sig: NodeJS.Signals) => {
      this.log.info(`received ${sig}: shutting down`, { signal: sig });
      void this.shutdown();
    };
    const onHup = () => {
      this.log.info('received SIGHUP: reloading the configuration');
      this.reload();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onHup);
    try {
      if (this.config.instance.healthPort !== 0) {
        this.server = await startHealthServer(
          this.config.instance.healthPort,
          () => this.snapshot,
          this.config.ha.maxLagBytes,
          this.config.instance.healthAddress,
        ).catch((err) => {
          throw whileDoing(`starting the health endpoint on port ${this.config.instance.healthPort}`, err);
        });
      }
      this.writePatroniConfig();
      this.archive.startServer();
      this.setPhase('starting');
      this.ticker = setInterval(() => void this.tick(), TICK_MS);
      // Its own timer: the agent loop may be waiting on a Patroni that does not answer.
      this.watchdog = setInterval(() => this.fenceStalePatroni(), 500);
      void this.superviseLoop();
      await this.done;
      return this.failure ? 1 : 0;
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGHUP', onHup);
      clearInterval(this.ticker);
      clearInterval(this.watchdog);
      await this.client?.end().catch(() => undefined);
      this.server?.close();
      this.server?.closeAllConnections();
      rmSync(this.paths.agentPid, { force: true });
    }
  }

  // ---------------------------------------------------------------- configuration

  /** Writes patroni.yml (0600, private directory); true when it changed. */
  private writePatroniConfig(): boolean {
    const { inputs, ignoredParameters } = memberInputs(this.config, this.files, {
      postBootstrap: agentCommand('bootstrap-hook'),
      noFailover: this.noFailover,
      binDir: this.binDir,
    });
    if (ignoredParameters.length && !this.yamlText)
      this.log.warn(
        `ignoring parameters postgres-agent or Patroni set themselves (or WAL senders and slots below 10): ${ignoredParameters.join(', ')}`,
      );
    // Patroni reads YAML 1.1, where a bare on/off/yes/no is a boolean: quote such strings.
    // pgBackRest's file first: archive_command and restore_command name it.
    if (this.archive.writeConfig(this.config)) this.log.info('pgBackRest configuration written');
    const text = stringify(patroniConfig(inputs), { lineWidth: 0, version: '1.1' });
    this.secretsSeen = secretsFingerprint(this.baseConfig);
    if (text === this.yamlText) return false;
    const tmp = `${this.paths.patroniYaml}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, this.paths.patroniYaml);
    this.yamlText = text;
    return true;
  }

  /** Re-reads settings, files and passwords; Patroni reloads when its configuration changed. */
  private reload() {
    try {
      this.config = withHaFile(this.baseConfig);
      this.files = readMemberFiles(this.config);
      if (this.noFailover && failoverAllowedByFile(this.paths.allowFailover)) this.noFailover = false;
      writeUserPassfile(this.config);
      if (this.writePatroniConfig()) {
        this.log.info('Patroni configuration changed: reloading Patroni');
        this.patroni?.signal('SIGHUP');
      }
      this.lastLeaderDuty = 0; // passwords and cluster-wide settings are checked at the next tick
    } catch (err) {
      this.log.error(`configuration not reloaded: ${(err as Error).message}`);
    }
  }

  // ---------------------------------------------------------------- Patroni

  private async superviseLoop() {
    let failures = 0;
    while (!this.stopping) {
      const p = new PatroniProcess(this.config.ha.patroniBin, this.paths.patroniYaml, this.childEnv(), (l) =>
        this.onLine(l),
      );
      this.patroni = p;
      this.snapshot.patroniAlive = true;
      this.snapshot.patroniDownSince = undefined;
      this.log.info('Patroni started', { pid: p.pid, config: this.paths.patroniYaml });
      const exit = await p.exited;
      this.snapshot.patroniAlive = false;
      this.snapshot.patroniDownSince ??= Date.now();
      if (this.stopping) break;
      const ranMs = Date.now() - p.startedAt;
      failures = ranMs > 60_000 ? 0 : failures + 1;
      const wait = Math.min(30_000, 1000 * 2 ** Math.min(failures, 5));
      this.log.error(
        `Patroni exited (${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`}); a new Patroni takes PostgreSQL over in ${wait / 1000} s`,
      );
      await sleep(wait);
    }
    this.stopped();
  }

  /** Patroni and the hooks it runs inherit this; PGOPS_* settings reach the bootstrap hook. */
  private childEnv(): NodeJS.ProcessEnv {
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('PATRONI_')) delete env[k];
    // repo2's keys reach PostgreSQL's archive_command and restore_command through Patroni.
    return { ...env, ...this.archive.extraEnv() };
  }

  private onLine(line: string) {
    const c = classifyLine(line);
    this.healer.note(c);
    if (c.noSpace) this.disk.noteNoSpace();
    // Patroni's own words around its post_bootstrap hook: the leader's duties wait until it is done,
    // or they would race the hook creating the same roles and tables.
    if (line.includes('trying to bootstrap a new cluster')) this.bootstrapping = true;
    else if (/initialized a new cluster|failed attempt to bootstrap|failed to bootstrap/.test(line))
      this.bootstrapping = false;
    this.log.relay(line, c.level, c.source);
  }

  async shutdown() {
    if (this.stopping) return;
    this.stopping = true;
    this.setPhase('stopping');
    this.archive.stopServer();
    const p = this.patroni;
    if (p?.alive) {
      // Patroni stops PostgreSQL (fast) and hands the lead over before it exits.
      p.signal('SIGTERM');
      const t = setTimeout(() => {
        if (p.alive) {
          this.log.warn(
            `Patroni did not stop within ${this.config.postgresql.shutdownTimeoutSeconds} s: stopping it and PostgreSQL immediately`,
          );
          p.signal('SIGKILL');
          this.stopPostmaster('SIGQUIT');
        }
      }, this.config.postgresql.shutdownTimeoutSeconds * 1000);
      await p.exited;
      clearTimeout(t);
    }
    this.stopPostmaster('SIGINT');
    for (const pid of this.archive.stopAsyncWorkers())
      this.log.info(`stopped pgBackRest's asynchronous archive worker ${pid}`);
    this.stopped();
  }

  /** A postmaster still running without Patroni (Patroni was killed): stop it too. */
  private stopPostmaster(sig: NodeJS.Signals) {
    try {
      const pid = Number(readFileSync(join(this.pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, sig);
    } catch {
      /* not running */
    }
  }

  // ---------------------------------------------------------------- the agent loop

  private async tick() {
    if (this.ticking || this.stopping) return; // a slow answer must not pile up connections
    this.ticking = true;
    try {
      await this.tickOnce();
    } catch (err) {
      this.log.warn(`agent check failed: ${(err as Error).message}`);
    } finally {
      this.ticking = false;
      this.snapshot.lastTickAt = Date.now();
    }
  }

  private async tickOnce() {
    const s = this.snapshot;
    if (secretsFingerprint(this.baseConfig) !== this.secretsSeen) {
      this.log.info('a password or a high-availability setting changed: applying it');
      this.reload();
    }
    await this.readPatroni();
    await this.readPostgres();
    this.disk.check(this.config, this.pgdata);
    await this.checkFailoverFence();
    if (this.client && (await this.tls.check(this.client).catch(() => false)))
      this.log.info('the TLS certificate changed: PostgreSQL reloaded it');
    if (
      s.accepting &&
      s.inRecovery === false &&
      !this.bootstrapping &&
      Date.now() - this.lastLeaderDuty > LEADER_DUTY_MS
    ) {
      this.lastLeaderDuty = Date.now();
      await runLeaderDuties({
        archive: this.archive,
        api: this.api,
        client: this.client,
        config: this.config,
        files: this.files,
        binDir: this.binDir,
        log: this.log,
      });
    }
    if (s.inRecovery) await this.healer.healLostWal();
    if (s.inRecovery) await this.healer.healDiverged();
  }

  private async readPatroni() {
    const s = this.snapshot;
    if (!this.patroni?.alive) {
      s.patroniLive = undefined;
      s.patroniReady = undefined;
      return;
    }
    try {
      const [live, ready, self] = await Promise.all([
        this.api.probe('/liveness'),
        this.api.probe('/readiness'),
        this.api.self(),
      ]);
      s.patroniLive = live === 200;
      s.patroniReady = ready === 200;
      s.postgresState = self.state;
      this.lastPatroniAnswer = Date.now();
      if (s.phase === 'reinitializing' && self.state === 'running') this.setPhase('running');
    } catch {
      // Patroni is starting (REST API not up yet) or busy: keep the last answers.
    }
  }

  /**
   * A software watchdog. A primary whose Patroni stops answering (a hung or stopped process) keeps
   * serving while its lease runs out, and the other members promote a replica; a Patroni 3.0.2 that
   * resumes then can overwrite the new leader's record in etcd and take the lead back, and the new
   * primary's commits are rewound away. So before the lease can run out (ttl - loop_wait after the
   * last answer) the agent stops PostgreSQL immediately and kills that Patroni; the Patroni it starts
   * next reads who leads now and rejoins as a replica.
   */
  private fenceStalePatroni() {
    const p = this.patroni;
    const s = this.snapshot;
    if (!p?.alive || this.stopping || s.inRecovery !== false) return;
    const silentMs = Date.now() - Math.max(this.lastPatroniAnswer, p.startedAt);
    // The lease may have been renewed a loop before Patroni stopped, and our last answer may be a
    // tick older than that: act WATCHDOG_MARGIN_MS before the earliest moment it can run out.
    const limitMs = (this.config.ha.ttl - this.config.ha.loopWait) * 1000 - WATCHDOG_MARGIN_MS;
    if (silentMs < limitMs) return;
    this.log.error(
      `Patroni has not answered for ${Math.round(silentMs / 1000)} s while this member is the primary; its leader lease (${this.config.ha.ttl} s) is about to run out and another member may take over: stopping PostgreSQL and restarting Patroni, so that a stale Patroni never acts as the leader again`,
    );
    this.stopPostmaster('SIGQUIT');
    p.signal('SIGKILL');
    s.accepting = false;
    s.inRecovery = undefined;
    this.setPhase('starting', 'Patroni stopped answering while leading: restarted');
  }

  private async readPostgres() {
    const s = this.snapshot;
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
    } catch {
      s.accepting = false;
      const c = this.client;
      this.client = undefined;
      await c?.end().catch(() => undefined);
    }
  }

  /**
   * failover: manual keeps every replica out of automatic elections; the leader may keep leading.
   * Decided from Patroni's leader record, and left alone while nobody leads: a member restarting
   * after a crash runs as a standby until Patroni lets it take the lead back, and fencing it then
   * would leave the cluster without a primary.
   */
  private async checkFailoverFence() {
    if (this.config.ha.failover !== 'manual') {
      // Lifted once this member holds a copy of the cluster (see initialNoFailover).
      if (this.noFailover && inspectDataDir(this.pgdata) !== 'empty' && this.snapshot.accepting)
        this.setNoFailover(false);
      return;
    }
    let leader: string | undefined;
    try {
      leader = (await this.api.cluster()).members.find((m) => m.role === 'leader')?.name;
    } catch {
      return;
    }
    if (!leader) return;
    const want = leader !== this.config.agent.podName && !failoverAllowedByFile(this.paths.allowFailover);
    if (want !== this.noFailover) this.setNoFailover(want);
  }

  private setNoFailover(value: boolean) {
    this.noFailover = value;
    this.log.info(
      value
        ? 'failover is manual: this replica is not promoted automatically'
        : 'this member may take the lead (it leads, failover is automatic, or a promotion was requested)',
    );
    if (this.writePatroniConfig()) this.patroni?.signal('SIGHUP');
  }

  private async connectLocal(): Promise<pg.Client> {
    const c = new pg.Client({
      host: this.config.instance.socketDir,
      port: this.config.instance.port,
      user: this.config.roles.superuser,
      // Ignored when the peer rule admits us (it does after a password rotation); used otherwise.
      password: readSecret(this.config, 'PGOPS_SUPERUSER_PASSWORD'),
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
