// Assembles a running shardgate from a config: topology and pools, analyzer and router, the
// PostgreSQL (and MySQL) listeners, observability and the admin HTTP server. One Proxy per
// process (or per node:cluster worker).

import { readFileSync } from 'node:fs';
import os from 'node:os';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { registerCacheRoutes } from './admin/api-cache.js';
import { registerClusterRoutes } from './admin/api-cluster.js';
import { registerCoreRoutes } from './admin/api-core.js';
import { registerHistoryRoutes, reportContextFor } from './admin/api-history.js';
import { migrationSummary, registerMigrationRoutes } from './admin/api-migrations.js';
import { balancingPoint, registerMonitoringRoutes } from './admin/api-monitoring.js';
import { registerMysqlRoutes } from './admin/api-mysql.js';
import { registerQueryRoutes } from './admin/api-queries.js';
import { registerRulesRoutes } from './admin/api-rules.js';
import { registerTransactionRoutes } from './admin/api-transactions.js';
import { ClusterView, hotKeySummary, type InstanceSnapshot, type WorkerPeers } from './admin/cluster-view.js';
import { registerDashboard } from './admin/dashboard.js';
import { AdminServer } from './admin/http.js';
import { AuthQueryLookup } from './backend/auth-query.js';
import { MysqlTopology } from './backend/mysql-topology.js';
import { RuntimeTopology } from './backend/pg-topology.js';
import { PgResultCache } from './cache/pg-result-cache.js';
import { SharedTier } from './cache/shared-tier.js';
import type { ShardgateConfig } from './config/schema.js';
import { applyRuleLocally } from './control/apply-rule.js';
import type { ControlPlane, CutoverFence, CutoverMember } from './control/control-plane.js';
import { GateCutoverMember } from './control/cutover-member.js';
import { EmbeddedControl } from './control/embedded-control.js';
import type { PeerReply } from './control/peer-fetch.js';
import { MysqlListener } from './listener/mysql-listener.js';
import { PgListener } from './listener/pg-listener.js';
import { PreAuthLimit } from './listener/pre-auth-limit.js';
import { CutoverGate } from './migration/cutover-gate.js';
import { configWithMigrations, MigrationManager, switchedMigrationIds } from './migration/manager.js';
import { DrTestLog } from './observability/dr-tests.js';
import { HistorySampler, startHistory } from './observability/history-sampler.js';
import { HistoryStore } from './observability/history-store.js';
import { type Observability, startObservability } from './observability/runtime.js';
import { ObserverList } from './observability/statement-observer.js';
import { ConnectionIds } from './protocol/mysql/connection-ids.js';
import {
  type KillOrder,
  type KillOutcome,
  KillRouter,
  killOwned,
  UNKNOWN,
} from './protocol/mysql/kill-router.js';
import { Sha2AuthState } from './protocol/mysql/password-check.js';
import { MYSQL_ROUTER_DIALECT } from './protocol/mysql/router-dialect.js';
import { ServerInfo } from './protocol/mysql/server-info.js';
import type { KillTarget } from './protocol/mysql/services.js';
import { LocalCancelRegistry } from './protocol/postgres/cancel-registry.js';
import { prepareScramSecrets } from './protocol/postgres/client-auth.js';
import { multiplexCounters } from './protocol/postgres/mux-lane.js';
import { warmLike } from './protocol/postgres/server-binding.js';
import { Router } from './router/router.js';
import { QueryAnalyzer } from './sql/analyzer.js';
import { MysqlQueryAnalyzer } from './sql/mysql/analyzer-mysql.js';
import {
  CompensatingCoordinator,
  CompensationRecovery,
  type CompensationStore,
} from './transactions/compensating.js';
import { compensationAnnouncer } from './transactions/compensation-events.js';
import { SqlCompensationStore } from './transactions/compensation-store.js';
import { mysqlCompensation } from './transactions/mysql-compensation-store.js';
import { MysqlDecisionLog, MysqlRecoveryPort } from './transactions/mysql-two-phase.js';
import { pgCompensation } from './transactions/pg-compensation-store.js';
import { PgDecisionLog, PgRecoveryPort } from './transactions/pg-two-phase.js';
import { TwoPhaseRecovery } from './transactions/recovery.js';
import { RecoveryGroup } from './transactions/recovery-group.js';
import { TwoPhaseStats } from './transactions/stats.js';
import { TwoPhaseCoordinator } from './transactions/two-phase.js';
import { SHARDGATE_VERSION } from './version.js';

