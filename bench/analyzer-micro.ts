// Micro benchmark of the SQL analyzer: fingerprint only, a parse-cache hit (tokenize + lookup),
// and a miss (libpg-query parse + facts). Prints medians over batches; no assertions.
// Run: npx vite-node bench/analyzer-micro.ts
import { QueryAnalyzer } from '../src/sql/analyzer.js';
import { fingerprint } from '../src/sql/fingerprint.js';
import { measureBatches as measure } from './lib/micro.js';

const short = (i: number) => `SELECT id, title FROM posts WHERE user_id = ${i % 1000}`;
const longer = (i: number) =>
  `SELECT p.id, p.title, u.name FROM posts p JOIN users u ON u.user_id = p.user_id WHERE p.user_id = ${i} AND p.state = 'published' ORDER BY p.created_at DESC LIMIT 20`;

const hitAnalyzer = await QueryAnalyzer.create({ cacheSize: 10_000 });
measure('fingerprint only (short query)', 60, 5_000, (i) => fingerprint(short(i)));
measure('fingerprint only (join, 170 chars)', 60, 5_000, (i) => fingerprint(longer(i)));
measure('analyze, cache hit (short query)', 60, 5_000, (i) => hitAnalyzer.analyze(short(i)));
measure('analyze, cache hit (join, 170 chars)', 60, 5_000, (i) => hitAnalyzer.analyze(longer(i)));
const missAnalyzer = new QueryAnalyzer({ cacheSize: 0 });
measure('analyze, cache miss (short query)', 30, 200, (i) => missAnalyzer.analyze(short(i)));
measure('analyze, cache miss (join, 170 chars)', 30, 200, (i) => missAnalyzer.analyze(longer(i)));
process.stdout.write(`hit cache: ${JSON.stringify(hitAnalyzer.stats)}\n`);
