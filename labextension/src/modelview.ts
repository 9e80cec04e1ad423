/**
 * The model view, a main-area tab: the versions with their tags and lineage (links to the
 * datasets and runs that made each), the signature, the metrics of the experiment runs that
 * name the model, and a predict form (version picker, dataset, progress, result table and
 * "Save as dataset").
 */
import { Widget } from '@lumino/widgets';

import { formatDuration, formatTime } from './format';
import { tagSummary } from './modelinfo';
import type { OmegaService } from './service';

export interface ILineage {
  action?: string;
  run_id?: string;
  source_version?: number | null;
  datasets?: { name: string; version?: number | null; role?: string }[];
}

export interface IModelVersionDetails {
  version: number;
  created?: string;
  tags?: string[];
  lineage?: ILineage;
}

export interface IExperimentRun {
  experiment: string;
  run: number;
  status: string | null;
  started: string | null;
  model_version: number | null;
  runtime_run: string | null;
  metrics: Record<string, unknown>;
}

/** What the view links to: a dataset's preview, a run's outcome. */
export interface IModelViewLinks {
  openDataset: (name: string) => void;
  openRun: (id: string) => void;
  /** The model's drift tab (a button in the head when given). */
  openDrift?: (name: string) => void;
}

/** Rows of a predict result as a table: [header, rows] (a column per output, a row number). */
export function resultTable(result: unknown): { columns: string[]; rows: unknown[][] } {
  const values = Array.isArray(result) ? result : result === undefined ? [] : [result];
  if (
    values.length &&
    values.every(v => v !== null && typeof v === 'object' && !Array.isArray(v))
  ) {
    const keys: string[] = [];
    for (const record of values as Record<string, unknown>[]) {
      for (const key of Object.keys(record)) {
        if (!keys.includes(key)) {
          keys.push(key);
        }
      }
    }
    return {
      columns: keys,
      rows: (values as Record<string, unknown>[]).map(r => keys.map(k => r[k] ?? null))
    };
  }
  if (values.length && values.every(v => Array.isArray(v))) {
    const width = Math.max(...(values as unknown[][]).map(v => v.length));
    return {
      columns: Array.from({ length: width }, (_, i) => `prediction_${i}`),
      rows: values as unknown[][]
    };
  }
  return { columns: ['prediction'], rows: values.map(v => [v]) };
}

/** A value in a table cell: `None` for missing values (as pandas prints them). */
export function valueText(value: unknown): string {
  if (value === null || value === undefined) {
    return 'None';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  }
  if (typeof value === 'object') {
    return JSON.stringify(value);
  }
  return String(value);
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = '',
  text = ''
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text) {
    node.textContent = text;
  }
  return node;
}

function table(head: string[], className: string): [HTMLTableElement, HTMLTableSectionElement] {
  const t = el('table', `jp-omega-view-table ${className}`);
  const row = t.createTHead().insertRow();
  for (const h of head) {
    row.append(el('th', '', h));
  }
  return [t, t.createTBody()];
}

const RESULT_ROWS_SHOWN = 200;

export class ModelView extends Widget {
  constructor(
    readonly modelName: string,
    private readonly service: OmegaService,
    private readonly links: IModelViewLinks
  ) {
    super();
    this.addClass('jp-omega-view');
    this.addClass('jp-omega-model-view');
    this.node.textContent = `Loading ${modelName} …`;
  }

  /** Read the model's details and draw the view (errors are shown in the tab). */
  async load(): Promise<void> {
    try {
      const details = await this.service.modelDetails(this.modelName);
      this.showDetails(details);
    } catch (error) {
      this.node.replaceChildren(el('div', 'jp-omega-error', (error as Error).message));
    }
  }

