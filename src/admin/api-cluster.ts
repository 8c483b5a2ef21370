// /api/cluster: the members of this deployment's control plane (each instance's id, admin
// address, version, topology version), from any instance. Embedded control plane: just this one.
import type { ControlPlane } from '../control/control-plane.js';
import { type AdminServer, HttpError } from './http.js';

export function registerClusterRoutes(admin: AdminServer, control: ControlPlane, selfId: string): void {
  admin.route({
    method: 'GET',
    path: '/api/cluster',
    open: true,
    handler: async () => {
      try {
        return { json: { control: control.kind, self: selfId, members: await control.members() } };
      } catch (err) {
        throw new HttpError(
          503,
          `control plane unreachable: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    },
  });
}
