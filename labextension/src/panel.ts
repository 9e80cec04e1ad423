/**
 * The omega side panel: a search box, a refresh button and one Section per store plus Runs,
 * refreshed by a Poll that backs off on errors and stands by while the panel is hidden.
 */
import { Poll } from '@lumino/polling';
import { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';
import { refreshIcon, searchIcon } from '@jupyterlab/ui-components';

import { AppsSection } from './appsection';
import { AppsApi, IAppStatus, appView } from './appsapi';
import { ExperimentApi, IExperiment } from './experiments';
import { ExperimentsSection, experimentView } from './expsection';
import { formatBytes, formatDuration, formatTime, runDuration, runProgress } from './format';
import { groupView } from './groups';
import { SectionModel } from './model';
import { collapsedRuns, isGroup, PanelRun } from './runsapi';
import { Section, IItemView, ISectionOptions } from './section';
import type { IObjectSummary, IRun, OmegaService, StoreName } from './service';

export type SectionId = StoreName | 'runs' | 'experiments' | 'apps';

export const SECTION_LABELS: Record<SectionId, string> = {
  datasets: 'Datasets',
  models: 'Models',
  jobs: 'Notebooks',
  scripts: 'Scripts',
  runs: 'Runs',
  experiments: 'Experiments',
  apps: 'Apps'
};

/** Tooltips of section titles, where the label is not the store's word (see docs/glossary.md). */
export const SECTION_HINTS: Partial<Record<SectionId, string>> = {
  jobs: 'Jobs: notebooks kept in the omega store (om.jobs, om jobs, /api/v1/jobs)'
};

export interface IPanelOptions {
  service: OmegaService;
  /** Seconds between automatic refreshes (0 turns them off). */
  refreshInterval: number;
  pageSize?: number;
  onActivate: (section: SectionId, key: string) => void;
  onDragStart?: (section: SectionId, key: string, event: MouseEvent) => void;
  /** Open the Runs view in the main area (a button beside the Runs filters). */
  onOpenRunsView?: () => void;
  /** A button of an app's row: 'open', 'start', 'stop', 'restart' or 'logs'. */
  onAppButton?: (what: string, name: string) => void;
}

function objectView(item: IObjectSummary): IItemView {
  const parts = [`v${item.version}`];
  if (typeof item.rows === 'number') {
    parts.push(`${item.rows.toLocaleString()} rows`);
  }
  const size = formatBytes(item.size);
  if (size) {
    parts.push(size);
  }
  const lines = [
    item.name,
    `${item.kind}, version ${item.version}`,
    `modified ${formatTime(item.modified)}`
  ];
  const schedule = item.schedule;
  if (schedule) {
    lines.push(
      schedule.paused
        ? `schedule: ${schedule.description} (paused)`
        : `schedule: ${schedule.description}, next ${formatTime(schedule.next_due)}`
    );
  }
  return {
    key: item.name,
    label: item.name,
    detail: parts.join(' · '),
    title: lines.join('\n'),
    badge: schedule ? (schedule.paused ? 'paused' : 'scheduled') : undefined
  };
}

/** What a run did, in a word: notebook, script, or the model action (fit, predict …). */
export function runAction(run: IRun): string {
  if (run.kind === 'job' || run.kind === 'notebook') {
    return 'notebook';
  }
  if (run.kind === 'script') {
    return 'script';
  }
  return run.action || run.kind;
}

export function runView(run: IRun): IItemView {
  const progress = runProgress(run);
  const duration = formatDuration(runDuration(run));
  const version = run.target_version ? ` v${run.target_version}` : '';
  const action = runAction(run);
  const detail = [action, run.trigger, run.state, progress, duration].filter(Boolean).join(' · ');
  const lines = [
    `${run.target}${version}`,
    `${action} (${run.kind} ${run.action}), triggered by ${run.trigger}`,
    `state: ${run.state}${progress ? `, ${progress}` : ''}`,
    `submitted ${formatTime(run.submitted)}`
  ];
  if (run.started) {
    lines.push(`started ${formatTime(run.started)}`);
  }
  if (run.finished) {
    lines.push(`finished ${formatTime(run.finished)}`);
  }
  if (duration) {
    lines.push(`duration ${duration}${run.finished ? '' : ' so far'}`);
  }
  if (run.attempt && run.attempt > 1) {
    lines.push(`attempt ${run.attempt}`);
  }
  if (run.error) {
    lines.push(`error: ${run.error}`);
  }
  lines.push(`run ${run.id}`);
  return {
    key: run.id,
    label: `${run.target}${version}`,
    detail,
    title: lines.join('\n'),
    state: run.state
  };
}

/** The choices of the Runs section's filters: [value sent to the server, label]. */
export const RUN_STATE_FILTERS: [string, string][] = [
  ['', 'any state'],
  ['queued', 'queued'],
  ['running', 'running'],
  ['succeeded', 'succeeded'],
  ['failed', 'failed'],
  ['cancelled', 'cancelled']
];
export const RUN_KIND_FILTERS: [string, string][] = [
  ['', 'any kind'],
  ['job', 'notebooks'],
  ['script', 'scripts'],
  ['model', 'models (fit, predict …)']
];

export class OmegaPanel extends Panel {
  constructor(readonly options: IPanelOptions) {
    super();
    this.id = 'omega-jupyter-panel';
    this.addClass('jp-omega-panel');
    this.addWidget(this._toolbar());
    const banner = new Widget({ node: this._banner });
    banner.addClass('jp-omega-banner');
    this._banner.setAttribute('role', 'alert');
    this._banner.hidden = true;
    this.addWidget(banner);
    const pageSize = options.pageSize ?? 50;
    const service = options.service;
    for (const id of ['datasets', 'models', 'jobs', 'scripts'] as StoreName[]) {
      const model = new SectionModel<IObjectSummary>(q => service.list(id, q), pageSize);
      this._add(id, model, objectView);
    }
    // Runs outside groups, and one expandable row per run group (groups.ts).
    const runs: SectionModel<PanelRun> = new SectionModel<PanelRun>(
      q =>
        collapsedRuns(service, {
          limit: q.limit,
          offset: q.offset,
          // The search box: runs whose target contains the text typed.
          search: runs.search.trim() || undefined,
          state: this._runFilters.state.value || undefined,
          kind: this._runFilters.kind.value || undefined
        }),
      pageSize
    );
    const view = (item: PanelRun) =>
      isGroup(item)
        ? groupView(item, {
            expanded: this._expanded.has(item.id),
            onToggle: id => {
              if (!this._expanded.delete(id)) {
                this._expanded.add(id);
              }
              this.section('runs').render();
            },
            onOpenMember: id => this.options.onActivate('runs', id)
          })
        : runView(item);
    this._add('runs', runs, view, this._runFilterBar(runs));
    const experiments = new ExperimentApi(service.settings);
    this._add(
      'experiments',
      new SectionModel<IExperiment>(q => experiments.list(q), pageSize),
      experimentView,
      undefined,
      options => new ExperimentsSection(options, experiments)
    );
    const apps = new AppsApi(service.settings);
    this._add(
      'apps',
      new SectionModel<IAppStatus>(q => apps.list(q), pageSize),
      appView,
      undefined,
      options => new AppsSection(options, (what, name) => this.options.onAppButton?.(what, name))
    );
    this._poll = new Poll({
      factory: () => this.refresh(),
      frequency: {
        interval: Math.max(1, options.refreshInterval || 1) * 1000,
        backoff: true,
        max: 5 * 60 * 1000
      },
      name: 'omega_jupyter:panel',
      standby: () => this.isHidden || !this.isAttached || 'when-hidden',
      auto: false
    });
    this.setRefreshInterval(options.refreshInterval);
  }

  get sections(): ReadonlyMap<SectionId, Section<unknown>> {
    return this._sections;
  }

  /** The item last clicked or right-clicked, in any section. */
  get lastSelected(): { store: SectionId; name: string } | null {
    return this._lastSelected;
  }

  section(id: SectionId): Section<unknown> {
    return this._sections.get(id)!;
  }

  /**
   * Refresh the open sections (all of them with `all`) and the counts of the closed ones (one
   * item asked for); rejects when any fails.
   */
  async refresh(all = false): Promise<void> {
    const sections = [...this._sections.values()];
    const results = await Promise.allSettled(
      sections.map(s => (all || s.isOpen ? s.model.refresh() : s.model.refreshCount()))
    );
    const failed = results.find(r => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) {
      throw failed.reason;
    }
  }

  setRefreshInterval(seconds: number): void {
    if (seconds > 0) {
      this._poll.frequency = {
        interval: seconds * 1000,
        backoff: true,
        max: Math.max(seconds * 1000, 5 * 60 * 1000)
      };
      void this._poll.start();
    } else {
      void this._poll.stop();
    }
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
    // Section headers stick below the search box, whatever its height.
    const toolbar = this.widgets[0]?.node;
    if (toolbar && typeof ResizeObserver !== 'undefined') {
      this._toolbarSize = new ResizeObserver(() => {
        this.node.style.setProperty('--jp-omega-toolbar-height', `${toolbar.offsetHeight}px`);
      });
      this._toolbarSize.observe(toolbar);
    }
  }

  protected onBeforeDetach(msg: Message): void {
    this._toolbarSize?.disconnect();
    this._toolbarSize = null;
    super.onBeforeDetach(msg);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this._poll.refresh();
  }

  /** Filters of the Runs section: by state and by kind; a change goes back to page one. */
  get runFilters(): { state: HTMLSelectElement; kind: HTMLSelectElement } {
    return this._runFilters;
  }

  private _runFilterBar(model: SectionModel<PanelRun>): HTMLElement {
    const bar = document.createElement('div');
    bar.className = 'jp-omega-filters';
    const make = (select: HTMLSelectElement, label: string, choices: [string, string][]) => {
      select.className = 'jp-omega-filter';
      select.setAttribute('aria-label', label);
      select.title = label;
      for (const [value, text] of choices) {
        select.append(new Option(text, value));
      }
      select.addEventListener('change', () => void model.reset().catch(() => undefined));
      bar.append(select);
    };
    make(this._runFilters.state, 'Show runs in this state', RUN_STATE_FILTERS);
    make(this._runFilters.kind, 'Show runs of this kind', RUN_KIND_FILTERS);
    if (this.options.onOpenRunsView) {
      const open = document.createElement('button');
      open.className = 'jp-omega-open-runs-view jp-Button jp-mod-minimal';
      open.textContent = 'Table ↗';
      open.title = 'Open the Runs view: every run in a table (sort, filter, rerun)';
      open.addEventListener('click', () => this.options.onOpenRunsView?.());
      bar.append(open);
    }
    return bar;
  }

  private _add<T>(
    id: SectionId,
    model: SectionModel<T>,
    view: (item: T) => IItemView,
    filters?: HTMLElement,
    make: (options: ISectionOptions<T>) => Section<T> = options => new Section<T>(options)
  ): void {
    const section = make({
      filters,
      id,
      label: SECTION_LABELS[id],
      hint: SECTION_HINTS[id],
      model,
      view,
      open: id === 'datasets',
      onActivate: (_s, key) => this.options.onActivate(id, key),
      onSelect: (_s, key) => {
        this._lastSelected = { store: id, name: key };
        // One selection in the whole panel: what the context menu acts on.
        for (const [other, section] of this._sections) {
          if (other !== id) {
            section.clearSelection();
          }
        }
      },
      onDragStart: (_s, key, event) => this.options.onDragStart?.(id, key, event)
    });
    this._sections.set(id, section as Section<unknown>);
    this.addWidget(section);
    model.changed.connect(this._updateBanner, this);
  }

  /**
   * An error shared by several sections (the database is down, the server is gone) is said
   * once, in the banner above them; an error of one section alone stays in that section.
   */
  private _updateBanner(): void {
    const counts = new Map<string, number>();
    for (const section of this._sections.values()) {
      const error = section.model.error;
      if (error) {
        counts.set(error, (counts.get(error) ?? 0) + 1);
      }
    }
    const shared = [...counts].filter(([, n]) => n > 1).map(([message]) => message);
    for (const section of this._sections.values()) {
      const error = section.model.error;
      section.setErrorShownAbove(error !== null && shared.includes(error));
    }
    this._banner.textContent = shared.join('\n');
    this._banner.hidden = !shared.length;
  }

  private _toolbar(): Widget {
    const bar = new Widget();
    bar.addClass('jp-omega-toolbar');
    const box = document.createElement('div');
    box.className = 'jp-omega-search';
    const icon = searchIcon.element({ className: 'jp-omega-search-icon' });
    const input = document.createElement('input');
    input.type = 'search';
    input.placeholder = 'Search names';
    input.setAttribute('aria-label', 'Search omega objects by name');
    input.className = 'jp-omega-search-input';
    let timer = 0;
    input.addEventListener('input', () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => {
        for (const section of this._sections.values()) {
          const model = section.model;
          if (section.isOpen) {
            void model.setSearch(input.value).catch(() => undefined);
          } else if (model.search !== input.value) {
            // A closed section updates its count to what matches.
            model.search = input.value;
            void model.refreshCount().catch(() => undefined);
          }
        }
      }, 250);
    });
    box.append(icon, input);
    const refresh = document.createElement('button');
    refresh.className = 'jp-omega-refresh jp-Button jp-mod-minimal';
    refresh.title = 'Refresh';
    refresh.setAttribute('aria-label', 'Refresh');
    refresh.append(refreshIcon.element());
    refresh.addEventListener('click', () => void this.refresh(true).catch(() => undefined));
    bar.node.append(box, refresh);
    return bar;
  }

  private _sections = new Map<SectionId, Section<unknown>>();
  private _toolbarSize: ResizeObserver | null = null;
  private _banner = document.createElement('div');
  private _poll: Poll;
  private _lastSelected: { store: SectionId; name: string } | null = null;
  private _expanded = new Set<string>();
  private _runFilters = {
    state: document.createElement('select'),
    kind: document.createElement('select')
  };
}
