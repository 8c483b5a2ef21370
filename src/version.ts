// shardgate's version: `--version`, and what each member of a control plane reports.
export const SHARDGATE_VERSION = '0.1.0';
