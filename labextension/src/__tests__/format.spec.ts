import {
  formatBytes,
  formatTimeIn,
  formatDuration,
  insertCode,
  notebookName,
  notebookPath,
  pyString,
  runDuration,
  runProgress,
  runTitle
} from '../format';
import type { IRun } from '../service';

function run(extra: Partial<IRun>): IRun {
  return {
    id: 'r1',
    kind: 'job',
    target: 'report',
    action: 'run',
    state: 'running',
    trigger: 'manual',
    submitted: '2024-01-01T00:00:00+00:00',
    started: null,
    finished: null,
    error: null,
    progress: null,
    ...extra
  };
}

describe('pyString', () => {
  it('quotes plain names', () => {
    expect(pyString('sales')).toBe("'sales'");
  });

  it('escapes quotes, backslashes and control characters', () => {
    expect(pyString("it's \\ a\nb\tc\u0001")).toBe("'it\\'s \\\\ a\\nb\\tc\\x01'");
  });

  it('keeps non-ASCII text', () => {
    expect(pyString('données/ventes[a,b]')).toBe("'données/ventes[a,b]'");
  });
});

describe('insertCode', () => {
  it('loads a dataset into df', () => {
    expect(insertCode('datasets', 'sales')).toBe(
      "import omega_jupyter as om\ndf = om.datasets.get('sales')"
    );
  });

  it('makes valid code for a name with quotes (no injection)', () => {
    const code = insertCode('models', "m'); import os; ('");
    expect(code).toContain("om.models.get('m\\'); import os; (\\'')");
  });

  it('runs notebooks and scripts', () => {
    expect(insertCode('jobs', 'reports/daily')).toContain("om.runtime.job('reports/daily').run()");
    expect(insertCode('scripts', 'etl')).toContain("om.runtime.script('etl').run()");
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1536, '1.5 KB'],
    [12 * 1024 * 1024, '12 MB'],
    [null, ''],
    [-1, '']
  ])('%p → %p', (size, text) => {
    expect(formatBytes(size as number | null)).toBe(text);
  });
});

describe('formatDuration', () => {
  it.each([
    [850, '850 ms'],
    [12300, '12.3 s'],
    [245000, '4 min 05 s'],
    [7380000, '2 h 03 min'],
    [null, '']
  ])('%p → %p', (ms, text) => {
    expect(formatDuration(ms as number | null)).toBe(text);
  });
});

describe('runs', () => {
  it('measures a finished run from start to end', () => {
    const r = run({
      started: '2024-01-01T00:00:01+00:00',
      finished: '2024-01-01T00:00:03.500+00:00'
    });
    expect(runDuration(r)).toBe(2500);
  });

  it('measures a running run to now', () => {
    const r = run({ started: '2024-01-01T00:00:00+00:00' });
    expect(runDuration(r, Date.parse('2024-01-01T00:01:00Z'))).toBe(60000);
  });

  it('shows cell progress', () => {
    expect(runProgress(run({ progress: { cells_done: 2, cells_total: 5 } }))).toBe('2/5 cells');
    expect(runProgress(run({ progress: null }))).toBe('');
  });
});

describe('notebook paths', () => {
  it('maps names to drive paths and back', () => {
    expect(notebookPath('reports/daily')).toBe('reports/daily.ipynb');
    expect(notebookName('omega:reports/daily.ipynb')).toBe('reports/daily');
    expect(notebookName('/x.ipynb')).toBe('x');
  });
});

describe('times in a zone and run titles', () => {
  it('formats a time in the given zone and names it', () => {
    const text = formatTimeIn('2026-12-03T05:00:00+00:00', 'Europe/Zurich');
    expect(text).toMatch(/06:00 Europe\/Zurich$/);
    expect(formatTimeIn('2026-12-03T05:00:00+00:00', 'UTC')).toMatch(/05:00 UTC$/);
  });

  it('titles a run by target, time and state, never by its id', () => {
    const title = runTitle({
      id: 'cc1a15facd8d40749a6146204c2395ac',
      kind: 'job',
      target: 'reports/daily',
      action: 'run',
      state: 'succeeded',
      trigger: 'manual',
      submitted: '2026-12-02T06:12:00+00:00',
      started: '2026-12-02T06:12:01+00:00',
      finished: null,
      error: null,
      progress: null
    });
    expect(title).toMatch(/^reports\/daily · .+ · succeeded$/);
    expect(title).not.toContain('cc1a15');
  });
});
