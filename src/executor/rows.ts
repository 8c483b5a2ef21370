// The row shape every executor primitive works on, for both protocols: cells as the servers'
// bytes (PostgreSQL text or binary, MySQL text), and per column what a merge needs to compare,
// group and print them.

export interface ColumnInfo {
  name: string;
  typeOid: number;
  format: 'text' | 'binary';
  /**
   * How text compares (ORDER BY, GROUP BY, DISTINCT, min/max): bytewise (PostgreSQL "C", MySQL
   * binary collations, the default), or a MySQL general_ci collation: ASCII case-insensitive,
   * trailing spaces ignored (PAD SPACE). 'unsupported': any other collation, refused when compared.
   */
  textCompare?: 'bytes' | 'general_ci' | 'unsupported';
  /** MySQL DECIMAL (and DOUBLE with fixed decimals): the digits after the point it prints. */
  scale?: number;
  /** MySQL text: the most bytes the server may print in it (longer merged text is refused). */
  maxBytes?: number;
  /** PostgreSQL: the RowDescription's type modifier (varchar(n), numeric(p,s)), -1 for none. */
  typeModifier?: number;
}

export type Row = Array<Buffer | null>;