export interface ProxyOptions {
  log: Logger;
  /** Listen on these ports instead of the config's (0 = any free port). */
  postgresPort?: number;
  /** MySQL front end port (0 = any free port); used when config.listen.mysql is set. */
  mysqlPort?: number;
  /** Admin HTTP port (0 = any free port); null disables the admin server (cluster workers). */
  adminPort?: number | null;
  workerIndex?: number;
  /** Config file path, for persisting rule changes made through the admin API. */
  configPath?: string | null;
  /** In a cluster worker, relays a cancel to the worker that owns the session. */
  relayCancel?: (workerIndex: number, processId: number, secretKey: number, fromPeer: boolean) => void;
  /** In a cluster worker, asks the worker that owns a MySQL session to KILL it, and its answer. */
  relayKill?: (workerIndex: number, order: KillOrder) => Promise<KillOutcome>;
  /** Shared rules and membership (default: embedded, this process only). Closed with the proxy. */
  control?: ControlPlane;
  /** This instance's member id (default host-pid); workers past the first add `.w<index>`. */
  instanceId?: string | undefined;
  /** The other workers of this instance (`workers > 1`), for the cluster view over IPC. */
  workerPeers?: WorkerPeers;
  /** How many worker processes this instance runs (default 1). */
  workerCount?: number;
  /**
   * `workers > 1` without a shared fence (embedded control plane): the fence between the workers
   * of this instance, built over this process's cutover member (src/control/worker-fence.ts).
   */
  workerFence?: (member: CutoverMember) => CutoverFence;
}

export interface ProxyHandle {
  config: ShardgateConfig;
  topology: RuntimeTopology;
  router: Router;
  analyzer: QueryAnalyzer;
  observers: ObserverList;
  observability: Observability | null;
  cancel: LocalCancelRegistry;
  cutover: CutoverGate;
  /** This process's part in other instances' fenced cutovers (its hold reports). */
  cutoverMember: GateCutoverMember;
  control: ControlPlane;
  /** Live splits; only in the process that serves the admin API (worker 0). */
  migrations: MigrationManager | null;
  /** Recovery of compensate-mode transactions; only in the process that serves the admin API. */
  compensationRecovery: CompensationRecovery | null;
  postgres: { host: string; port: number; listener: PgListener };
  /** The MySQL front end, when config.listen.mysql is set and config.mysqlShards is not empty. */
  mysql: {
    host: string;
    port: number;
    listener: MysqlListener;
    topology: MysqlTopology;
    router: Router<MysqlQueryAnalyzer>;
    /** Recovery of the MySQL side's compensate-mode transactions (where the admin API is served). */
    compensationRecovery: CompensationRecovery | null;
    compensations: CompensationStore;
  } | null;
  admin: { port: number; server: AdminServer } | null;
  /** What this process answers another worker's cluster view: /api/instance, /metrics, /api/hotkeys/summary. */
  viewAnswer(path: string): Promise<PeerReply>;
  /** A MySQL KILL another worker received for a session of this process (its outcome). */
  killOwned(order: KillOrder): KillOutcome;
  close(): Promise<void>;
}

