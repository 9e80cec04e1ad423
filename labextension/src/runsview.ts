/**
 * The Runs view: a tab in the main area with every run in a table — target and version,
 * action, trigger, parameters, started, duration, state, attempt — sorted by a click on a
 * column's header and filtered by state, kind, trigger and target (run history of one
 * notebook, script or model; the members of one run group). Each row opens the run's result,
 * runs it again with the same parameters, cancels it or exports its executed notebook as HTML.
 */
import { Poll } from '@lumino/polling';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { formatDuration, formatTime, isFinal, runDuration, shortTime } from './format';
import { parametersText } from './groups';
import { runAction } from './panel';
import { IRunItem, IRunsTableQuery, RunSort, runsTable } from './runsapi';
import type { IPage, OmegaService } from './service';

/** What the view shows: all runs, or those of one target (and kind), or one group's. */
export interface IRunsFilter {
  target?: string;
  kind?: string;
  group?: string;
  /** How the tab names the group (its notebook), when filtered to a group. */
  groupLabel?: string;
}

export interface IRunsViewActions {
  open: (run: IRunItem) => unknown;
  rerun: (run: IRunItem) => Promise<unknown>;
  cancel: (run: IRunItem) => Promise<unknown>;
  exportHtml: (run: IRunItem) => Promise<unknown>;
  /** *Run now…* with parameters, for a view of one notebook or script. */
  runNow: (kind: string, target: string) => Promise<unknown>;
}

export interface IColumn {
  id: string;
  label: string;
  sort?: RunSort;
}

export const COLUMNS: IColumn[] = [
  // The actions first: always in view, however narrow the tab.
  { id: 'actions', label: '' },
  { id: 'target', label: 'Target', sort: 'target' },
  { id: 'action', label: 'Action', sort: 'action' },
  { id: 'trigger', label: 'Trigger' },
  { id: 'parameters', label: 'Parameters' },
  { id: 'started', label: 'Started', sort: 'started' },
  { id: 'duration', label: 'Duration', sort: 'duration' },
  { id: 'state', label: 'State', sort: 'state' },
  { id: 'attempt', label: 'Attempt', sort: 'attempt' }
];

export interface ISortState {
  sort: RunSort;
  order: 'asc' | 'desc';
}

/**
 * The sort after a click on `column`'s header: the same column flips its order; another
 * starts descending for times and durations (newest, longest first), ascending for the rest.
 */
export function nextSort(current: ISortState, column: RunSort): ISortState {
  if (current.sort === column) {
    return { sort: column, order: current.order === 'asc' ? 'desc' : 'asc' };
  }
  const descending = ['submitted', 'started', 'finished', 'duration', 'attempt'].includes(column);
  return { sort: column, order: descending ? 'desc' : 'asc' };
}

/** How the table says what triggered a run. */
export function triggerLabel(trigger: string): string {
  const labels: Record<string, string> = {
    manual: 'manual',
    schedule: 'schedule',
    api: 'REST',
    map: 'map'
  };
  return labels[trigger] ?? trigger;
}

/** The tab's title: `Runs`, `Runs · reports/daily`, `Runs · reports/daily (group)`. */
export function runsViewTitle(filter: IRunsFilter): string {
  if (filter.group) {
    return `Runs · ${filter.groupLabel ?? filter.group.slice(0, 8)} (group)`;
  }
  return filter.target ? `Runs · ${filter.target}` : 'Runs';
}

/** A stable id of the tab of a filter (one tab per filter). */
export function runsViewId(filter: IRunsFilter): string {
  const key = [filter.kind ?? '', filter.target ?? '', filter.group ?? ''].join('|');
  return `omega-runs-view-${encodeURIComponent(key)}`;
}

/** The query sent for a filter, the controls' values and a sort. */
export function tableQuery(
  filter: IRunsFilter,
  controls: { state?: string; kind?: string; trigger?: string; target?: string },
  sort: ISortState,
  page: { limit: number; offset: number }
): IRunsTableQuery {
  const clean = (v?: string) => (v && v.trim() ? v.trim() : undefined);
  return {
    ...page,
    sort: sort.sort,
    order: sort.order,
    state: clean(controls.state),
    kind: clean(filter.kind) ?? clean(controls.kind),
    trigger: clean(controls.trigger),
    target: clean(filter.target) ?? clean(controls.target),
    group: clean(filter.group)
  };
}

const STATES: [string, string][] = [
  ['', 'any state'],
  ['queued', 'queued'],
  ['running', 'running'],
  ['succeeded', 'succeeded'],
  ['failed', 'failed'],
  ['cancelled', 'cancelled']
];
const KINDS: [string, string][] = [
  ['', 'any kind'],
  ['job', 'notebooks'],
  ['script', 'scripts'],
  ['model', 'models']
];
const TRIGGERS: [string, string][] = [
  ['', 'any trigger'],
  ['manual', 'manual'],
  ['schedule', 'schedule'],
  ['api', 'REST'],
  ['map', 'map (run groups)']
];

