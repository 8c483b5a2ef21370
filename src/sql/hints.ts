// Comment hints: `/* shardgate: consistency=strong shard=s1 role=replica vip=on */` or the same
// after `--`. The tokenizer collects the comment bodies; this turns them into CommentHints.
// Unknown keys are ignored (a hint never breaks a query); later comments override earlier ones.
// Values are validated by the router (consistency levels, shard names), not here.
import type { CommentHints } from './facts.js';

const KEYS: Record<string, keyof CommentHints> = {
  consistency: 'consistency',
  shard: 'shard',
  role: 'role',
  vip: 'vip',
  realtime: 'realtime',
  battery_saving: 'battery_saving',
  'battery-saving': 'battery_saving',
  batterysaving: 'battery_saving',
};

const PAIR = /([A-Za-z_-]+)\s*=\s*(?:'([^']*)'|"([^"]*)"|([^\s,;]+))/g;

/** Hints of one comment body ("shardgate: a=b c=d"); merges into `into`. */
export function parseHintComment(body: string, into: CommentHints = {}): CommentHints {
  const colon = body.indexOf(':');
  const text =
    colon >= 0 && body.slice(0, colon).trim().toLowerCase() === 'shardgate' ? body.slice(colon + 1) : body;
  for (const m of text.matchAll(PAIR)) {
    const key = KEYS[m[1]!.toLowerCase()];
    const value = m[2] ?? m[3] ?? m[4];
    if (key && value !== undefined) into[key] = value;
  }
  return into;
}

/** Hints of all `shardgate:` comments of a query text, in order. */
export function parseHints(comments: readonly string[]): CommentHints {
  const hints: CommentHints = {};
  for (const c of comments) parseHintComment(c, hints);
  return hints;
}
