/**
 * The dataset preview tab: name, version, row count, size, column dtypes and the first rows.
 */
import { Widget } from '@lumino/widgets';

import { formatRows } from './dtypes';
import { formatBytes } from './format';
import type { IDatasetPreview } from './service';

/** Text for one cell of the preview table. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (typeof value === 'object') {
    return JSON.stringify(value);
  }
  return String(value);
}

export class DatasetPreview extends Widget {
  constructor(readonly datasetName: string) {
    super();
    this.addClass('jp-omega-preview');
    this.node.textContent = `Loading ${datasetName} …`;
  }

  showError(message: string): void {
    const box = document.createElement('div');
    box.className = 'jp-omega-error';
    box.textContent = message;
    this.node.replaceChildren(box);
  }

  showPreview(preview: IDatasetPreview): void {
    const meta = preview.metadata;
    const summary = document.createElement('div');
    summary.className = 'jp-omega-preview-summary';
    const title = document.createElement('h2');
    title.textContent = meta.name;
    const facts = document.createElement('p');
    const rows = preview.totalRows;
    facts.textContent = [
      `version ${meta.version}`,
      meta.kind,
      rows === null ? '' : `${rows.toLocaleString()} rows`,
      `${preview.columns.length} columns`,
      formatBytes(meta.size),
      rows !== null && rows > preview.rows.length ? `showing the first ${preview.rows.length}` : ''
    ]
      .filter(Boolean)
      .join(' · ');
    summary.append(title, facts);

    const table = document.createElement('table');
    table.className = 'jp-omega-preview-table';
    const head = table.createTHead();
    const names = head.insertRow();
    const dtypes = head.insertRow();
    dtypes.className = 'jp-omega-dtypes';
    for (const column of preview.columns) {
      const th = document.createElement('th');
      th.textContent = column.name;
      names.append(th);
      const dt = document.createElement('th');
      dt.textContent = column.dtype;
      dtypes.append(dt);
    }
    const body = table.createTBody();
    // Values formatted by dtype as pandas shows them (see dtypes.ts).
    for (const texts of formatRows(preview.columns, preview.rows)) {
      const tr = body.insertRow();
      for (const text of texts) {
        tr.insertCell().textContent = text;
      }
    }
    const scroller = document.createElement('div');
    scroller.className = 'jp-omega-preview-scroll';
    scroller.append(table);
    this.node.replaceChildren(summary, scroller);
  }
}
