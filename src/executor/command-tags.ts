// The command tag of a statement that ran on several shards.

/** Per-shard command tags ("UPDATE 2", "INSERT 0 5") into one tag with the summed count. */
export function combineCommandTags(tags: string[]): string {
  const first = tags.find((t) => t) ?? '';
  const parts = first.split(' ');
  const verb = parts[0] ?? '';
  if (verb === 'INSERT') {
    const total = tags.reduce((n, t) => n + Number(t.split(' ')[2] ?? 0), 0);
    return `INSERT 0 ${total}`;
  }
  if (parts.length >= 2 && /^\d+$/.test(parts[parts.length - 1]!)) {
    const total = tags.reduce((n, t) => n + Number(t.split(' ').at(-1) ?? 0), 0);
    return `${parts.slice(0, -1).join(' ')} ${total}`;
  }
  return first;
}
