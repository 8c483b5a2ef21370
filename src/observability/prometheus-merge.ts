// /metrics?scope=cluster: several instances' exposition texts as one, the Prometheus way of
// federating: every sample gets an `instance` label naming the member it came from, and each
// metric family is written once (its HELP and TYPE, then the samples of every instance), because
// the text format requires a family's samples to be contiguous.

interface Family {
  help: string | null;
  type: string | null;
  samples: string[];
}

/** Escapes a label value for the text format (backslash, double quote, line feed). */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** `name{a="b"} 1` -> `name{instance="x",a="b"} 1`; `name 1` -> `name{instance="x"} 1`. */
function withInstance(sample: string, label: string): string {
  const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{)?/.exec(sample);
  if (!m) return '';
  const name = m[1]!;
  if (!m[2]) return `${name}{${label}}${sample.slice(name.length)}`;
  const rest = sample.slice(name.length + 1);
  return `${name}{${label}${rest.startsWith('}') ? '' : ','}${rest}`;
}

/** `instance` null: the part's samples carry their own labels (the cluster's own series). */
export function mergeExpositions(parts: ReadonlyArray<{ instance: string | null; text: string }>): string {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) {
      f = { help: null, type: null, samples: [] };
      families.set(name, f);
    }
    return f;
  };
  for (const part of parts) {
    const label = part.instance === null ? null : `instance="${escapeLabelValue(part.instance)}"`;
    let current: string | null = null;
    for (const raw of part.text.split('\n')) {
      const line = raw.trim();
      if (line === '') continue;
      const meta = /^#\s*(HELP|TYPE)\s+([A-Za-z_:][A-Za-z0-9_:]*)\s?(.*)$/.exec(line);
      if (meta) {
        current = meta[2]!;
        const f = family(current);
        if (meta[1] === 'HELP') f.help ??= meta[3] ?? '';
        else f.type ??= meta[3] ?? 'untyped';
        continue;
      }
      if (line.startsWith('#')) continue;
      const sample = label === null ? line : withInstance(line, label);
      if (sample === '') continue; // not a sample line: a peer's garbage is dropped, not relayed
      const name = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(line)![0];
      // _bucket/_sum/_count belong to the family declared above them.
      family(current !== null && name.startsWith(current) ? current : name).samples.push(sample);
    }
  }
  const out: string[] = [];
  for (const [name, f] of families) {
    if (f.help !== null) out.push(`# HELP ${name} ${f.help}`);
    if (f.type !== null) out.push(`# TYPE ${name} ${f.type}`);
    out.push(...f.samples);
  }
  return `${out.join('\n')}\n`;
}
