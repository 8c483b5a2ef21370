// How tests log in through a proxy's PostgreSQL or MySQL port as the demo's application role
// (app/app on database shardgate), for node-postgres, postgres.js and mysql2.
import type { ProxyHandle } from '../../src/proxy.js';

/** node-postgres client settings: `new pg.Client({ ...appLogin(proxy), ...more })`. */
export function appLogin(proxy: ProxyHandle) {
  return {
    host: '127.0.0.1',
    port: proxy.postgres.port,
    user: 'app',
    password: 'app',
    database: 'shardgate',
  };
}

/** postgres.js settings, one connection: `postgres({ ...appLoginPostgresJs(proxy), ...more })`. */
export function appLoginPostgresJs(proxy: ProxyHandle) {
  return { host: '127.0.0.1', port: proxy.postgres.port, user: 'app', pass: 'app', db: 'shardgate', max: 1 };
}

/** mysql2 settings for a proxy's MySQL port: `mysql.createConnection({ ...mysqlAppLogin(port), ...more })`. */
export function mysqlAppLogin(port: number) {
  return { host: '127.0.0.1', port, user: 'app', password: 'app', database: 'shardgate' };
}
