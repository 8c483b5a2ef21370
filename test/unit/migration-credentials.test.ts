// Split plans carry no password: connections look it up from the running config, and a state file
// written by an older version (password inside the plan) is read without it.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { backendPassword, rememberBackendCredentials } from '../../src/migration/credentials.js';
import { clientConfig } from '../../src/migration/pg-connect.js';
import { serverAddress } from '../../src/migration/plan.js';
import { MigrationStore } from '../../src/migration/state-store.js';

const config = parseConfig(
  {
    users: [{ name: 'app', password: 'app' }],
    backend: { user: 'repl', password: 'from-config' },
    shards: [{ name: 's0', primary: { port: 5432 } }],
  },
  'test',
);

describe('migration credentials', () => {
  it('plans name the user, connections get the configured password', () => {
    const address = serverAddress(config.shards[0]!.primary, 's0-primary', config);
    expect(JSON.stringify(address)).not.toContain('from-config');
    rememberBackendCredentials(config);
    expect(backendPassword('repl')).toBe('from-config');
    expect(clientConfig(address, 'test').password).toBe('from-config');
    expect(backendPassword('someone-else')).toBeUndefined();
  });

  it('reads an old state file without its password and rewrites it 0600', () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'sg-store-')), 'm');
    const store = new MigrationStore(dir);
    const server = { name: 'x', host: 'h', port: 1, user: 'repl', database: 'd', password: 'legacy' };
    const legacy = {
      id: 'm1',
      createdAt: '',
      plan: { source: server, targets: [{ shard: 'a', server: { ...server } }] },
    };
    store.save(legacy as never);
    writeFileSync(path.join(dir, 'm1.json'), JSON.stringify(legacy));
    const loaded = store.load('m1')!;
    expect(JSON.stringify(loaded)).not.toContain('legacy');
    store.save(loaded);
    expect(readFileSync(path.join(dir, 'm1.json'), 'utf8')).not.toContain('legacy');
    expect(statSync(path.join(dir, 'm1.json')).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });
});
