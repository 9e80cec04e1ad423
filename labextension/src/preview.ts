/**
 * The dataset preview tab: name, version, row count, size, column dtypes and the first rows;
 * a Profile view next to the table shows statistics and charts over every row.
 */
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import { formatRows } from './dtypes';
import { formatBytes } from './format';
import { DatasetProfileView, place } from './profile';
import type { IDatasetPreview, IDatasetProfile } from './service';

/** Where the Profile view gets its data and draws its charts. */
export interface IProfileSource {
  load: () => Promise<IDatasetProfile>;
  rendermime: IRenderMimeRegistry | null;
}

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
  constructor(
    readonly datasetName: string,
    private readonly profileSource: IProfileSource | null = null
  ) {
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
    if (!this.profileSource) {
      this.node.replaceChildren(summary, scroller);
      return;
    }
    const profile = document.createElement('div');
    profile.className = 'jp-omega-preview-profile';
    profile.hidden = true;
    this.node.replaceChildren(summary, this._viewBar(scroller, profile), scroller, profile);
  }

  /** Table | Profile: the profile is fetched the first time it is shown. */
  private _viewBar(table: HTMLElement, profile: HTMLElement): HTMLElement {
    const bar = document.createElement('div');
    bar.className = 'jp-omega-preview-views';
    bar.setAttribute('role', 'tablist');
    const buttons = ['Table', 'Profile'].map(label => {
      const button = document.createElement('button');
      button.className = 'jp-omega-preview-view';
      button.textContent = label;
      button.setAttribute('role', 'tab');
      bar.append(button);
      return button;
    });
    const select = (index: number) => {
      buttons.forEach((b, i) => b.setAttribute('aria-selected', String(i === index)));
      table.hidden = index !== 0;
      profile.hidden = index !== 1;
      if (index === 1 && !this._profileLoading) {
        this._profileLoading = this._loadProfile(profile);
      }
    };
    buttons[0].onclick = () => select(0);
    buttons[1].onclick = () => select(1);
    select(0);
    return bar;
  }

  /** Fetch and draw the profile into `box` (errors shown there; a retry reloads). */
  private async _loadProfile(box: HTMLElement): Promise<void> {
    const source = this.profileSource!;
    box.textContent = `Profiling ${this.datasetName} in the database …`;
    try {
      const view = new DatasetProfileView(source.rendermime);
      const data = await source.load();
      box.replaceChildren();
      place(view, box);
      await view.showProfile(data);
    } catch (error) {
      const message = document.createElement('div');
      message.className = 'jp-omega-error';
      message.textContent = (error as Error).message;
      box.replaceChildren(message);
      this._profileLoading = null;
    }
  }

  /** The profile being (or already) loaded, for tests and callers that wait for it. */
  get profileLoaded(): Promise<void> | null {
    return this._profileLoading;
  }

  private _profileLoading: Promise<void> | null = null;
}
