/**
 * The Experiments section of the panel: a Section of experiments (searched and paged on the
 * server like the stores) whose rows expand to the experiment's runs — status, duration,
 * params and last metrics — and its metrics. Double-click (or Enter) on a run opens its chart;
 * on a metric, the metric across runs; on an experiment, it expands or collapses.
 */
import { formatDuration, formatTime } from './format';
import {
  ExperimentApi,
  IExperiment,
  IExperimentRun,
  experimentKey,
  metricNames,
  metricsText,
  paramsText,
  runMetrics,
  runParams,
  shortValue
} from './experiments';
import { IItemView, ISectionOptions, Section } from './section';

/** Runs listed under an expanded experiment: the latest ones (the chart shows all). */
export const RUNS_SHOWN = 20;

export function experimentView(item: IExperiment): IItemView {
  const count = (n: unknown) => (typeof n === 'number' ? n : 0);
  const runs =
    count(item.runs) === 1 ? '1 run' : `${count(item.runs).toLocaleString('en-US')} runs`;
  const lines = [
    item.name,
    `${runs}, ${count(item.events).toLocaleString('en-US')} events`,
    `last event ${formatTime(item.last)}`
  ];
  return { key: item.name, label: item.name, detail: runs, title: lines.join('\n') };
}

/** A run's row: `run 2`, `succeeded · 1.2 s`, then its params and last metrics. */
export function experimentRunView(experiment: string, run: IExperimentRun): IItemView {
  const duration = typeof run.duration === 'number' ? formatDuration(run.duration * 1000) : '';
  const lines = [`${experiment}, run ${run.run}: ${run.status}`];
  if (run.started) {
    lines.push(`started ${formatTime(run.started)}`);
  }
  if (duration) {
    lines.push(`duration ${duration}`);
  }
  const links: [string, unknown][] = [
    ['model', run.model ? `${run.model}${run.model_version ? ` v${run.model_version}` : ''}` : ''],
    ['dataset', run.dataset],
    ['runtime run', run.runtime_run]
  ];
  for (const [label, value] of links) {
    if (value) {
      lines.push(`${label}: ${value}`);
    }
  }
  const params = runParams(run);
  if (params.length) {
    lines.push('params:', ...params.map(([k, v]) => `  ${k} = ${shortValue(v)}`));
  }
  const metrics = runMetrics(run);
  if (metrics.length) {
    lines.push('last metrics:', ...metrics.map(([k, v]) => `  ${k} = ${shortValue(v)}`));
  }
  lines.push('double-click: chart its metrics');
  return {
    key: experimentKey({ experiment, run: run.run, metric: null }),
    label: `run ${run.run}`,
    detail: [run.status, duration].filter(Boolean).join(' · '),
    title: lines.join('\n'),
    state: run.status
  };
}

interface IRunsState {
  runs: IExperimentRun[];
  error: string | null;
  loading: boolean;
}

export class ExperimentsSection extends Section<IExperiment> {
  constructor(
    options: ISectionOptions<IExperiment>,
    private readonly api: ExperimentApi
  ) {
    super(options);
    this._ready = true;
    this.node.addEventListener('click', event => {
      const twisty = (event.target as HTMLElement).closest('.jp-omega-twisty');
      const row = twisty?.closest<HTMLElement>('.jp-omega-item');
      if (row) {
        this.toggleExpanded(row.dataset.key ?? '');
      }
    });
    // After each refresh of the list, the runs of the expanded experiments are fetched again.
    options.model.changed.connect(() => {
      if (!options.model.loading) {
        this._reloadRuns();
      }
    }, this);
    this.render();
  }

  /** The experiments shown expanded. */
  get expanded(): ReadonlySet<string> {
    return this._expanded;
  }

  isExpanded(name: string): boolean {
    return this._expanded.has(name);
  }

  /** Expand (fetching its runs) or collapse experiment `name`. */
  toggleExpanded(name: string, expand = !this._expanded.has(name)): void {
    if (expand) {
      this._expanded.add(name);
      void this._fetchRuns(name);
    } else {
      this._expanded.delete(name);
    }
    this.render();
  }

  /** The runs of `name` as last fetched (oldest first). */
  runsOf(name: string): readonly IExperimentRun[] {
    return this._runs.get(name)?.runs ?? [];
  }

  handleEvent(event: Event): void {
    const row = (event.target as HTMLElement).closest<HTMLElement>('.jp-omega-item');
    const isExperiment = row?.dataset.kind === 'experiment';
    const key = (event as KeyboardEvent).key;
    if (row && isExperiment && event.type === 'dblclick') {
      // Each click on the twisty toggled already.
      if (!(event.target as HTMLElement).closest('.jp-omega-twisty')) {
        this.toggleExpanded(row.dataset.key ?? '');
      }
      return;
    }
    if (row && isExperiment && event.type === 'keydown') {
      const name = row.dataset.key ?? '';
      if (key === 'Enter' || key === 'ArrowRight' || key === 'ArrowLeft') {
        this.toggleExpanded(name, key === 'Enter' ? undefined : key === 'ArrowRight');
        this._focus(name);
        return;
      }
    }
    super.handleEvent(event);
  }