  showDetails(details: Record<string, unknown>): void {
    this._details = details;
    const versions = ((details.versions as IModelVersionDetails[] | undefined) ?? [])
      .slice()
      .sort((a, b) => b.version - a.version);
    const head = el('div', 'jp-omega-view-head');
    head.append(el('h2', '', String(details.name ?? this.modelName)));
    const facts = [
      `latest v${details.version}`,
      `${versions.length} version${versions.length === 1 ? '' : 's'}`,
      String(details.class ?? ''),
      String(details.format ?? ''),
      `tags: ${tagSummary(details)}`
    ].filter(Boolean);
    head.append(el('p', 'jp-omega-view-facts', facts.join(' · ')));
    const openDrift = this.links.openDrift;
    if (openDrift) {
      const drift = el('button', 'jp-Button jp-mod-styled jp-omega-model-drift', 'Drift…');
      drift.title = `Drift of ${this.modelName}'s inputs over time (a tracked model's monitor)`;
      drift.addEventListener('click', () => openDrift(this.modelName));
      head.append(drift);
    }
    this.node.replaceChildren(
      head,
      this._section('Versions', 'versions', this._versions(versions)),
      this._section('Signature', 'signature', this._signature(details.signature)),
      this._section(
        'Metrics',
        'metrics',
        this._metrics((details.experiments as IExperimentRun[] | undefined) ?? [])
      ),
      this._section('Predict', 'predict', this._predictForm(versions)),
      this._section('Libraries', 'libraries', this._libraries(details.libraries))
    );
  }

  private _section(title: string, id: string, body: HTMLElement): HTMLElement {
    const box = el('section', 'jp-omega-view-section');
    box.dataset.section = id;
    box.append(el('h3', '', title), body);
    return box;
  }

  private _link(text: string, title: string, go: () => void): HTMLButtonElement {
    const a = el('button', 'jp-omega-link', text);
    a.title = title;
    a.addEventListener('click', go);
    return a;
  }

  /** What made a version: the action, its datasets (links) and the run (link). */
  lineageNode(lineage: ILineage | undefined): HTMLElement {
    const box = el('span', 'jp-omega-lineage');
    if (!lineage || !Object.keys(lineage).length) {
      box.textContent = 'stored with put';
      return box;
    }
    box.append(`${lineage.action ?? 'put'}`);
    if (lineage.source_version) {
      box.append(` of v${lineage.source_version}`);
    }
    const datasets = lineage.datasets ?? [];
    if (datasets.length) {
      box.append(' on ');
      datasets.forEach((d, i) => {
        if (i) {
          box.append(', ');
        }
        const label = d.version ? `${d.name}@${d.version}` : d.name;
        if (d.version === null || d.name.startsWith('(')) {
          box.append(label);
        } else {
          box.append(
            this._link(label, `Preview dataset ${d.name}`, () => this.links.openDataset(d.name))
          );
        }
        if (d.role) {
          box.append(` (${d.role})`);
        }
      });
    }
    if (lineage.run_id) {
      const id = lineage.run_id;
      box.append(', ');
      box.append(
        this._link(`run ${id.slice(0, 8)}`, `Open run ${id}`, () => this.links.openRun(id))
      );
    }
    return box;
  }

  private _versions(versions: IModelVersionDetails[]): HTMLElement {
    const [t, body] = table(
      ['Version', 'Created', 'Tags', 'Made by'],
      'jp-omega-model-versions-table'
    );
    for (const v of versions) {
      const tr = body.insertRow();
      tr.dataset.version = String(v.version);
      tr.insertCell().textContent = `v${v.version}`;
      tr.insertCell().textContent = formatTime(v.created);
      const tags = tr.insertCell();
      for (const tag of v.tags ?? []) {
        tags.append(el('span', 'jp-omega-tag', tag));
      }
      tr.insertCell().append(this.lineageNode(v.lineage));
    }
    return t;
  }

