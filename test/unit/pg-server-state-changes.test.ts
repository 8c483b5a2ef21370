// Which units may change session state no SET shows (server-state-changes.ts): such a unit never
// shares a server connection with other clients' units (mux-lane.ts pipelineable()) and leaves its
// connection dirty. Before a server connection has listed the built-in functions, any function
// call counts as one: the first units of a process are judged before that list is loaded.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  builtinFunctionsLoaded,
  mayChangeUnseenState,
} from '../../src/protocol/postgres/server-state-changes.js';
import { QueryAnalyzer } from '../../src/sql/analyzer.js';

let analyzer: QueryAnalyzer;
const facts = (sql: string) => analyzer.analyze(sql).facts.statements.map((f) => ({ facts: f }));

beforeAll(async () => {
  analyzer = await QueryAnalyzer.create({ cacheSize: 0 });
});

describe('before the built-in functions are known', () => {
  it('a user function call may change unseen state; a plain read may not', () => {
    expect(builtinFunctionsLoaded()).toBe(false);
    expect(mayChangeUnseenState(facts('SELECT sneaky_path()'))).toBe(true);
    expect(mayChangeUnseenState(facts('SELECT id FROM users WHERE user_id = 1'))).toBe(false);
    expect(
      mayChangeUnseenState(facts("DO $$BEGIN PERFORM set_config('search_path', 'x', false); END$$")),
    ).toBe(true);
  });
});
