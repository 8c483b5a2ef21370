import { describe, expect, it } from 'vitest';
import {
  compareLsn,
  mariadbCovers,
  mysqlCovers,
  parseLsn,
  positionCovers,
} from '../../src/router/positions.js';

describe('PostgreSQL LSN', () => {
  it('compares as 64-bit positions, not as text', () => {
    expect(compareLsn('0/9', '0/10')).toBe(-1);
    expect(compareLsn('1/0', '0/FFFFFFFF')).toBe(1);
    expect(compareLsn('16/B374D848', '16/b374d848')).toBe(0);
    expect(compareLsn('FFFFFFFF/FFFFFFFF', 'FFFFFFFF/FFFFFFFE')).toBe(1);
  });

  it('malformed LSNs do not compare and never cover', () => {
    for (const bad of ['', '0', '0/', '/1', 'x/1', '1/2/3', '123456789/0']) {
      expect(parseLsn(bad)).toBeNull();
      expect(positionCovers(bad, '0/1')).toBe(false);
    }
  });

  it('covers when replayed at or past the wanted position', () => {
    expect(positionCovers('0/3000060', '0/3000060')).toBe(true);
    expect(positionCovers('0/3000061', '0/3000060')).toBe(true);
    expect(positionCovers('0/300005F', '0/3000060')).toBe(false);
    expect(positionCovers(null, '0/1')).toBe(false);
  });
});

describe('MariaDB GTID lists', () => {
  it('needs every wanted domain at a sequence number at least as high', () => {
    expect(mariadbCovers('0-1-100', '0-1-100')).toBe(true);
    expect(mariadbCovers('0-1-101', '0-1-100')).toBe(true);
    expect(mariadbCovers('0-1-99', '0-1-100')).toBe(false);
    // The server id does not matter (failover changes it).
    expect(mariadbCovers('0-2-100', '0-1-100')).toBe(true);
    expect(mariadbCovers('0-1-100,1-1-5', '1-1-5')).toBe(true);
    expect(mariadbCovers('0-1-100', '0-1-100,1-1-5')).toBe(false);
    expect(mariadbCovers('0-1-100, 1-1-7', '1-1-6,0-1-3')).toBe(true);
  });

  it('compares sequence numbers numerically beyond 2^53', () => {
    expect(mariadbCovers('0-1-18446744073709551615', '0-1-18446744073709551614')).toBe(true);
    expect(mariadbCovers('0-1-9', '0-1-10')).toBe(false);
    expect(mariadbCovers('0-1-010', '0-1-9')).toBe(true);
  });

  it('malformed lists never cover', () => {
    expect(mariadbCovers('0-1', '0-1-1')).toBe(false);
    expect(mariadbCovers('0-1-1', 'a-b-c')).toBe(false);
    expect(positionCovers('0/1', '0-1-1')).toBe(false);
  });
});

describe('MySQL GTID sets', () => {
  const A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
  const B = '4e11fa47-71ca-11e1-9e33-c80aa9429562';

  it('covers when the wanted set is a subset', () => {
    expect(mysqlCovers(`${A}:1-10`, `${A}:1-10`)).toBe(true);
    expect(mysqlCovers(`${A}:1-10`, `${A}:5`)).toBe(true);
    expect(mysqlCovers(`${A}:1-5:7-10`, `${A}:6`)).toBe(false);
    expect(mysqlCovers(`${A}:1-5:6-10`, `${A}:3-8`)).toBe(true);
    expect(mysqlCovers(`${A}:1-10,${B}:1-3`, `${B}:1-3,${A}:2`)).toBe(true);
    expect(mysqlCovers(`${A}:1-10`, `${B}:1`)).toBe(false);
    expect(positionCovers(`${A.toUpperCase()}:1-10`, `${A}:10`)).toBe(true);
  });

  it('handles tagged GTIDs and refuses malformed sets', () => {
    expect(mysqlCovers(`${A}:1-3:blue:1-5`, `${A}:blue:4`)).toBe(true);
    expect(mysqlCovers(`${A}:1-3:blue:1-5`, `${A}:4`)).toBe(false);
    expect(mysqlCovers(`${A}:5-1`, `${A}:1`)).toBe(false);
    expect(mysqlCovers('nonsense:1', `${A}:1`)).toBe(false);
  });
});
