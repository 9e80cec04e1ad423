import { listing, OmegaDrive, saveMessage } from '../drive';
import { OmegaService } from '../service';
import { ok, settingsFor } from './fakeServer';
import { parseParameter } from '../schedule';
import { cellsFor } from '../drag';
import type { IObjectSummary } from '../service';

function nb(name: string, modified = '2024-01-01T00:00:00+00:00'): IObjectSummary {
  return { name, kind: 'notebook', version: 1, modified, size: 10 };
}

describe('drive listing', () => {
  const items = [
    nb('top'),
    nb('reports/daily'),
    nb('reports/weekly', '2024-02-01T00:00:00+00:00'),
    nb('reports/old/2019')
  ];

  it('shows folders and notebooks at the top', () => {
    const top = listing(items, '');
    expect(top.map(m => [m.type, m.path])).toEqual([
      ['directory', 'reports'],
      ['notebook', 'top.ipynb']
    ]);
    expect(top[0].last_modified).toBe('2024-02-01T00:00:00+00:00');
  });

  it('lists inside a folder', () => {
    const inside = listing(items, 'reports');
    expect(inside.map(m => m.path)).toEqual([
      'reports/old',
      'reports/daily.ipynb',
      'reports/weekly.ipynb'
    ]);
    expect(inside[1].name).toBe('daily.ipynb');
  });
});

describe('schedule parameters', () => {
  it.each([
    ['7', 7],
    ['"a b"', 'a b'],
    ["'day'", 'day'],
    ['True', true],
    ['None', null],
    ['[1, 2]', [1, 2]],
    ['plain text', 'plain text']
  ])('%p → %p', (text, value) => {
    expect(parseParameter(text)).toEqual(value);
  });
});

describe('drag', () => {
  it('drops one code cell that loads the object', () => {
    const cells = cellsFor('datasets', 'sales');
    expect(cells).toHaveLength(1);
    expect(cells[0].cell_type).toBe('code');
    expect(cells[0].source).toContain("om.datasets.get('sales')");
  });
});

describe('drive save', () => {
  it('tells the version a save made, or that the notebook was unchanged', async () => {
    const { settings } = settingsFor(() =>
      ok({ ...nb('reports/daily'), version: 4, created: false })
    );
    const heard: string[] = [];
    const drive = new OmegaDrive(new OmegaService(settings), (name, summary) =>
      heard.push(saveMessage(name, summary))
    );
    await drive.save('reports/daily.ipynb', { type: 'notebook', content: {} });
    expect(heard).toEqual(['reports/daily: no changes, still version 4']);
    expect(saveMessage('a', { ...nb('a'), version: 5, created: true })).toBe(
      'Saved a as version 5'
    );
  });
});
