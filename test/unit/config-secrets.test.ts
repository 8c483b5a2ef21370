// Secrets in the config may come from an environment variable or a file instead of the YAML.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const base = { shards: [{ name: 's0', primary: { port: 5432 } }] };

describe('secrets from env and files', () => {
  it('resolves { env } and { file } for passwords and the admin token', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'sg-secret-')), 'pw');
    writeFileSync(file, 'from-file\n', { mode: 0o600 });
    process.env.SG_TEST_BACKEND_PW = 'from-env';
    process.env.SG_TEST_TOKEN = 'tok-env';
    const config = parseConfig(
      {
        ...base,
        users: [{ name: 'app', password: { file } }],
        backend: { password: { env: 'SG_TEST_BACKEND_PW' }, mysqlPassword: { file } },
        admin: { token: { env: 'SG_TEST_TOKEN' } },
      },
      'test',
    );
    expect(config.users[0]!.password).toBe('from-file');
    expect(config.backend.password).toBe('from-env');
    expect(config.backend.mysqlPassword).toBe('from-file');
    expect(config.admin.token).toBe('tok-env');
  });

  it('names the key when the variable or file is missing', () => {
    delete process.env.SG_TEST_MISSING;
    const load = (backend: unknown) => () =>
      parseConfig({ ...base, users: [{ name: 'a' }], backend }, 'test');
    expect(load({ password: { env: 'SG_TEST_MISSING' } })).toThrow(ConfigError);
    expect(load({ password: { env: 'SG_TEST_MISSING' } })).toThrow(
      /backend\.password: environment variable SG_TEST_MISSING is not set/,
    );
    expect(load({ password: { file: '/nonexistent/sg-secret' } })).toThrow(
      /backend\.password: cannot read secret file/,
    );
    expect(load({ password: { env: 'X', file: 'y' } })).toThrow(ConfigError);
  });
});