  private _signature(signature: unknown): HTMLElement {
    const sig = signature as {
      columns?: string[];
      dtypes?: string[];
      width?: number;
      dtype?: string;
    };
    if (!sig || typeof sig !== 'object') {
      return el(
        'p',
        'jp-omega-view-none',
        'No signature recorded (the model was stored without input data).'
      );
    }
    if (Array.isArray(sig.columns)) {
      const [t, body] = table(['Column', 'dtype'], 'jp-omega-signature-table');
      sig.columns.forEach((column, i) => {
        const tr = body.insertRow();
        tr.insertCell().textContent = column;
        tr.insertCell().textContent = sig.dtypes?.[i] ?? '';
      });
      return t;
    }
    return el('p', '', `${sig.width ?? '?'} columns of ${sig.dtype ?? 'any dtype'}`);
  }

  private _metrics(runs: IExperimentRun[]): HTMLElement {
    if (!runs.length) {
      return el(
        'p',
        'jp-omega-view-none',
        'No experiment names this model (track it, or fit with experiment=…, to see metrics here).'
      );
    }
    const keys: string[] = [];
    for (const run of runs) {
      for (const key of Object.keys(run.metrics ?? {})) {
        if (!keys.includes(key)) {
          keys.push(key);
        }
      }
    }
    const [t, body] = table(
      ['Experiment', 'Run', 'Version', 'Status', 'Started', ...keys],
      'jp-omega-metrics-table'
    );
    for (const run of runs) {
      const tr = body.insertRow();
      tr.insertCell().textContent = run.experiment;
      tr.insertCell().textContent = String(run.run);
      tr.insertCell().textContent = run.model_version ? `v${run.model_version}` : '';
      tr.insertCell().textContent = run.status ?? '';
      tr.insertCell().textContent = formatTime(run.started);
      for (const key of keys) {
        const td = tr.insertCell();
        td.className = 'jp-omega-num';
        td.textContent = key in (run.metrics ?? {}) ? valueText(run.metrics[key]) : '';
      }
    }
    return t;
  }

  private _libraries(libraries: unknown): HTMLElement {
    const entries = Object.entries((libraries as Record<string, unknown>) ?? {});
    if (!entries.length) {
      return el('p', 'jp-omega-view-none', '—');
    }
    return el('p', 'jp-omega-libraries', entries.map(([k, v]) => `${k} ${v}`).join(' · '));
  }

  // -- predict ----------------------------------------------------------------------------
  /** The predict form's parts, for callers and tests. */
  get predictParts(): {
    version: HTMLSelectElement;
    dataset: HTMLInputElement;
    run: HTMLButtonElement;
    progress: HTMLElement;
    result: HTMLElement;
  } {
    return this._predict;
  }