export async function startProxy(configured: ShardgateConfig, options: ProxyOptions): Promise<ProxyHandle> {
  const log = options.log;
  const config = configWithMigrations(configured);
  const topology = new RuntimeTopology(config);
  // A cutover's warm connections carry the settings the source's clients use (pg-topology.ts, prewarm).
  topology.warmLike = warmLike;
  // Shared rules apply before any client is accepted; later changes from any instance as they come.
  // (What is built from the config below takes topology.currentConfig: the rules already applied.)
  const control = options.control ?? new EmbeddedControl();
  const workerIndex = options.workerIndex ?? 0;
  const startedAt = Date.now();
  const memberId = `${options.instanceId ?? `${os.hostname()}-${process.pid}`}${workerIndex > 0 ? `.w${workerIndex}` : ''}`;
  // The gate every session's writes pass: local cutovers, other instances' cutovers (through the
  // control plane's fence) and the fence of a lease in doubt all hold writes here.
  const cutover = new CutoverGate();
  const cutoverMember = new GateCutoverMember(
    topology,
    cutover,
    log,
    switchedMigrationIds(configured),
    config.migration.inflightGraceMs,
  );
  try {
    await control.start(
      {
        id: memberId,
        admin: null,
        version: SHARDGATE_VERSION,
        topologyVersion: topology.version,
        startedAt: new Date(startedAt).toISOString(),
      },
      (change) => {
        if (applyRuleLocally(topology, change))
          log.info({ change, topologyVersion: topology.version }, 'shared routing rule applied');
      },
      cutoverMember,
    );
    await control.updateSelf({ topologyVersion: topology.version });
  } catch (err) {
    // Nothing serves yet: release what the topology opened, and say what could not be reached.
    await control.close().catch(() => undefined);
    await topology.close();
    throw new Error(`control plane: ${err instanceof Error ? err.message : String(err)}`);
  }
  topology.onChange(() => void control.updateSelf({ topologyVersion: topology.version }));
  // Workers of one instance fence each other over IPC unless the control plane fences them all.
  const workerFence = control.fence ? null : (options.workerFence?.(cutoverMember) ?? null);
  const logShunChange = (server: string, shunned: boolean, reason: string | null) => {
    if (shunned) log.warn({ server, reason }, 'server out of rotation (shunned)');
    else log.info({ server }, 'server back in rotation');
  };
  const logPromotion = (shard: string, server: string, previous: string) =>
    log.warn(
      { shard, server, previous },
      'primary changed: a replica reported it is a primary while the primary was down',
    );
  topology.monitor.onShunChange = logShunChange;
  topology.onPromotion = logPromotion;
  topology.monitor.start();
  // Every clear-text password's SCRAM secret now: a login never runs PBKDF2 (client-auth.ts).
  prepareScramSecrets(config.users);
  topology.onChange(() => prepareScramSecrets(topology.currentConfig.users));
  const analyzer = await QueryAnalyzer.create({
    cacheSize: config.routing.parseCacheSize,
    cacheBytes: config.routing.parseCacheBytes,
    maxStatementTokens: config.limits.maxStatementTokens,
  });
  const decisions = { entries: config.routing.parseCacheSize, bytes: config.routing.decisionCacheBytes };
  const router = new Router(analyzer, topology, {}, decisions);
  const observers = new ObserverList();
  const observability = config.observability.enabled
    ? startObservability(config, topology, log, () => analyzer.stats)
    : null;
  if (observability) {
    const { tracker } = observability;
    observers.add(tracker);
    observers.add({
      onStatement: () => undefined,
      onClientCount: (protocol, delta) =>
        delta > 0 ? tracker.metrics.clientConnected(protocol) : tracker.metrics.clientDisconnected(protocol),
    });
  }
  const resultCache = new PgResultCache(topology.currentConfig);
  const sharedCache = config.cache.shared
    ? new SharedTier(config.cache.shared, log, (message) => resultCache.onRemoteWrite(message))
    : null;
  if (sharedCache) {
    resultCache.attachShared(sharedCache);
    sharedCache.start();
  }
  topology.onChange(() => resultCache.setConfig(topology.currentConfig));
  observability?.tracker.metrics.setSources({
    resultCache: () => resultCache.store.stats(),
    multiplex: () => multiplexCounters,
  });
  // Splits run where the admin API is (one process); their switched topologies apply everywhere.
  const migrations =
    options.adminPort !== null
      ? new MigrationManager({
          topology,
          gate: cutover,
          log,
          fence: control.fence ?? workerFence,
          otherInstances: async () =>
            control.kind === 'embedded'
              ? []
              : (await control.members()).map((m) => m.id).filter((id) => id !== memberId),
          ...(observability
            ? {
                registry: observability.tracker.metrics.registry,
                balancingPoint: (shard: string) => balancingPoint(topology, observability, shard),
              }
            : {}),
        })
      : null;
  await migrations?.restore();
  if (observability && migrations) {
    observability.tracker.metrics.setSources({
      cutover: () => migrations.list().map((m) => ({ migration: m.id, phase: m.phase })),
    });
  }
  // History is written where the admin API is (one process per data directory).
  const historySettings = config.observability.history;
  const history =
    observability && historySettings.enabled && options.adminPort !== null
      ? new HistoryStore({
          dir: historySettings.dir,
          retentionMs: historySettings.retentionMs,
          maxBytes: historySettings.maxBytes,
        })
      : null;
  const historyRun =
    history && observability
      ? startHistory(
          history,
          new HistorySampler({
            topology,
            tracker: observability.tracker,
            resultCache: () => resultCache.store.stats(),
          }),
          historySettings.intervalMs,
          (listener) => observability.alerts.onEvent(listener),
          (err) => log.warn({ err: err.message }, 'history write failed'),
        )
      : null;
  // Cross-shard transactions: the coordinator runs in every process, recovery where the admin API is.
  const txSettings = config.transactions;
  const twoPhaseStats = new TwoPhaseStats();
  if (observability) twoPhaseStats.register(observability.tracker.metrics.registry);
  const decisionLog = new PgDecisionLog(topology);
  const twoPhase = new TwoPhaseCoordinator(decisionLog, twoPhaseStats, txSettings.recoveryMinAgeMs);
  // Compensate mode (dataTypes.*.crossShard: compensate): one coordinator per protocol's store;
  // its recovery runs where two-phase recovery does.
  const compensateMode = (store: CompensationStore) => {
    const coordinator = new CompensatingCoordinator(
      store,
      twoPhaseStats,
      compensationAnnouncer(log, observability?.alerts ?? null),
      log,
    );
    const recovery =
      options.adminPort !== null
        ? new CompensationRecovery(
            coordinator,
            { intervalMs: txSettings.recoveryIntervalMs, minAgeMs: txSettings.recoveryMinAgeMs },
            log,
          )
        : null;
    return { coordinator, recovery };
  };
  const { coordinator: compensating, recovery: compensationRecovery } = compensateMode(
    new SqlCompensationStore(topology, pgCompensation),
  );
  const recoveryOptions = (protocol: string) => ({
    intervalMs: txSettings.recoveryIntervalMs,
    minAgeMs: txSettings.recoveryMinAgeMs,
    protocol,
  });
  // One recovery per protocol, started with the MySQL side's once that exists (below).
  const recoveries: TwoPhaseRecovery[] =
    options.adminPort !== null
      ? [
          new TwoPhaseRecovery(
            new PgRecoveryPort(topology),
            decisionLog,
            twoPhase,
            recoveryOptions('postgres'),
            log,
          ),
        ]
      : [];
  // The deployment's members as this process sees them: the cluster view of the admin API, and
  // the way a cancel for another instance's session reaches it.
  const clusterView = new ClusterView({
    control,
    selfId: memberId,
    token: config.admin.token,
    workers: options.workerPeers,
    instanceId: options.instanceId,
  });
  const snapshot = (): InstanceSnapshot => ({
    id: memberId,
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
    topologyVersion: topology.version,
    traffic: observability?.tracker.metrics.traffic() ?? null,
  });
  const cancel = new LocalCancelRegistry(
    options.workerIndex ?? 0,
    options.relayCancel,
    control.kind === 'embedded'
      ? undefined
      : (processId, secretKey) =>
          void clusterView.forwardCancel(processId, secretKey).then(
            (failed) => {
              if (failed === null) log.debug({ processId }, 'cancel dropped: forwarding rate exceeded');
              else if (failed.length > 0)
                log.warn({ failed }, 'cancel not delivered to every other instance');
            },
            (err: Error) => log.warn({ err: err.message }, 'cancel not forwarded to the other instances'),
          ),
  );
  const tlsConfig = config.tls
    ? {
        module: tls,
        context: tls.createSecureContext({
          cert: readFileSync(config.tls.cert),
          key: readFileSync(config.tls.key),
        }),
        required: config.tls.required,
      }
    : null;
  // Unauthenticated connections per source address, counted over both listeners.
  const preAuth = new PreAuthLimit(() => config.limits.maxUnauthenticatedPerAddress);
  const authQuery = config.authQuery ? new AuthQueryLookup(topology, config.authQuery) : undefined;
  const pgListener = new PgListener(
    {
      config,
      log,
      topology,
      router,
      cancel,
      cutover,
      observer: observers,
      tls: tlsConfig,
      resultCache,
      ...(authQuery ? { authQuery } : {}),
      twoPhase,
      twoPhaseLog: decisionLog,
      compensating,
    },
    preAuth,
  );
  const host = config.listen.postgres.host;
  const port = await pgListener.listen(host, options.postgresPort ?? config.listen.postgres.port);
  log.info({ host, port }, 'postgres front end listening');
  const socketDir = config.listen.postgres.socketDir;
  if (socketDir)
    log.info({ path: await pgListener.listenUnix(socketDir, port) }, 'postgres unix socket listening');
  let mysql: ProxyHandle['mysql'] = null;
  // Live MySQL sessions by connection id (KILL); and where a KILL none of them matches goes.
  const mysqlSessions = new Map<number, KillTarget>();
  let mysqlKills: KillRouter | null = null;
  if (config.listen.mysql && config.mysqlShards.length > 0) {
    const mysqlTopology = new MysqlTopology(topology.currentConfig);
    mysqlTopology.monitor.onShunChange = logShunChange;
    mysqlTopology.onPromotion = logPromotion;
    mysqlTopology.monitor.start();
    observability?.addTopology(mysqlTopology);
    // Routing rules are shared: a rule change applied to the PostgreSQL side applies here too.
    topology.onChange(() => mysqlTopology.rebuild(topology.currentConfig));
    // A MySQL migration's switch fences the halves' replicas here (topology.fenceReplicas).
    topology.forwardFences((shard, position, protocol) =>
      mysqlTopology.fenceReplicas(shard, position, protocol),
    );
    const mysqlAnalyzer = await MysqlQueryAnalyzer.create({
      cacheSize: config.routing.parseCacheSize,
      cacheBytes: config.routing.parseCacheBytes,
      maxStatementTokens: config.limits.maxStatementTokens,
    });
    const mysqlRouter = new Router(mysqlAnalyzer, mysqlTopology, MYSQL_ROUTER_DIALECT, decisions);
    // The same coordinator class with the MariaDB decision log; XA participants (docs/transactions.md).
    const mysqlDecisionLog = new MysqlDecisionLog(mysqlTopology);
    const mysqlTwoPhase = new TwoPhaseCoordinator(
      mysqlDecisionLog,
      twoPhaseStats,
      txSettings.recoveryMinAgeMs,
    );
    if (options.adminPort !== null)
      recoveries.push(
        new TwoPhaseRecovery(
          new MysqlRecoveryPort(mysqlTopology),
          mysqlDecisionLog,
          mysqlTwoPhase,
          recoveryOptions('mysql'),
          log,
        ),
      );
    const mysqlCompensate = compensateMode(new SqlCompensationStore(mysqlTopology, mysqlCompensation));
    const mysqlIds = new ConnectionIds(workerIndex, options.workerCount ?? 1);
    mysqlKills = new KillRouter(
      mysqlSessions,
      mysqlIds,
      options.relayKill,
      control.kind === 'embedded' ? undefined : (order) => clusterView.forwardKill(order),
    );
    const listener = new MysqlListener(
      {
        config,
        log,
        topology: mysqlTopology,
        twoPhase: mysqlTwoPhase,
        twoPhaseLog: mysqlDecisionLog,
        compensating: mysqlCompensate.coordinator,
        router: mysqlRouter,
        observer: observers,
        cutover,
        tls: tlsConfig,
        server: new ServerInfo(),
        sha2: Sha2AuthState.warmed(),
        sessions: mysqlSessions,
        connectionIds: mysqlIds,
        kills: mysqlKills,
      },
      preAuth,
    );
    const mysqlHost = config.listen.mysql.host;
    const mysqlPort = await listener.listen(mysqlHost, options.mysqlPort ?? config.listen.mysql.port);
    mysql = {
      host: mysqlHost,
      port: mysqlPort,
      listener,
      topology: mysqlTopology,
      router: mysqlRouter,
      compensationRecovery: mysqlCompensate.recovery,
      compensations: mysqlCompensate.coordinator.store,
    };
    log.info({ host: mysqlHost, port: mysqlPort }, 'mysql front end listening');
  }
  const recovery = recoveries.length > 0 ? new RecoveryGroup(recoveries) : null;
  recovery?.start();
  compensationRecovery?.start();
  mysql?.compensationRecovery?.start();
  if (recovery) observability?.setInDoubtSource(() => twoPhaseStats.oldestInDoubtByShard);
  let admin: ProxyHandle['admin'] = null;
  if (options.adminPort !== null) {
    const server = new AdminServer(log, config.admin.token, {
      allowedHosts: config.admin.allowedHosts,
      listenHost: config.listen.admin.host,
    });
    registerCoreRoutes(server, topology);
    registerRulesRoutes(server, topology, log, options.configPath ?? null, (change) =>
      control.publishRule(change),
    );
    registerClusterRoutes(server, control, clusterView, {
      snapshot,
      cancelForwarded: (processId, secretKey) => cancel.cancelForwarded(processId, secretKey),
      killForwarded: async (order) => (await mysqlKills?.forwarded(order)) ?? UNKNOWN,
    });
    registerCacheRoutes(server, resultCache);
    if (mysql) registerMysqlRoutes(server, mysql.topology);
    if (observability)
      registerMonitoringRoutes(server, topology, observability, mysql?.topology ?? null, clusterView);
    if (observability) registerQueryRoutes(server, observability.tracker.statements);
    if (observability && history) {
      const drTests = new DrTestLog(config.observability.history.dir);
      registerHistoryRoutes(
        server,
        history,
        reportContextFor(topology, observability, history, () => resultCache.store.stats(), drTests),
        drTests,
      );
    }
    if (migrations) registerMigrationRoutes(server, migrations);
    if (recovery)
      registerTransactionRoutes(server, recovery, twoPhaseStats, [
        { protocol: 'postgres', store: compensating.store, recovery: compensationRecovery },
        ...(mysql
          ? [{ protocol: 'mysql', store: mysql.compensations, recovery: mysql.compensationRecovery }]
          : []),
      ]);
    registerDashboard(server, () => migrations?.list().map(migrationSummary) ?? []);
    const adminPort = await server.listen(
      config.listen.admin.host,
      options.adminPort ?? config.listen.admin.port,
    );
    admin = { port: adminPort, server };
    await control.updateSelf({ admin: `http://${advertisedHost(config.listen.admin.host)}:${adminPort}` });
    log.info({ host: config.listen.admin.host, port: adminPort }, 'admin HTTP listening');
  }
  return {
    config,
    topology,
    router,
    analyzer,
    observers,
    observability,
    cancel,
    cutover,
    cutoverMember,
    control,
    migrations,
    compensationRecovery,
    postgres: { host, port, listener: pgListener },
    mysql,
    admin,
    async viewAnswer(path) {
      const url = new URL(path, 'http://worker');
      if (url.pathname === '/api/instance')
        return { ok: true, status: 200, text: JSON.stringify(snapshot()) };
      if (!observability) return { ok: false, error: 'observability is off in this worker' };
      if (url.pathname === '/metrics')
        return { ok: true, status: 200, text: await observability.tracker.metrics.text() };
      if (url.pathname === '/api/hotkeys/summary') {
        const summary = hotKeySummary(observability.tracker.hotKeys, url.searchParams);
        return { ok: true, status: 200, text: JSON.stringify(summary) };
      }
      return { ok: false, error: `a worker does not answer ${url.pathname}` };
    },
    killOwned: (order) => killOwned(mysqlSessions, order),
    async close() {
      await control.close();
      await migrations?.close();
      await recovery?.stop();
      await compensationRecovery?.stop();
      await mysql?.compensationRecovery?.stop();
      observability?.stop();
      await historyRun?.stop();
      await admin?.server.close();
      await pgListener.close();
      await sharedCache?.close();
      await mysql?.listener.close();
      await mysql?.topology.close();
      await authQuery?.close();
      await topology.close();
    },
  };
}

/** A wildcard listen address is no address for another instance: name this host instead. */
function advertisedHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? os.hostname() : host;
}
