import { DatasetPreview, pageText } from '../preview';
import type { IDatasetPreview } from '../service';

function page(offset: number, count: number, total = 250): IDatasetPreview {
  return {
    metadata: {
      name: 'paged',
      kind: 'pandas.dfrows',
      version: 1,
      size: 1000,
      columns: [
        { name: 'n', dtype: 'int64' },
        { name: 'label', dtype: 'object' }
      ],
      versions: [1]
    },
    columns: [
      { name: 'n', dtype: 'int64' },
      { name: 'label', dtype: 'object' }
    ],
    rows: Array.from({ length: count }, (_, i) => ({
      n: offset + i,
      label: (offset + i) % 7 === 0 ? null : `row ${offset + i}`
    })),
    totalRows: total
  };
}

describe('preview pages', () => {
  it('says which rows a page shows', () => {
    expect(pageText(0, 100, 250)).toBe('rows 1–100 of 250');
    expect(pageText(200, 50, 250)).toBe('rows 201–250 of 250');
    expect(pageText(0, 3, null)).toBe('rows 1–3');
    expect(pageText(0, 0, 0)).toBe('no rows');
  });

  it('reads the next page from the server, only its rows, and shows None as None', async () => {
    const asked: [number, number][] = [];
    const widget = new DatasetPreview('paged', {
      load: () => Promise.reject(new Error('not used')),
      rendermime: null,
      page: async (offset, limit) => {
        asked.push([offset, limit]);
        return page(offset, Math.min(limit, 250 - offset));
      }
    });
    widget.showPreview(page(0, 100));
    const cells = () =>
      Array.from(widget.node.querySelectorAll('.jp-omega-preview-table tbody tr')).map(tr =>
        Array.from(tr.children).map(td => td.textContent)
      );
    expect(cells()[0]).toEqual(['0', 'None']);
    const buttons = () =>
      Array.from(widget.node.querySelectorAll<HTMLButtonElement>('.jp-omega-preview-page'));
    expect(buttons().map(b => b.disabled)).toEqual([true, true, false, false]);
    buttons()[2].click();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(asked).toEqual([[100, 100]]);
    expect(widget.offset).toBe(100);
    expect(cells()[0]).toEqual(['100', 'row 100']);
    expect(cells()[5]).toEqual(['105', 'None']);
    expect(widget.node.querySelector('.jp-omega-preview-pagetext')!.textContent).toBe(
      'rows 101–200 of 250'
    );
    buttons()[3].click(); // the last page
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(asked[1]).toEqual([200, 100]);
    expect(cells()).toHaveLength(50);
    expect(buttons().map(b => b.disabled)).toEqual([false, false, true, true]);
  });
});