  private _predictForm(versions: IModelVersionDetails[]): HTMLElement {
    const form = el('div', 'jp-omega-predict');
    const { version, dataset, run, progress, result } = this._predict;
    version.className = 'jp-omega-predict-version';
    version.setAttribute('aria-label', 'Model version');
    version.replaceChildren(new Option('latest', ''));
    for (const v of versions) {
      const tags = v.tags?.length ? ` (${v.tags.join(', ')})` : '';
      version.append(new Option(`v${v.version}${tags}`, String(v.version)));
    }
    dataset.className = 'jp-omega-predict-dataset';
    dataset.placeholder = 'dataset name';
    dataset.setAttribute('aria-label', 'Dataset to predict on');
    const list = el('datalist');
    list.id = `jp-omega-datasets-${Math.random().toString(36).slice(2)}`;
    dataset.setAttribute('list', list.id);
    void this.service
      .list('datasets', { limit: 500 })
      .then(page => list.replaceChildren(...page.items.map(i => new Option(i.name))))
      .catch(() => undefined);
    run.className = 'jp-Button jp-mod-styled jp-mod-accept jp-omega-predict-run';
    run.textContent = 'Predict';
    run.addEventListener('click', () => void this.predict());
    dataset.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        void this.predict();
      }
    });
    progress.className = 'jp-omega-predict-progress';
    progress.hidden = true;
    result.className = 'jp-omega-predict-result';
    const row = el('div', 'jp-omega-predict-row');
    row.append(el('label', '', 'Version'), version, el('label', '', 'Dataset'), dataset, list, run);
    form.append(row, progress, result);
    return form;
  }

  /** Predict with the chosen version on the chosen dataset and show the result. */
  async predict(): Promise<void> {
    const { version, dataset, run, progress, result } = this._predict;
    const data = dataset.value.trim();
    if (!data) {
      result.replaceChildren(el('div', 'jp-omega-error', 'Name the dataset to predict on.'));
      return;
    }
    const ref = version.value ? `${this.modelName}@${version.value}` : this.modelName;
    run.disabled = true;
    progress.hidden = false;
    const bar = el('progress');
    bar.setAttribute('aria-label', 'Predicting');
    const label = el('span', '', `Predicting with ${ref} on ${data} …`);
    progress.replaceChildren(bar, label);
    const started = Date.now();
    const timer = window.setInterval(() => {
      label.textContent = `Predicting with ${ref} on ${data} … ${formatDuration(Date.now() - started)}`;
    }, 250);
    try {
      const out = await this.service.predict(ref, data);
      this._showResult(out, ref, data, Date.now() - started);
    } catch (error) {
      result.replaceChildren(el('div', 'jp-omega-error', (error as Error).message));
    } finally {
      window.clearInterval(timer);
      progress.hidden = true;
      run.disabled = false;
    }
  }

  private _showResult(
    out: { result: unknown; version?: number },
    ref: string,
    data: string,
    ms: number
  ): void {
    const { columns, rows } = resultTable(out.result);
    const box = this._predict.result;
    const which = out.version ? `${this.modelName} v${out.version}` : ref;
    const shown = Math.min(rows.length, RESULT_ROWS_SHOWN);
    const summary = el(
      'p',
      'jp-omega-predict-summary',
      `${rows.length.toLocaleString()} predictions of ${which} on ${data} in ${formatDuration(ms)}` +
        (shown < rows.length ? ` · showing the first ${shown}` : '')
    );
    const [t, body] = table(['#', ...columns], 'jp-omega-predict-table');
    rows.slice(0, shown).forEach((r, i) => {
      const tr = body.insertRow();
      tr.insertCell().textContent = String(i);
      for (const v of r) {
        const td = tr.insertCell();
        td.className = 'jp-omega-num';
        td.textContent = valueText(v);
      }
    });
    const scroller = el('div', 'jp-omega-view-scroll');
    scroller.append(t);
    const save = el('div', 'jp-omega-predict-save');
    const name = el('input');
    name.value = `${this.modelName}_predictions`;
    name.setAttribute('aria-label', 'Name of the new dataset');
    const button = el(
      'button',
      'jp-Button jp-mod-styled jp-omega-predict-save-button',
      'Save as dataset'
    );
    const said = el('span', 'jp-omega-predict-saved');
    button.addEventListener('click', async () => {
      const target = name.value.trim();
      if (!target) {
        said.textContent = 'Name the dataset first.';
        return;
      }
      button.disabled = true;
      try {
        const summary = await this.service.putDataset(target, { columns, data: rows });
        said.textContent = `Saved ${summary.name} (version ${summary.version}, ${rows.length.toLocaleString()} rows)`;
        said.classList.remove('jp-omega-error');
      } catch (error) {
        said.textContent = (error as Error).message;
        said.classList.add('jp-omega-error');
      } finally {
        button.disabled = false;
      }
    });
    save.append(name, button, said);
    box.replaceChildren(summary, save, scroller);
  }

  /** The details last shown (tests). */
  get details(): Record<string, unknown> | null {
    return this._details;
  }

  private _details: Record<string, unknown> | null = null;
  private _predict = {
    version: document.createElement('select'),
    dataset: document.createElement('input'),
    run: document.createElement('button'),
    progress: document.createElement('div'),
    result: document.createElement('div')
  };
}
