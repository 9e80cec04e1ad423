/**
 * A plain diff of two notebooks, cell by cell (what the version history shows when nbdime is
 * not there): cells kept, added, removed, or changed (with a line diff of the source).
 * Pure functions, no DOM.
 */

export type Op = 'same' | 'added' | 'removed';

/** The longest-common-subsequence edit script turning `a` into `b`. */
export function diffSequence<T>(
  a: readonly T[],
  b: readonly T[],
  equal: (x: T, y: T) => boolean = (x, y) => x === y
): { op: Op; a?: T; b?: T }[] {
  const n = a.length;
  const m = b.length;
  // lcs[i][j]: length of the LCS of a[i:] and b[j:]
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = equal(a[i], b[j])
        ? lcs[i + 1][j + 1] + 1
        : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: { op: Op; a?: T; b?: T }[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (equal(a[i], b[j])) {
      out.push({ op: 'same', a: a[i++], b: b[j++] });
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      out.push({ op: 'removed', a: a[i++] });
    } else {
      out.push({ op: 'added', b: b[j++] });
    }
  }
  while (i < n) {
    out.push({ op: 'removed', a: a[i++] });
  }
  while (j < m) {
    out.push({ op: 'added', b: b[j++] });
  }
  return out;
}

export interface IDiffCell {
  cell_type: string;
  source: string;
}

export interface ILineChange {
  op: Op;
  text: string;
}

export interface ICellChange {
  op: Op | 'changed';
  /** The cell in the older notebook (removed, same, changed). */
  before?: IDiffCell;
  /** The cell in the newer notebook (added, same, changed). */
  after?: IDiffCell;
  /** For changed cells: the source, line by line. */
  lines?: ILineChange[];
}

/** The source of a notebook cell as one string (nbformat allows a list of lines). */
export function cellSource(cell: { source?: unknown }): string {
  const source = cell.source;
  return Array.isArray(source) ? source.join('') : String(source ?? '');
}

/** The cells of an nbformat notebook as {cell_type, source}. */
export function notebookCells(notebook: unknown): IDiffCell[] {
  const cells = ((notebook as { cells?: unknown[] } | null)?.cells ?? []) as {
    cell_type?: string;
    source?: unknown;
  }[];
  return cells.map(c => ({ cell_type: c.cell_type ?? 'code', source: cellSource(c) }));
}

/** Line diff of two texts. */
export function lineDiff(before: string, after: string): ILineChange[] {
  const a = before.split('\n');
  const b = after.split('\n');
  return diffSequence(a, b).map(d => ({
    op: d.op,
    text: (d.op === 'added' ? d.b : d.a) ?? ''
  }));
}

/**
 * The cell diff of two notebooks (older → newer). Cells equal in type and source are `same`;
 * a run of removed cells followed by added cells of the same type pairs up as `changed`
 * (with its line diff), the rest stay `removed` / `added`.
 */
export function cellDiff(before: readonly IDiffCell[], after: readonly IDiffCell[]): ICellChange[] {
  const raw = diffSequence(
    before,
    after,
    (x, y) => x.cell_type === y.cell_type && x.source === y.source
  );
  const out: ICellChange[] = [];
  let k = 0;
  while (k < raw.length) {
    if (raw[k].op === 'same') {
      out.push({ op: 'same', before: raw[k].a, after: raw[k].b });
      k++;
      continue;
    }
    const removed: IDiffCell[] = [];
    const added: IDiffCell[] = [];
    while (k < raw.length && raw[k].op !== 'same') {
      if (raw[k].op === 'removed') {
        removed.push(raw[k].a!);
      } else {
        added.push(raw[k].b!);
      }
      k++;
    }
    const pairs = Math.min(removed.length, added.length);
    for (let p = 0; p < pairs; p++) {
      if (removed[p].cell_type === added[p].cell_type) {
        out.push({
          op: 'changed',
          before: removed[p],
          after: added[p],
          lines: lineDiff(removed[p].source, added[p].source)
        });
      } else {
        out.push({ op: 'removed', before: removed[p] });
        out.push({ op: 'added', after: added[p] });
      }
    }
    for (const cell of removed.slice(pairs)) {
      out.push({ op: 'removed', before: cell });
    }
    for (const cell of added.slice(pairs)) {
      out.push({ op: 'added', after: cell });
    }
  }
  return out;
}

/** `2 changed, 1 added, 0 removed` (the cells that differ). */
export function diffSummary(changes: readonly ICellChange[]): string {
  const count = (op: string) => changes.filter(c => c.op === op).length;
  const parts = [
    `${count('changed')} changed`,
    `${count('added')} added`,
    `${count('removed')} removed`,
    `${count('same')} unchanged`
  ];
  return parts.join(', ');
}
