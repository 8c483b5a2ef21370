// /api/cluster: every live member of this deployment's control plane (id, admin address, version,
// topology version) with what each one says about itself (uptime, traffic), from any instance;
// members that do not answer are listed as unreachable with the reason. /api/instance: this
// instance about itself (what the others ask). POST /api/cluster/cancel: a cancel another
// instance received for a session it does not hold. POST /api/cluster/kill: the same for a MySQL
// KILL, answered with what the holder did. Embedded control plane: just this one.
import type { ControlPlane } from '../control/control-plane.js';
import type { KillOrder, KillOutcome } from '../protocol/mysql/kill-router.js';
import { type ClusterView, type InstanceSnapshot, parseSnapshot } from './cluster-view.js';
import { type AdminServer, HttpError } from './http.js';

export interface ClusterRouteSources {
  snapshot(): InstanceSnapshot;
  /** Cancels the session (this process or one of its workers) holding the key; never forwards again. */
  cancelForwarded(processId: number, secretKey: number): void;
  /** Kills the MySQL session (this process or one of its workers) the order names; never forwards again. */
  killForwarded(order: KillOrder): Promise<KillOutcome>;
}

const isKeyPart = (v: unknown): v is number =>
  Number.isInteger(v) && (v as number) > 0 && (v as number) < 2 ** 32;

export function registerClusterRoutes(
  admin: AdminServer,
  control: ControlPlane,
  view: ClusterView,
  sources: ClusterRouteSources,
): void {
  admin.route({
    method: 'GET',
    path: '/api/instance',
    open: true,
    handler: () => ({ json: sources.snapshot() }),
  });

  admin.route({
    method: 'GET',
    path: '/api/cluster',
    open: true,
    handler: async () => {
      // An unreachable control plane is a 503 (ClusterView says so).
      const replies = await view.gather('/api/instance', () => sources.snapshot(), parseSnapshot);
      const members = replies.map((r) =>
        r.ok
          ? {
              ...r.member,
              topologyVersion: r.value.topologyVersion,
              reachable: true,
              uptimeSeconds: r.value.uptimeSeconds,
              traffic: r.value.traffic,
            }
          : { ...r.member, reachable: false, error: r.error, uptimeSeconds: null, traffic: null },
      );
      return { json: { control: control.kind, self: view.selfId, members } };
    },
  });

  admin.route({
    method: 'POST',
    path: '/api/cluster/cancel',
    handler: (req) => {
      const b = req.body as { processId?: unknown; secretKey?: unknown } | null;
      if (!isKeyPart(b?.processId) || !isKeyPart(b?.secretKey))
        throw new HttpError(400, 'expected {"processId": <int>, "secretKey": <int>} (a BackendKeyData)');
      sources.cancelForwarded(b.processId, b.secretKey);
      // Whether a session matched is not said, as PostgreSQL says nothing to a CancelRequest.
      return { json: { accepted: true } };
    },
  });

  admin.route({
    method: 'POST',
    path: '/api/cluster/kill',
    handler: async (req) => {
      const b = req.body as { id?: unknown; query?: unknown; user?: unknown } | null;
      if (
        !isKeyPart(b?.id) ||
        typeof b.query !== 'boolean' ||
        !(typeof b.user === 'string' || b.user === null)
      )
        throw new HttpError(
          400,
          'expected {"id": <int>, "query": <bool>, "user": <string|null>} (a MySQL KILL)',
        );
      // The user was checked at login by the instance that sent this (the admin token vouches for it).
      const outcome = await sources.killForwarded({ id: b.id, query: b.query, user: b.user });
      return {
        json: {
          outcome: outcome.kind,
          ...(outcome.kind === 'unreached' ? { members: outcome.members } : {}),
        },
      };
    },
  });
}
