// The roles of a local run: every config user that reaches the servers as itself (users[].backend,
// see src/backend/identity.ts) gets a role without superuser rights, allowed to log in, with DML
// on the demo tables and nothing else. The service identity (backend.user, a superuser in the
// demo) stays with shardgate's own work: migrations, the lag monitor, demo loading.

import { isMd5Hash } from '../auth/md5.js';
import type { ShardgateConfig } from '../config/schema.js';

export interface DemoRole {
  name: string;
  /** Clear text, or '' when the user has none shardgate could log in with. */
  password: string;
}

/** The backend roles the config's users log in as (service users excluded, one entry per role). */
export function demoRoles(config: ShardgateConfig): DemoRole[] {
  const roles = new Map<string, DemoRole>();
  for (const user of config.users) {
    if (user.backend === 'service') continue;
    const name = user.backend?.user ?? user.name;
    const password = user.backend?.password ?? user.password;
    const clear = password.startsWith('SCRAM-SHA-256$') || isMd5Hash(password) ? '' : password;
    if (!roles.has(name)) roles.set(name, { name, password: clear });
  }
  return [...roles.values()];
}

function pgIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function pgLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** PostgreSQL: create or update each role, then DML on every table and sequence of public. */
export function pgDemoRolesSql(roles: readonly DemoRole[]): string {
  return roles
    .map((r) => {
      const id = pgIdent(r.name);
      const password = r.password === '' ? 'PASSWORD NULL' : `PASSWORD ${pgLiteral(r.password)}`;
      // DO: CREATE ROLE has no IF NOT EXISTS; an existing role gets the current password.
      return [
        // Roles are cluster-wide: loads into two databases of one cluster at once (the oracle's
        // topologies) may both find the role missing; the loser's CREATE is not an error.
        `DO $roles$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${pgLiteral(r.name)}) THEN
    CREATE ROLE ${id} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $roles$;`,
        `ALTER ROLE ${id} LOGIN NOSUPERUSER ${password};`,
        `GRANT USAGE ON SCHEMA public TO ${id};`,
        `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${id};`,
        `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${id};`,
      ].join('\n');
    })
    .join('\n');
}

function mysqlLiteral(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/**
 * MariaDB: the same users, from any host, with DML on the demo database, and INSERT on
 * shardgate_twopc (a cross-shard commit, a shard-key move's too, writes its decision or commit
 * mark there as the session's own identity, inside the transaction it commits).
 */
export function mysqlDemoRolesStatements(roles: readonly DemoRole[], database: string): string[] {
  const db = `\`${database.replaceAll('`', '``')}\``;
  return roles.flatMap((r) => {
    const user = `${mysqlLiteral(r.name)}@'%'`;
    return [
      `CREATE USER IF NOT EXISTS ${user}`,
      `ALTER USER ${user} IDENTIFIED BY ${mysqlLiteral(r.password)}`,
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ${db}.* TO ${user}`,
      `GRANT INSERT ON \`shardgate_twopc\`.* TO ${user}`,
    ];
  });
}

/** The demo's role for shardgate's own work (lag monitor, history, splits): no superuser. */
export const DEMO_OPS_ROLE = 'shardgate_ops';

/**
 * The ops role on a server: it reads replication state (pg_monitor), streams changes and creates
 * slots (REPLICATION), ends its own stale walsenders (pg_signal_backend), creates the moved tables
 * on a split's targets (CREATE on the database and schema public) and owns the demo tables (a
 * publication and setval need the owner).
 */
export function pgOpsRoleSql(database: string): string {
  const id = pgIdent(DEMO_OPS_ROLE);
  return `DO $ops$ DECLARE t record; BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${pgLiteral(DEMO_OPS_ROLE)}) THEN
    CREATE ROLE ${id} LOGIN NOSUPERUSER REPLICATION;
  END IF;
  FOR t IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') LOOP
    EXECUTE format('ALTER TABLE public.%I OWNER TO ${id}', t.relname);
  END LOOP;
END $ops$;
GRANT pg_monitor, pg_signal_backend TO ${id};
GRANT CREATE ON DATABASE ${pgIdent(database)} TO ${id};
GRANT USAGE, CREATE ON SCHEMA public TO ${id};`;
}
