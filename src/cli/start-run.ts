// `shardgate start`'s work (options in start-command.ts): load the config and run the proxy.
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { loadConfigFile } from '../config/load.js';
import type { ShardgateConfig } from '../config/schema.js';
import { parseControlUrl } from '../control/control-plane.js';
import { EtcdControl } from '../control/etcd-control.js';
import { WorkerControl } from '../control/worker-control.js';
import { isRulesMessage, WorkerRulesRelay } from '../control/worker-rules-relay.js';
import { createLogger } from '../log.js';
import { installLastResortHandlers } from '../process-guard.js';
import { startProxy } from '../proxy.js';
import type { StartOptions } from './start-command.js';

import { workerFenceArbiter, workerFenceChannel } from './worker-fence-wiring.js';
import { routeRelayMessages, workerRelay } from './worker-relay.js';
import { superviseWorkers } from './worker-supervisor.js';
import { routeViewMessages, workerPeers } from './worker-view.js';

export async function startFromOptions(opts: StartOptions): Promise<void> {
  const config = loadConfigFile(opts.config);
  if (opts.workers) config.workers = opts.workers === 'auto' ? 'auto' : Number(opts.workers);
  if (opts.port) config.listen.postgres.port = Number(opts.port);
  // Checked before anything starts, so a typo exits at once with what is wrong.
  const control = opts.control ? parseControlUrl(opts.control) : undefined;
  await runProxy(config, opts.config, {
    ...(control ? { control } : {}),
    ...(opts.instanceId ? { instanceId: opts.instanceId } : {}),
  });
}

export async function runProxy(
  config: ShardgateConfig,
  configPath?: string,
  shared: { control?: ReturnType<typeof parseControlUrl>; instanceId?: string } = {},
): Promise<void> {
  const log = createLogger(config.log.level);
  const workers = config.workers === 'auto' ? os.availableParallelism() : config.workers;
  if (workers > 1 && cluster.isPrimary) {
    log.info({ workers }, 'starting worker processes');
    // One instance id for every worker (`<id>.w<i>`), so they know each other's member ids.
    const instanceId = shared.instanceId ?? `${os.hostname()}-${process.pid}`;
    // Read live by the relays below: a restarted worker replaces its index's entry.
    const forks = new Map<number, Worker>();
    const sendTo = (i: number, msg: object) => {
      const w = forks.get(i);
      if (w?.isConnected()) w.send(msg);
    };
    const fence = workerFenceArbiter(forks, log);
    // Without etcd the primary holds the shared rules and relays them to every worker.
    const rules = shared.control ? null : new WorkerRulesRelay(sendTo);
    const supervisor = superviseWorkers(
      forks,
      workers,
      (i) => ({
        SHARDGATE_WORKER_INDEX: String(i),
        SHARDGATE_WORKER_COUNT: String(workers),
        SHARDGATE_INSTANCE_ID: instanceId,
        SHARDGATE_CONFIG: configPath ?? '',
      }),
      (_i, worker) => {
        // Cancels and KILLs may land on any worker: passed on to the owner by its index.
        worker.on('message', (msg: unknown) => {
          // The primary has no last-resort handler: a throw here would end every worker with it.
          try {
            routeRelayMessages(forks, worker, msg, log);
            routeViewMessages(forks, msg);
            fence.onMessage(msg);
            if (rules && isRulesMessage(msg)) rules.onMessage(msg);
          } catch (err) {
            log.warn({ err: err instanceof Error ? err.message : String(err) }, 'worker message not handled');
          }
        });
      },
      (i) => {
        fence.onExit(i);
        rules?.onExit(i);
      },
      log,
    );
    const stop = () => {
      supervisor.stop('SIGTERM');
      setTimeout(() => process.exit(0), 2_000).unref();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    return;
  }
  const workerIndex = Number(process.env.SHARDGATE_WORKER_INDEX ?? 0);
  const instanceId = shared.instanceId ?? process.env.SHARDGATE_INSTANCE_ID;
  // The other workers answer worker 0's cluster view (/api/cluster, ?scope=cluster) over IPC.
  const view = cluster.isWorker
    ? workerPeers(
        workerIndex,
        Number(process.env.SHARDGATE_WORKER_COUNT ?? 1),
        instanceId ?? `${os.hostname()}-${process.ppid}`,
        (msg) => process.send?.(msg),
      )
    : null;
  // Every worker joins the control plane itself, so a shared rule reaches each of them: etcd, or
  // without it the rules the primary process holds and relays (worker-rules-relay.ts).
  const control = shared.control
    ? new EtcdControl(shared.control, log)
    : cluster.isWorker
      ? new WorkerControl(
          workerIndex,
          {
            send: (msg) => process.send?.(msg),
            onMessage: (l) => process.on('message', l),
            offMessage: (l) => process.off('message', l),
          },
          log,
        )
      : undefined;
  // Without etcd the workers fence each other's cutovers through the primary (before startProxy:
  // a hold that comes while this worker starts waits for it).
  const fence = cluster.isWorker && !shared.control ? workerFenceChannel(workerIndex, instanceId, log) : null;
  // Cancels and KILLs for sessions of the other workers go through the primary.
  const relay = cluster.isWorker ? workerRelay(workerIndex, (msg) => process.send?.(msg)) : null;
  const proxy = await startProxy(config, {
    log,
    workerIndex,
    workerCount: Number(process.env.SHARDGATE_WORKER_COUNT ?? 1),
    // Rule changes sent with persist: true are written back to this file.
    configPath: configPath ?? null,
    ...(control ? { control } : {}),
    instanceId,
    ...(view ? { workerPeers: view.peers } : {}),
    ...(fence ? { workerFence: fence.attach } : {}),
    // One admin server (worker 0): its metrics cover its own sessions; see the README's limits.
    adminPort: workerIndex === 0 ? undefined : null,
    ...(relay ? { relayCancel: relay.relayCancel, relayKill: relay.relayKill } : {}),
  });
  // Serving from here on: nothing one client sends may end the process.
  installLastResortHandlers(log);
  if (cluster.isWorker) {
    process.on('message', (msg: unknown) => {
      relay?.onMessage(msg, {
        cancel: (m) => proxy.cancel.cancelOwned(m.processId, m.secretKey, m.fromPeer === true),
        kill: (order) => proxy.killOwned(order),
      });
      view?.onMessage(msg, (path) => proxy.viewAnswer(path));
    });
  }
  const stop = async () => {
    log.info('shutting down');
    await proxy.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}