  render(): void {
    super.render();
    if (!this._ready) {
      return; // called by Section's constructor, before this one's fields exist
    }
    const list = this.node.querySelector('.jp-omega-list');
    if (!list) {
      return;
    }
    for (const row of Array.from(list.querySelectorAll<HTMLElement>('.jp-omega-item'))) {
      const name = row.dataset.key ?? '';
      const open = this._expanded.has(name);
      row.dataset.kind = 'experiment';
      row.setAttribute('aria-expanded', String(open));
      const twisty = document.createElement('span');
      twisty.className = 'jp-omega-twisty';
      twisty.textContent = open ? '▾' : '▸';
      twisty.title = open ? 'Hide the runs' : 'Show the runs';
      row.prepend(twisty);
      if (open) {
        row.after(...this._children(name));
      }
    }
  }

  private _children(name: string): HTMLElement[] {
    const state = this._runs.get(name);
    if (!state || (state.loading && !state.runs.length)) {
      return [this._note('loading runs …')];
    }
    if (state.error && !state.runs.length) {
      const note = this._note(state.error);
      note.classList.add('jp-omega-error');
      return [note];
    }
    const rows: HTMLElement[] = [];
    const shown = state.runs.slice(-RUNS_SHOWN).reverse(); // the latest first
    for (const run of shown) {
      rows.push(this._runRow(name, run));
    }
    const hidden = state.runs.length - shown.length;
    if (hidden > 0) {
      rows.push(this._note(`${hidden} earlier runs: in the chart, or exp.runs()`));
    }
    for (const metric of metricNames(state.runs)) {
      rows.push(this._metricRow(name, metric, state.runs));
    }
    if (!state.runs.length) {
      rows.push(this._note('no runs'));
    }
    return rows;
  }

  private _childRow(view: IItemView, kind: string): HTMLLIElement {
    const row = document.createElement('li');
    row.className = 'jp-omega-item jp-omega-subitem';
    row.dataset.key = view.key;
    row.dataset.store = this.options.id;
    row.dataset.kind = kind;
    row.tabIndex = 0;
    row.title = view.title;
    row.setAttribute('role', 'listitem');
    if (view.state) {
      row.dataset.state = view.state;
    }
    if (view.key === this.selected) {
      row.classList.add('jp-mod-selected');
    }
    const label = document.createElement('span');
    label.className = 'jp-omega-item-label';
    label.textContent = view.label;
    const detail = document.createElement('span');
    detail.className = 'jp-omega-item-detail';
    detail.textContent = view.detail;
    row.append(label, detail);
    return row;
  }

  private _runRow(experiment: string, run: IExperimentRun): HTMLElement {
    const row = this._childRow(experimentRunView(experiment, run), 'run');
    row.dataset.run = String(run.run);
    const facts: [string, string][] = [
      ['params', paramsText(run)],
      ['metrics', metricsText(run)]
    ];
    for (const [kind, text] of facts) {
      if (text) {
        const line = document.createElement('span');
        line.className = `jp-omega-exp-facts jp-omega-exp-${kind}`;
        line.textContent = text;
        row.append(line);
      }
    }
    return row;
  }

  private _metricRow(experiment: string, metric: string, runs: IExperimentRun[]): HTMLElement {
    const count = runs.filter(r => runMetrics(r).some(([k]) => k === metric)).length;
    const logged = count === 1 ? '1 run' : `${count} runs`;
    const row = this._childRow(
      {
        key: experimentKey({ experiment, run: null, metric }),
        label: metric,
        detail: `metric · ${logged}`,
        title: `${experiment}: ${metric}, logged by ${logged}\ndouble-click: chart it across runs`
      },
      'metric'
    );
    row.dataset.metric = metric;
    return row;
  }

  private _note(text: string): HTMLElement {
    const note = document.createElement('li');
    note.className = 'jp-omega-empty jp-omega-subitem';
    note.textContent = text;
    return note;
  }

  private _focus(name: string): void {
    const rows = this.node.querySelectorAll<HTMLElement>('.jp-omega-item[data-kind="experiment"]');
    for (const row of Array.from(rows)) {
      if (row.dataset.key === name) {
        row.focus();
      }
    }
  }

  private async _fetchRuns(name: string): Promise<void> {
    const state = this._runs.get(name) ?? { runs: [], error: null, loading: false };
    if (state.loading) {
      return;
    }
    state.loading = true;
    this._runs.set(name, state);
    try {
      state.runs = await this.api.runs(name);
      state.error = null;
    } catch (error) {
      state.error = (error as Error).message ?? String(error);
    } finally {
      state.loading = false;
      if (this._expanded.has(name)) {
        this.render();
      }
    }
  }

  private _reloadRuns(): void {
    const shown = new Set(this.model.items.map(item => item.name));
    for (const name of this._expanded) {
      if (shown.has(name)) {
        void this._fetchRuns(name);
      }
    }
  }

  private _ready = false;
  private _expanded = new Set<string>();
  private _runs = new Map<string, IRunsState>();
}
