// Both fingerprints keep ORDER BY / GROUP BY integer positions verbatim (the facts depend on
// them) until the list ends at the next clause. These words end it in both dialects; each
// fingerprint adds its own dialect's clauses.
export const POSITION_LIST_ENDERS = [
  'limit',
  'offset',
  'for',
  'having',
  'window',
  'union',
  'intersect',
  'except',
  'select',
  'from',
  'where',
  'returning',
  'order',
  'group',
] as const;
