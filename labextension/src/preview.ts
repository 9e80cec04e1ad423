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
  /** Rows `offset … offset + limit` of the version shown (the preview's other pages). */
  page?: (offset: number, limit: number) => Promise<IDatasetPreview>;
}

/** `rows 101–200 of 250`: the rows a page shows. */
export function pageText(offset: number, shown: number, total: number | null): string {
  if (!shown) {
    return total ? `no rows at ${offset.toLocaleString()} of ${total.toLocaleString()}` : 'no rows';
  }
  const range = `rows ${(offset + 1).toLocaleString()}–${(offset + shown).toLocaleString()}`;
  return total === null ? range : `${range} of ${total.toLocaleString()}`;
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
    this._pageSize = Math.max(preview.rows.length, this._pageSize);
    this._total = preview.totalRows;
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
      formatBytes(meta.size)
    ]
      .filter(Boolean)
      .join(' · ');
    summary.append(title, facts);

    const scroller = document.createElement('div');
    scroller.className = 'jp-omega-preview-scroll';
    this._scroller = scroller;
    this._renderTable(preview, 0);
    const table = document.createElement('div');
    table.className = 'jp-omega-preview-tablebox';
    table.append(this._pager, scroller);
    if (!this.profileSource) {
      this.node.replaceChildren(summary, table);
      return;
    }
    const profile = document.createElement('div');
    profile.className = 'jp-omega-preview-profile';
    profile.hidden = true;
    this.node.replaceChildren(summary, this._viewBar(table, profile), table, profile);
  }

  /** The offset of the page shown. */
  get offset(): number {
    return this._offset;
  }

  /** Show the page at `offset` (read from the server: only its rows). */
  async showPage(offset: number): Promise<void> {
    const load = this.profileSource?.page;
    if (!load) {
      return;
    }
    const target = Math.max(0, offset);
    this._pagerText.textContent = `loading rows from ${(target + 1).toLocaleString()} …`;
    try {
      const preview = await load(target, this._pageSize);
      this._total = preview.totalRows ?? this._total;
      this._renderTable(preview, target);
      this._scroller?.scrollTo({ top: 0 });
    } catch (error) {
      this._pagerText.textContent = (error as Error).message;
      this._pagerText.classList.add('jp-omega-error');
    }
  }

  private _renderTable(preview: IDatasetPreview, offset: number): void {
    this._offset = offset;
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
    this._scroller?.replaceChildren(table);
    this._renderPager(preview.rows.length);
  }

  private _renderPager(shown: number): void {
    const total = this._total;
    const pager = this._pager;
    pager.className = 'jp-omega-preview-pager';
    this._pagerText.className = 'jp-omega-preview-pagetext';
    this._pagerText.textContent = pageText(this._offset, shown, total);
    const canPage = !!this.profileSource?.page;
    const hasNext = total === null ? shown >= this._pageSize : this._offset + shown < total;
    const make = (label: string, title: string, enabled: boolean, offset: () => number) => {
      const b = document.createElement('button');
      b.className = 'jp-Button jp-mod-styled jp-omega-preview-page';
      b.textContent = label;
      b.title = title;
      b.disabled = !enabled || !canPage;
      b.addEventListener('click', () => void this.showPage(offset()));
      return b;
    };
    const size = this._pageSize;
    const last = total === null ? this._offset : Math.max(0, Math.floor((total - 1) / size) * size);
    pager.replaceChildren(
      make('«', 'first page', this._offset > 0, () => 0),
      make('‹ Previous', 'previous page', this._offset > 0, () => this._offset - size),
      this._pagerText,
      make('Next ›', 'next page', hasNext, () => this._offset + size),
      make('»', 'last page', hasNext && total !== null, () => last)
    );
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
  private _offset = 0;
  private _pageSize = 100;
  private _total: number | null = null;
  private _scroller: HTMLElement | null = null;
  private _pager = document.createElement('div');
  private _pagerText = document.createElement('span');
}
