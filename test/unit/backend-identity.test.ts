// Who a user is on the servers (src/backend/identity.ts) and the SCRAM pass-through it relies on.
import { describe, expect, it } from 'vitest';
import { md5PasswordHash } from '../../src/auth/md5.js';
import { makeScramVerifier, ScramClient, ScramServer } from '../../src/auth/scram.js';
import {
  backendDatabase,
  backendIdentity,
  configuredIdentity,
  IdentityPools,
  mysqlBackendIdentity,
} from '../../src/backend/identity.js';
import { parseConfig } from '../../src/config/load.js';

function config(extra: Record<string, unknown> = {}) {
  return parseConfig({
    users: [
      { name: 'app', password: 'app-pw' },
      { name: 'svc', password: 'x', backend: 'service' },
      { name: 'mapped', password: 'm', backend: { user: 'role_m', password: 'role-pw' } },
      { name: 'hashed', password: makeScramVerifier('h-pw') },
      { name: 'md5', password: md5PasswordHash('md5', 'p'), auth: 'md5' },
    ],
    shards: [
      { name: 's0', keyRange: '-80', primary: { port: 5 } },
      { name: 's1', keyRange: '80-', primary: { port: 6 } },
    ],
    ...extra,
  });
}

const user = (c: ReturnType<typeof config>, name: string) => c.users.find((u) => u.name === name);

describe('backendIdentity', () => {
  const c = config();
  it('is the user itself with its clear-text password by default', () => {
    expect(backendIdentity('app', user(c, 'app'), {})).toEqual({
      service: false,
      user: 'app',
      password: 'app-pw',
    });
  });
  it('is the service identity only when the user says so', () => {
    expect(backendIdentity('svc', user(c, 'svc'), {}).service).toBe(true);
  });
  it('takes users[].backend over the user own secret', () => {
    expect(backendIdentity('mapped', user(c, 'mapped'), {})).toMatchObject({
      user: 'role_m',
      password: 'role-pw',
    });
  });
  it('uses what the login proved when the config holds a verifier or a hash', () => {
    const keys = {
      clientKey: Buffer.alloc(32, 1),
      serverKey: Buffer.alloc(32, 2),
      salt: Buffer.alloc(16),
      iterations: 4096,
    };
    expect(backendIdentity('hashed', user(c, 'hashed'), { scramKeys: keys })).toMatchObject({
      password: '',
      scramKeys: keys,
    });
    expect(backendIdentity('md5', user(c, 'md5'), {}).password).toBe(md5PasswordHash('md5', 'p'));
    // An md5 hash is no MySQL password.
    expect(mysqlBackendIdentity(user(c, 'md5')!).password).toBe('');
  });
});

describe('backendDatabase', () => {
  const c = config({
    databases: ['plain', { name: 'shop', database: 'shop_db', shards: { s1: 'shop_s1' } }],
  });
  it('maps a client name per shard, then for every shard, else keeps the server database', () => {
    expect(backendDatabase(c, 'shop', 's0', 'srv')).toBe('shop_db');
    expect(backendDatabase(c, 'shop', 's1', 'srv')).toBe('shop_s1');
    expect(backendDatabase(c, 'plain', 's0', 'srv')).toBe('srv');
  });
});