export class RunsView extends Widget {
  constructor(
    private readonly service: OmegaService,
    readonly filter: IRunsFilter,
    private readonly actions: IRunsViewActions,
    readonly pageSize = 50
  ) {
    super();
    this.addClass('jp-omega-runs-view');
    this.id = runsViewId(filter);
    this.node.append(this._toolbar(), this._status, this._tableBox());
    this._status.className = 'jp-omega-runs-status';
    this._status.setAttribute('role', 'status');
    this._poll = new Poll({
      factory: () => this.refresh(),
      frequency: { interval: 5000, backoff: true, max: 60000 },
      name: 'omega_jupyter:runs-view',
      standby: () => this.isHidden || !this.isAttached || 'when-hidden'
    });
  }

  get items(): readonly IRunItem[] {
    return this._items;
  }

  get sort(): ISortState {
    return this._sort;
  }

  get total(): number {
    return this._total;
  }

  /** Sort by `column` (a click on its header does this). */
  async sortBy(column: RunSort): Promise<void> {
    this._sort = nextSort(this._sort, column);
    this._offset = 0;
    await this.refresh();
  }

  async refresh(): Promise<void> {
    const ticket = ++this._ticket;
    const query = tableQuery(
      this.filter,
      {
        state: this._state.value,
        kind: this._kind.value,
        trigger: this._trigger.value,
        target: this._target.value
      },
      this._sort,
      { limit: this.pageSize, offset: this._offset }
    );
    let page: IPage<IRunItem>;
    try {
      page = await runsTable(this.service, query);
    } catch (error) {
      if (ticket === this._ticket) {
        this._status.textContent = (error as Error).message;
        this._status.dataset.state = 'error';
      }
      throw error;
    }
    if (ticket !== this._ticket) {
      return;
    }
    this._items = page.items;
    this._total = page.total;
    this._render();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    void this._poll.refresh();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this._poll.refresh();
  }

  private _toolbar(): HTMLElement {
    const bar = document.createElement('div');
    bar.className = 'jp-omega-runs-toolbar';
    const reload = () => {
      this._offset = 0;
      void this.refresh().catch(() => undefined);
    };
    const select = (el: HTMLSelectElement, label: string, choices: [string, string][]) => {
      el.className = 'jp-omega-runs-filter';
      el.setAttribute('aria-label', label);
      el.title = label;
      for (const [value, text] of choices) {
        el.append(new Option(text, value));
      }
      el.addEventListener('change', reload);
      bar.append(el);
    };
    if (!this.filter.target && !this.filter.group) {
      this._target.type = 'search';
      this._target.className = 'jp-omega-runs-target';
      this._target.placeholder = 'Target (exact name)';
      this._target.setAttribute('aria-label', 'Show the runs of this target');
      let timer = 0;
      this._target.addEventListener('input', () => {
        window.clearTimeout(timer);
        timer = window.setTimeout(reload, 300);
      });
      bar.append(this._target);
    }
    select(this._state, 'Show runs in this state', STATES);
    if (!this.filter.kind) {
      select(this._kind, 'Show runs of this kind', KINDS);
    }
    if (!this.filter.group) {
      select(this._trigger, 'Show runs started this way', TRIGGERS);
    }
    const refresh = document.createElement('button');
    refresh.className = 'jp-Button jp-mod-styled jp-mod-reject jp-omega-runs-refresh';
    refresh.textContent = 'Refresh';
    refresh.addEventListener('click', () => void this.refresh().catch(() => undefined));
    bar.append(refresh);
    const { target, kind } = this.filter;
    if (target && (kind === 'job' || kind === 'script')) {
      const run = document.createElement('button');
      run.className = 'jp-Button jp-mod-styled jp-mod-accept jp-omega-runs-run-now';
      run.textContent = 'Run now…';
      run.title = `Run ${target} now, with parameters`;
      run.addEventListener(
        'click',
        () =>
          void this.actions
            .runNow(kind, target)
            .then(() => this.refresh())
            .catch(() => undefined)
      );
      bar.append(run);
    }
    bar.append(this._pager);
    this._pager.className = 'jp-omega-runs-pager';
    return bar;
  }

  private _tableBox(): HTMLElement {
    const box = document.createElement('div');
    box.className = 'jp-omega-runs-table-box';
    const table = document.createElement('table');
    table.className = 'jp-omega-runs-table';
    const head = document.createElement('thead');
    const row = document.createElement('tr');
    for (const column of COLUMNS) {
      const th = document.createElement('th');
      th.dataset.column = column.id;
      if (column.sort) {
        const sort = column.sort;
        const button = document.createElement('button');
        button.className = 'jp-omega-runs-sort';
        button.textContent = column.label;
        button.title = `Sort by ${column.label.toLowerCase()}`;
        button.addEventListener('click', () => void this.sortBy(sort).catch(() => undefined));
        th.append(button);
      } else {
        th.textContent = column.label;
      }
      row.append(th);
    }
    head.append(row);
    table.append(head, this._body);
    box.append(table);
    this._head = head;
    return box;
  }

