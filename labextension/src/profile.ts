/**
 * The Profile view of a dataset preview: per column statistics computed in the database over
 * every row (GET datasets/{name}/profile), each with its chart drawn by JupyterLab's own
 * Vega-Lite renderer (rendermime, `application/vnd.vegalite.v5+json`).
 */
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import type { IColumnProfile, IDatasetProfile } from './service';

export const VEGALITE_MIME = 'application/vnd.vegalite.v5+json';

/** A statistic as short text: numbers with up to 6 significant digits, missing as ''. */
export function statText(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (typeof value === 'boolean') {
    return value ? 'True' : 'False'; // as pandas shows them
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? value.toLocaleString('en-US') : String(+value.toPrecision(6));
  }
  return String(value);
}

/** The statistics shown for a column, as (label, text) pairs with empty ones left out. */
export function columnFacts(column: IColumnProfile): [string, string][] {
  const facts: [string, string][] = [
    ['count', statText(column.count)],
    ['nulls', statText(column.nulls)],
    ['distinct', (column.distinct_approx ? '≈' : '') + statText(column.distinct)],
    ['mean', statText(column.mean)],
    ['std', statText(column.std)],
    ['min', statText(column.min)],
    ['max', statText(column.max)]
  ];
  if (column.top.length) {
    const first = column.top[0];
    facts.push(['top', `${statText(first.value)} (${statText(first.count)})`]);
  }
  return facts.filter(([, text]) => text !== '');
}

/** Put `widget` into `host`: attached (Lumino messages sent) when `host` is in the page. */
export function place(widget: Widget, host: HTMLElement): void {
  if (host.isConnected) {
    Widget.attach(widget, host);
  } else {
    host.append(widget.node);
  }
}

export class DatasetProfileView extends Widget {
  constructor(private readonly rendermime: IRenderMimeRegistry | null) {
    super();
    this.addClass('jp-omega-profile');
  }

  /** Draw `profile`; resolves once every chart has been rendered. */
  async showProfile(profile: IDatasetProfile): Promise<void> {
    const facts = document.createElement('p');
    facts.className = 'jp-omega-profile-summary';
    facts.textContent =
      `${profile.rows.toLocaleString('en-US')} rows · ${profile.columns.length} columns · ` +
      `version ${profile.version} · over every row` +
      (profile.exact === false ? ' · ≈ marks estimated distinct counts' : '');
    const grid = document.createElement('div');
    grid.className = 'jp-omega-profile-grid';
    this.node.replaceChildren(facts, grid);
    const renders = profile.columns.map(column => this._card(column, grid));
    await Promise.all(renders);
  }

  private async _card(column: IColumnProfile, grid: HTMLElement): Promise<void> {
    const card = document.createElement('div');
    card.className = 'jp-omega-profile-card';
    card.dataset.column = String(column.name);
    const title = document.createElement('h3');
    title.textContent = String(column.name);
    const dtype = document.createElement('span');
    dtype.className = 'jp-omega-profile-dtype';
    dtype.textContent = column.dtype;
    title.append(' ', dtype);
    const table = document.createElement('table');
    table.className = 'jp-omega-profile-stats';
    for (const [label, text] of columnFacts(column)) {
      const row = table.insertRow();
      row.insertCell().textContent = label;
      row.insertCell().textContent = text;
    }
    const chart = document.createElement('div');
    chart.className = 'jp-omega-profile-chart';
    card.append(title, table, chart);
    grid.append(card);
    if (!column.vega_lite) {
      chart.textContent = column.count ? '' : 'no values';
      return;
    }
    const bundle = { [VEGALITE_MIME]: column.vega_lite } as never;
    const mime = this.rendermime?.preferredMimeType(bundle, 'any');
    if (!this.rendermime || mime !== VEGALITE_MIME) {
      chart.textContent = 'charts need JupyterLab’s Vega-Lite renderer';
      return;
    }
    const renderer = this.rendermime.createRenderer(VEGALITE_MIME);
    const model = new MimeModel({ data: { [VEGALITE_MIME]: column.vega_lite } as never });
    try {
      await renderer.renderModel(model);
      place(renderer, chart);
    } catch (error) {
      chart.textContent = `chart failed: ${(error as Error).message}`;
    }
  }
}
