// Micro benchmark of the MySQL analyzer: fingerprint only, a parse-cache hit (tokenize + lookup),
// and a miss (tokens + node-sql-parser + facts). Prints medians over batches; no assertions.
// Run: npx vite-node bench/mysql-analyzer-micro.ts
import { MysqlQueryAnalyzer } from '../src/sql/mysql/analyzer-mysql.js';
import { fingerprintMysql } from '../src/sql/mysql/fingerprint-mysql.js';
import { measureBatches as measure } from './lib/micro.js';

const pointSelect = (i: number) => `SELECT c FROM sbtest1 WHERE id=${i % 100_000}`;
const prepared = () => 'SELECT c FROM sbtest1 WHERE id=?';
const longer = (i: number) =>
  `SELECT p.id, p.title, u.name FROM posts p JOIN users u ON u.user_id = p.user_id WHERE p.user_id = ${i} AND p.state = 'published' ORDER BY p.created_at DESC LIMIT 20`;
const insert = (i: number) =>
  `INSERT INTO sbtest1 (id, k, c, pad) VALUES (${i}, ${i % 97}, 'c-${i}', 'pad-${i}')`;

const hit = await MysqlQueryAnalyzer.create({ cacheSize: 10_000 });
measure('fingerprint only (point select)', 60, 5_000, (i) => fingerprintMysql(pointSelect(i)));
measure('fingerprint only (join, 170 chars)', 60, 5_000, (i) => fingerprintMysql(longer(i)));
measure('analyze, cache hit (point select)', 60, 5_000, (i) => hit.analyze(pointSelect(i)));
measure('analyze, cache hit (prepared point select)', 60, 5_000, () => hit.analyze(prepared()));
measure('analyze, cache hit (join, 170 chars)', 60, 5_000, (i) => hit.analyze(longer(i)));
measure('analyze, cache hit (insert)', 60, 5_000, (i) => hit.analyze(insert(i)));
const miss = new MysqlQueryAnalyzer({ cacheSize: 0 });
measure('analyze, cache miss (point select)', 20, 100, (i) => miss.analyze(pointSelect(i)));
measure('analyze, cache miss (join, 170 chars)', 20, 100, (i) => miss.analyze(longer(i)));
measure('analyze, miss, token-read SET NAMES utf8mb4', 20, 500, () => miss.analyze('SET NAMES utf8mb4'));
process.stdout.write(`hit cache: ${JSON.stringify(hit.stats)}\n`);