  private _render(): void {
    for (const th of Array.from(this._head.querySelectorAll<HTMLElement>('th'))) {
      const column = COLUMNS.find(c => c.id === th.dataset.column);
      const sorted = column?.sort === this._sort.sort;
      th.setAttribute(
        'aria-sort',
        sorted ? (this._sort.order === 'asc' ? 'ascending' : 'descending') : 'none'
      );
      th.classList.toggle('jp-mod-sorted', sorted);
    }
    const first = this._items.length ? this._offset + 1 : 0;
    const last = this._offset + this._items.length;
    this._status.textContent = this._total
      ? `${first}–${last} of ${this._total} runs`
      : 'no runs match';
    delete this._status.dataset.state;
    this._renderPager();
    this._body.replaceChildren(...this._items.map(run => this._row(run)));
  }

  private _renderPager(): void {
    const button = (text: string, title: string, enabled: boolean, offset: number) => {
      const b = document.createElement('button');
      b.className = 'jp-Button jp-mod-styled jp-mod-reject jp-omega-runs-page';
      b.textContent = text;
      b.title = title;
      b.disabled = !enabled;
      b.addEventListener('click', () => {
        this._offset = offset;
        void this.refresh().catch(() => undefined);
      });
      return b;
    };
    this._pager.replaceChildren(
      button(
        '‹ Newer',
        'previous page',
        this._offset > 0,
        Math.max(0, this._offset - this.pageSize)
      ),
      button(
        'Older ›',
        'next page',
        this._offset + this.pageSize < this._total,
        this._offset + this.pageSize
      )
    );
  }

  private _row(run: IRunItem): HTMLTableRowElement {
    const tr = document.createElement('tr');
    tr.dataset.run = run.id;
    tr.dataset.state = run.state;
    tr.tabIndex = 0;
    const version = run.target_version ? ` v${run.target_version}` : '';
    const duration = formatDuration(runDuration(run));
    const cells: Record<string, string> = {
      target: `${run.target}${version}`,
      action: runAction(run),
      trigger: triggerLabel(run.trigger),
      parameters: parametersText(run.parameters as Record<string, unknown> | null),
      started: shortTime(run.started) || '—',
      duration: duration ? `${duration}${run.finished ? '' : ' …'}` : '—',
      state: run.state,
      attempt: String(run.attempt ?? 0)
    };
    const titles: Record<string, string> = {
      target: `${run.kind} ${run.target}${version} — run ${run.id}`,
      started: formatTime(run.started) || `submitted ${formatTime(run.submitted)}`,
      state: run.error ? `${run.state}: ${run.error}` : run.state,
      parameters: JSON.stringify(run.parameters ?? {}, null, 1)
    };
    for (const column of COLUMNS) {
      const td = document.createElement('td');
      td.dataset.column = column.id;
      if (column.id === 'actions') {
        td.append(...this._buttons(run));
      } else {
        td.textContent = cells[column.id] ?? '';
        td.title = titles[column.id] ?? td.textContent;
      }
      tr.append(td);
    }
    tr.addEventListener('dblclick', () => void this.actions.open(run));
    tr.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        void this.actions.open(run);
      }
    });
    return tr;
  }

  private _buttons(run: IRunItem): HTMLButtonElement[] {
    const make = (label: string, title: string, act: () => unknown, enabled = true) => {
      const b = document.createElement('button');
      b.className = 'jp-Button jp-mod-minimal jp-omega-runs-action';
      b.dataset.action = label.toLowerCase();
      b.textContent = label;
      b.title = title;
      b.disabled = !enabled;
      b.addEventListener('click', event => {
        event.stopPropagation();
        void Promise.resolve(act())
          .then(() => this.refresh())
          .catch(() => undefined);
      });
      return b;
    };
    const notebook = run.kind === 'job';
    const rerunnable = run.kind === 'job' || run.kind === 'script';
    const buttons = [
      make('Open', 'Open the result (the executed notebook of a notebook run)', () =>
        this.actions.open(run)
      ),
      make(
        'Rerun',
        rerunnable
          ? 'Run it again with the same parameters'
          : 'Model actions are run again from the model',
        () => this.actions.rerun(run),
        rerunnable
      )
    ];
    if (!isFinal(run.state)) {
      buttons.push(make('Cancel', 'Cancel this run', () => this.actions.cancel(run)));
    }
    if (notebook && isFinal(run.state) && run.state !== 'cancelled') {
      buttons.push(
        make('HTML', 'Download the executed notebook as HTML', () => this.actions.exportHtml(run))
      );
    }
    return buttons;
  }

  private _items: IRunItem[] = [];
  private _total = 0;
  private _offset = 0;
  private _ticket = 0;
  private _sort: ISortState = { sort: 'started', order: 'desc' };
  private _state = document.createElement('select');
  private _kind = document.createElement('select');
  private _trigger = document.createElement('select');
  private _target = document.createElement('input');
  private _status = document.createElement('div');
  private _pager = document.createElement('span');
  private _body = document.createElement('tbody');
  private _head!: HTMLElement;
  private _poll: Poll;
}