describe('IdentityPools', () => {
  it('shares a pool per (role, database, secret) and never across secrets', () => {
    const made: string[] = [];
    const pools = new IdentityPools(
      { close: async () => undefined, retire: () => undefined, id: 'base' },
      (identity, db) => {
        made.push(`${identity.user}/${db}`);
        return {
          close: async () => undefined,
          retire: () => undefined,
          id: `${identity.user}/${db}/${identity.password}`,
        };
      },
    );
    const a = { service: false, user: 'r', password: 'one' };
    expect(pools.poolFor(a, 'd', 'd')).toBe(pools.poolFor({ ...a }, 'd', 'd'));
    expect(pools.poolFor({ ...a, password: 'two' }, 'd', 'd')).not.toBe(pools.poolFor(a, 'd', 'd'));
    expect(pools.poolFor({ service: true, user: '', password: '' }, 'd', 'd').id).toBe('base');
    expect(made).toEqual(['r/d', 'r/d']);
  });

  it('finds a pool a client of a role opened, on that database only', () => {
    const pools = new IdentityPools(
      { close: async () => undefined, retire: () => undefined, id: 'base' },
      (identity, db) => ({
        close: async () => undefined,
        retire: () => undefined,
        id: `${identity.user}/${db}`,
      }),
    );
    expect(pools.existingFor('r', 'd')).toBeUndefined();
    pools.poolFor({ service: false, user: 'r', password: 'one' }, 'd', 'd');
    pools.poolFor({ service: false, user: 'r2', password: 'one' }, 'e', 'd');
    expect(pools.existingFor('r', 'd')?.id).toBe('r/d');
    expect(pools.existingFor('r', 'e')).toBeUndefined();
    expect(pools.existingFor('r2', 'd')).toBeUndefined();
  });
  it('takes over a pool opened ahead for an identity, and lists what it holds', () => {
    const closed: string[] = [];
    const pool = (id: string) => ({ close: async () => void closed.push(id), retire: () => undefined, id });
    const pools = new IdentityPools(pool('base'), (identity, db) => pool(`made ${identity.user}/${db}`));
    const a = { service: false, user: 'r', password: 'one' };
    pools.adopt(a, 'd', pool('warm r/d'));
    expect(pools.poolFor({ ...a }, 'd', 'd').id).toBe('warm r/d');
    // A secret of its own is another pool: the warmed one is not handed to it.
    expect(pools.poolFor({ ...a, password: 'two' }, 'd', 'd').id).toBe('made r/d');
    // One already there stays; the second one opened ahead is closed.
    pools.adopt(a, 'd', pool('late r/d'));
    expect(pools.poolFor(a, 'd', 'd').id).toBe('warm r/d');
    expect(closed).toEqual(['late r/d']);
    expect(pools.identityPools().map((e) => [e.identity.password, e.database, e.pool.id])).toEqual([
      ['one', 'd', 'warm r/d'],
      ['two', 'd', 'made r/d'],
    ]);
  });
});

describe('configuredIdentity (recovery finishing a transaction as its owner)', () => {
  const c = config();
  it('is a user of that role whose secret the config holds', () => {
    expect(configuredIdentity(c, 'app')).toEqual({ service: false, user: 'app', password: 'app-pw' });
    expect(configuredIdentity(c, 'role_m')).toEqual({ service: false, user: 'role_m', password: 'role-pw' });
  });
  it('is null for a role known only by a SCRAM verifier, a service user or no user at all', () => {
    expect(configuredIdentity(c, 'hashed')).toBeNull();
    expect(configuredIdentity(c, 'svc')).toBeNull();
    expect(configuredIdentity(c, 'postgres')).toBeNull();
  });
});

describe('SCRAM pass-through', () => {
  it('logs in to a server holding the same verifier with the keys a client proved, never the password', () => {
    const verifier = makeScramVerifier('secret');
    // The client logs in to shardgate.
    const front = new ScramServer(verifier);
    const client = new ScramClient('secret');
    const final = client.clientFinal(front.handleClientFirst(client.clientFirst()));
    expect(front.handleClientFinal(final)).not.toBeNull();
    const keys = front.provenKeys!;
    // shardgate logs in to a server with the same verifier using the keys.
    const server = new ScramServer(verifier);
    const proxy = new ScramClient(keys);
    const serverFinal = server.handleClientFinal(
      proxy.clientFinal(server.handleClientFirst(proxy.clientFirst())),
    );
    expect(serverFinal).not.toBeNull();
    expect(() => proxy.verifyServerFinal(serverFinal!)).not.toThrow();
    // Another verifier of the same password (another salt) cannot be answered: a clear error.
    const other = new ScramServer(makeScramVerifier('secret'));
    const again = new ScramClient(keys);
    expect(() => again.clientFinal(other.handleClientFirst(again.clientFirst()))).toThrow(
      /not the one the client logged in with/,
    );
  });
});
