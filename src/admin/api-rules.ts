// /api/rules: read and change routing rules at run time (a data type's level or floor, drain a
// replica, make a shard read-only) without dropping client connections. Changes are validated
// with the same schema as the config file, logged, applied as a new topology version, and can be
// persisted to the config file.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { RuntimeTopology } from '../backend/pg-topology.js';
import { parseConfig } from '../config/load.js';
import { CONSISTENCY_LEVELS, type ShardgateConfig } from '../config/schema.js';
import { type AdminServer, HttpError } from './http.js';
import { parseRequestBody } from './request-body.js';

const level = z.enum(CONSISTENCY_LEVELS);

const ruleChange = z.discriminatedUnion('action', [
  z.object({
    action: z.literal('set-level'),
    dataType: z.string(),
    level,
    persist: z.boolean().default(false),
  }),
  z.object({
    action: z.literal('set-floor'),
    dataType: z.string(),
    floor: z.union([level, z.literal('none')]),
    persist: z.boolean().default(false),
  }),
  z.object({ action: z.literal('drain'), server: z.string(), persist: z.boolean().default(false) }),
  z.object({ action: z.literal('undrain'), server: z.string(), persist: z.boolean().default(false) }),
  z.object({ action: z.literal('read-only'), shard: z.string(), persist: z.boolean().default(false) }),
  z.object({ action: z.literal('read-write'), shard: z.string(), persist: z.boolean().default(false) }),
  z.object({
    action: z.literal('set-pool-size'),
    shard: z.string(),
    size: z.number().int().min(1).max(10_000),
    persist: z.boolean().default(false),
  }),
]);
export type RuleChange = z.infer<typeof ruleChange>;

export interface RulesState {
  drained: Set<string>;
}

/** Applies a change to a copy of the config; throws HttpError 400 with a clear message. */
export function applyRuleChange(
  config: ShardgateConfig,
  change: RuleChange,
  topology: RuntimeTopology,
): ShardgateConfig {
  const next = structuredClone(config);
  switch (change.action) {
    case 'set-level':
    case 'set-floor': {
      const dt = next.dataTypes[change.dataType];
      if (!dt) {
        throw new HttpError(
          400,
          `unknown data type "${change.dataType}"; known: ${Object.keys(next.dataTypes).join(', ')}`,
        );
      }
      if (change.action === 'set-level') dt.level = change.level;
      else dt.floor = change.floor === 'none' ? undefined : change.floor;
      break;
    }
    case 'read-only':
    case 'read-write':
    case 'set-pool-size': {
      const shard = next.shards.find((s) => s.name === change.shard);
      if (!shard)
        throw new HttpError(
          400,
          `unknown shard "${change.shard}"; known: ${topology.shardNames().join(', ')}`,
        );
      if (change.action === 'set-pool-size') shard.poolSize = change.size;
      else shard.readOnly = change.action === 'read-only';
      break;
    }
    case 'drain':
    case 'undrain': {
      const server = topology.server(change.server);
      if (!server) throw new HttpError(400, `unknown server "${change.server}"`);
      if (server.role !== 'replica')
        throw new HttpError(400, `"${change.server}" is a primary; only replicas can be drained`);
      break;
    }
  }
  try {
    return parseConfig(next, 'rule change');
  } catch (err) {
    throw new HttpError(400, err instanceof Error ? err.message : String(err));
  }
}

function persistChange(path: string, change: RuleChange): void {
  const doc = parseDocument(readFileSync(path, 'utf8'));
  switch (change.action) {
    case 'set-level':
      doc.setIn(['dataTypes', change.dataType, 'level'], change.level);
      break;
    case 'set-floor':
      if (change.floor === 'none') doc.deleteIn(['dataTypes', change.dataType, 'floor']);
      else doc.setIn(['dataTypes', change.dataType, 'floor'], change.floor);
      break;
    case 'read-only':
    case 'read-write':
    case 'set-pool-size': {
      const shards = doc.get('shards') as {
        items?: Array<{ get(k: string): unknown; set(k: string, v: unknown): void }>;
      };
      const item = shards?.items?.find((s) => s.get('name') === change.shard);
      if (change.action === 'set-pool-size') item?.set('poolSize', change.size);
      else item?.set('readOnly', change.action === 'read-only');
      break;
    }
    case 'drain':
    case 'undrain':
      // Drains are operational state, kept in memory only.
      return;
  }
  writeFileSync(path, doc.toString());
}

export function registerRulesRoutes(
  admin: AdminServer,
  topology: RuntimeTopology,
  log: Logger,
  configPath: string | null,
  /** Applies a validated change: here only (embedded control plane) or on every instance (etcd). */
  publish: (change: RuleChange) => Promise<void>,
): void {
  admin.route({
    method: 'GET',
    path: '/api/rules',
    open: true,
    handler: () => {
      const config = topology.currentConfig;
      return {
        json: {
          dataTypes: config.dataTypes,
          defaultLevel: config.routing.defaultLevel,
          drained: topology
            .allServers()
            .filter((s) => s.view.drained)
            .map((s) => s.name),
          readOnlyShards: config.shards.filter((s) => s.readOnly).map((s) => s.name),
          topologyVersion: topology.version,
        },
      };
    },
  });
  admin.route({
    method: 'POST',
    path: '/api/rules',
    mutating: true,
    handler: async (req) => {
      const change = parseRequestBody(ruleChange, req.body, 'rule change');
      // Validates (400 with a clear message) before anything is shared.
      applyRuleChange(topology.currentConfig, change, topology);
      try {
        await publish(change);
      } catch (err) {
        throw new HttpError(
          503,
          `rule change not applied: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      let persisted = false;
      if (change.persist) {
        if (!configPath)
          throw new HttpError(400, 'this shardgate runs without a config file; nothing to persist to');
        persistChange(configPath, change);
        persisted = true;
      }
      log.info({ change, topologyVersion: topology.version, persisted }, 'routing rule changed');
      return {
        json: { message: `applied ${change.action} (topology version ${topology.version})`, persisted },
      };
    },
  });
}
