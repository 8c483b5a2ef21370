// Result shapes of prepared statements (statement-shapes.ts): what counts as the same shape, and
// which statements a unit binds on the strength of an earlier Describe.
import { serialize } from 'pg-protocol';
import { describe, expect, it } from 'vitest';
import { encodeRowDescription, NO_DATA } from '../../src/protocol/postgres/backend-messages.js';
import type { PreparedStatement } from '../../src/protocol/postgres/session-state.js';
import { readShape, statementsToCheck } from '../../src/protocol/postgres/statement-shapes.js';
import { newUnit, type Unit } from '../../src/protocol/postgres/units.js';

function field(name: string, tableOid: number, typeOid: number, typeModifier = -1) {
  return { name, tableOid, column: 1, typeOid, typeSize: 4, typeModifier, format: 0 };
}

function shape(msg: Buffer): string {
  return readShape(msg[0]!, msg, 5, msg.length);
}

describe('readShape', () => {
  it('ignores the table a column comes from (a table dropped and created again)', () => {
    const before = shape(encodeRowDescription([field('a', 16384, 23), field('b', 16384, 25)]));
    const after = shape(encodeRowDescription([field('a', 17001, 23), field('b', 17001, 25)]));
    expect(after).toBe(before);
  });

  it('tells names, types, type modifiers and NoData apart', () => {
    const base = shape(encodeRowDescription([field('a', 1, 23)]));
    expect(shape(encodeRowDescription([field('x', 1, 23)]))).not.toBe(base);
    expect(shape(encodeRowDescription([field('a', 1, 25)]))).not.toBe(base);
    expect(shape(encodeRowDescription([field('a', 1, 1043, 14)]))).not.toBe(
      shape(encodeRowDescription([field('a', 1, 1043, 20)])),
    );
    expect(shape(encodeRowDescription([field('a', 1, 23), field('b', 1, 23)]))).not.toBe(base);
    expect(shape(NO_DATA)).not.toBe(shape(encodeRowDescription([])));
  });
});

describe('statementsToCheck', () => {
  const frame = (bytes: Buffer) => ({ type: bytes[0]!, bytes });
  const unit = (...frames: Buffer[]): Unit => newUnit(frames.map(frame), false);
  const stmt = (clientName: string, withShape: boolean): PreparedStatement => ({
    clientName,
    serverName: `sg_${clientName}`,
    sql: 'select 1',
    paramTypes: [],
    ...(withShape ? { shape: 'T1/a:23:-1' } : {}),
  });
  const prepared = new Map([
    ['s1', stmt('s1', true)],
    ['s2', stmt('s2', false)],
  ]);
  const bind = (statement: string) => serialize.bind({ statement, portal: '' });

  it('binds of described statements, once each; not unnamed or never described ones', () => {
    const u = unit(bind('s1'), serialize.execute({}), bind('s1'), bind('s2'), bind(''), serialize.sync());
    expect(statementsToCheck(u, prepared).map((s) => s.clientName)).toEqual(['s1']);
  });

  it('not a statement the unit parses or describes before binding it', () => {
    const parsed = unit(serialize.parse({ name: 's1', text: 'select 1' }), bind('s1'), serialize.sync());
    const described = unit(serialize.describe({ type: 'S', name: 's1' }), bind('s1'), serialize.sync());
    expect(statementsToCheck(parsed, prepared)).toEqual([]);
    expect(statementsToCheck(described, prepared)).toEqual([]);
    // A portal's Describe says nothing of the statement.
    const portal = unit(serialize.describe({ type: 'P', name: 's1' }), bind('s1'), serialize.sync());
    expect(statementsToCheck(portal, prepared).map((s) => s.clientName)).toEqual(['s1']);
  });

  it('nothing in a simple query', () => {
    expect(statementsToCheck(newUnit([frame(serialize.query('select 1'))], true), prepared)).toEqual([]);
  });
});
