// Which statement asks a MySQL/MariaDB server for its replication status. MySQL 8.4 removed SHOW
// SLAVE STATUS; SHOW REPLICA STATUS exists from MariaDB 10.5.1 and MySQL 8.0.22, older servers
// know only the SLAVE form. Decided from @@version, with the other form as the fallback when the
// version string says nothing usable (a fork, a proxy in front): the caller tries the next
// statement when the server answers ER_PARSE_ERROR (1064) to one.

export const SHOW_REPLICA_STATUS = 'SHOW REPLICA STATUS';
export const SHOW_SLAVE_STATUS = 'SHOW SLAVE STATUS';

/** MySQL's error for a statement it cannot parse (an older server given SHOW REPLICA STATUS). */
export const ER_PARSE_ERROR = 1064;

type Version = [number, number, number];

const atLeast = (v: Version, min: Version): boolean => {
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i]! > min[i]!;
  return true;
};

/** The statements to try in order for a server whose @@version is `version`. */
export function replicaStatusStatements(version: string): string[] {
  // MariaDB's handshake form "5.5.5-10.6.12-MariaDB" carries the real version after the prefix.
  const text = version.trim().replace(/^5\.5\.5-/, '');
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (!m) return [SHOW_REPLICA_STATUS, SHOW_SLAVE_STATUS];
  const v: Version = [Number(m[1]), Number(m[2]), Number(m[3])];
  const min: Version = /mariadb/i.test(text) ? [10, 5, 1] : [8, 0, 22];
  return atLeast(v, min) ? [SHOW_REPLICA_STATUS, SHOW_SLAVE_STATUS] : [SHOW_SLAVE_STATUS];
}
