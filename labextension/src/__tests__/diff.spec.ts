import { cellDiff, diffSequence, diffSummary, lineDiff, notebookCells } from '../diff';
import { versionPath, versionRef, versionTitle } from '../history';

const code = (source: string) => ({ cell_type: 'code', source });
const md = (source: string) => ({ cell_type: 'markdown', source });

describe('cell diff', () => {
  it('keeps the longest common run and marks the rest', () => {
    const ops = diffSequence(['a', 'b', 'c'], ['a', 'x', 'c', 'd']).map(d => d.op);
    expect(ops).toEqual(['same', 'removed', 'added', 'same', 'added']);
  });

  it('finds no change between equal notebooks', () => {
    const cells = [code('n = 1'), md('# title')];
    const changes = cellDiff(cells, cells);
    expect(changes.map(c => c.op)).toEqual(['same', 'same']);
    expect(diffSummary(changes)).toBe('0 changed, 0 added, 0 removed, 2 unchanged');
  });

  it('pairs an edited cell as changed, with its line diff', () => {
    const changes = cellDiff(
      [code('n = 1\nprint(n)'), code('done')],
      [code('n = 2\nprint(n)'), code('done'), md('third version')]
    );
    expect(changes.map(c => c.op)).toEqual(['changed', 'same', 'added']);
    expect(changes[0].lines).toEqual([
      { op: 'removed', text: 'n = 1' },
      { op: 'added', text: 'n = 2' },
      { op: 'same', text: 'print(n)' }
    ]);
    expect(changes[2].after).toEqual(md('third version'));
  });

  it('does not pair cells of different types', () => {
    const changes = cellDiff([code('x')], [md('x')]);
    expect(changes.map(c => c.op)).toEqual(['removed', 'added']);
  });

  it('reads nbformat cells whose source is a list of lines', () => {
    const nb = { cells: [{ cell_type: 'code', source: ['a = 1\n', 'b = 2'] }] };
    expect(notebookCells(nb)).toEqual([code('a = 1\nb = 2')]);
    expect(notebookCells(null)).toEqual([]);
  });

  it('diffs lines', () => {
    expect(lineDiff('a\nb', 'a\nc').map(l => `${l.op}:${l.text}`)).toEqual([
      'same:a',
      'removed:b',
      'added:c'
    ]);
  });
});

describe('version paths', () => {
  it('round-trips a version through its read-only drive path', () => {
    const path = versionPath('reports/daily', 3);
    expect(path).toBe('.versions/reports/daily@3.ipynb');
    expect(versionRef(path)).toEqual({ name: 'reports/daily', version: 3 });
    expect(versionRef(`omega:${path}`)).toEqual({ name: 'reports/daily', version: 3 });
    expect(versionRef('reports/daily.ipynb')).toBeNull();
    expect(versionTitle('reports/daily', 3)).toBe('reports/daily · v3 (read-only)');
  });
});
