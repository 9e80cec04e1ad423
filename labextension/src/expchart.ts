/**
 * The chart tab of an experiment: one metric over the steps of the chosen runs (overlaid, a
 * colour per run) or across runs (a bar per run when each logged it once). A picker chooses
 * the metric, checkboxes the runs; the values of every chosen run come in one request
 * (GET experiments/{name}/data?event=metric&key=…&run=1,2).
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { refreshIcon } from '@jupyterlab/ui-components';

import { metricPoints, metricSpec, metricTabLabel, metricTitle } from './charts';
import { ChartView, openChartTab } from './chartview';
import {
  DATA_LIMIT,
  ExperimentApi,
  IExperimentRun,
  IExperimentTarget,
  metricNames,
  runMetrics
} from './experiments';

/** Runs an experiment chart shows at first when it opens on every run: the latest ones. */
export const FIRST_RUNS = 10;

/** The runs a chart of `target` starts with. */
export function initialRuns(target: IExperimentTarget, runs: readonly IExperimentRun[]): number[] {
  if (target.run !== null) {
    return [target.run];
  }
  return runs.map(r => r.run).slice(-FIRST_RUNS);
}

/** Whether `run` logged `metric` (its last value is in the run table). */
function hasMetric(run: IExperimentRun, metric: string): boolean {
  return runMetrics(run).some(([key]) => key === metric);
}

export interface IMetricChartOptions {
  api: ExperimentApi;
  target: IExperimentTarget;
  rendermime: IRenderMimeRegistry | null;
  /** Told the chart's title and a short label whenever they change (for the tab). */
  onTitle?: (title: string, label: string) => void;
}

export class MetricChart extends ChartView {
  constructor(private readonly options: IMetricChartOptions) {
    super(options.rendermime);
    this.addClass('jp-omega-expchart');
    this.node.dataset.experiment = options.target.experiment;
    this._metric = options.target.metric ?? '';
    const label = document.createElement('label');
    label.className = 'jp-omega-chartview-picker';
    label.append('Metric ');
    this._picker.className = 'jp-omega-expchart-metric';
    this._picker.setAttribute('aria-label', 'Metric');
    this._picker.addEventListener('change', () => void this.setMetric(this._picker.value));
    label.append(this._picker);
    this._runBoxes.className = 'jp-omega-expchart-runs';
    this._runBoxes.setAttribute('role', 'group');
    this._runBoxes.setAttribute('aria-label', 'Runs shown');
    const reload = document.createElement('button');
    reload.className = 'jp-Button jp-mod-minimal jp-omega-expchart-reload';
    reload.title = 'Reload the runs and values';
    reload.setAttribute('aria-label', 'Reload');
    reload.append(refreshIcon.element());
    reload.addEventListener('click', () => void this.load());
    this.controls.append(label, this._runBoxes, reload);
    this.setHeading(options.target.experiment);
  }

  get metric(): string {
    return this._metric;
  }

  /** The runs chosen, ascending. */
  get selectedRuns(): number[] {
    return [...this._selected].sort((a, b) => a - b);
  }

  /** The chart's title (and its tab's label): experiment, metric, runs. */
  get chartTitle(): string {
    return this._title;
  }

  /** Fetch the runs (params, metrics), fill the pickers and draw. */
  async load(): Promise<void> {
    const { api, target } = this.options;
    this.setStatus('loading …');
    let runs: IExperimentRun[];
    try {
      runs = await api.runs(target.experiment);
    } catch (error) {
      this.setStatus((error as Error).message, true);
      return;
    }
    if (this.isDisposed) {
      return;
    }
    const first = !this._runs.length;
    this._runs = runs;
    if (first) {
      this._selected = new Set(initialRuns(target, runs));
    }
    const metrics = metricNames(runs, first ? this.selectedRuns : undefined);
    const all = metricNames(runs);
    if (!all.includes(this._metric)) {
      this._metric = metrics[0] ?? all[0] ?? '';
    }
    this._picker.replaceChildren(...all.map(m => new Option(m, m, false, m === this._metric)));
    this._picker.disabled = !all.length;
    this._renderRunBoxes();
    await this.update();
  }

  /** Chart another metric (one the runs logged). */
  async setMetric(metric: string): Promise<void> {
    this._metric = metric;
    if (this._picker.value !== metric) {
      this._picker.value = metric;
    }
    this._renderRunBoxes();
    await this.update();
  }

  /** Show or hide run `run` in the chart. */
  async setRun(run: number, shown: boolean): Promise<void> {
    if (shown) {
      this._selected.add(run);
    } else {
      this._selected.delete(run);
    }
    this._renderRunBoxes();
    await this.update();
  }

  /** Fetch the values of the metric in the chosen runs and draw them. */
  async update(): Promise<void> {
    const { api, target } = this.options;
    const metric = this._metric;
    const byRun = new Map(this._runs.map(r => [r.run, r]));
    const runs = this.selectedRuns.filter(r => {
      const run = byRun.get(r);
      return run !== undefined && hasMetric(run, metric);
    });
    this._setTitle(
      metric ? metricTitle(target.experiment, metric, runs) : target.experiment,
      metricTabLabel(target.experiment, metric, runs)
    );
    if (!metric) {
      this.setStatus('');
      await this.draw(null, 'no metrics logged yet');
      return;
    }
    if (!runs.length) {
      this.setStatus('');
      await this.draw(null, `choose a run that logged ${metric}`);
      return;
    }
    const ticket = ++this._loadTicket;
    this.setStatus('loading …');
    try {
      const events = await api.metric(target.experiment, metric, runs);
      if (ticket !== this._loadTicket || this.isDisposed) {
        return;
      }
      const points = metricPoints(events);
      const spec = metricSpec(points, {
        experiment: target.experiment,
        metric,
        runs,
        width: this.chartWidth
      });
      const capped = events.length >= DATA_LIMIT ? ` (the first ${DATA_LIMIT})` : '';
      const values = points.length === 1 ? 'value' : 'values';
      this.setStatus(`${points.length.toLocaleString('en-US')} ${values}${capped}`);
      await this.draw(spec, `no numeric values of ${metric}`);
    } catch (error) {
      if (ticket === this._loadTicket) {
        this.setStatus((error as Error).message, true);
      }
    }
  }

  private _setTitle(title: string, label: string): void {
    this._title = title;
    this.setHeading(title);
    this.options.onTitle?.(title, label);
  }

  private _renderRunBoxes(): void {
    const boxes = this._runs.map(run => {
      const label = document.createElement('label');
      label.className = 'jp-omega-expchart-run';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.dataset.run = String(run.run);
      box.checked = this._selected.has(run.run);
      const logged = !this._metric || hasMetric(run, this._metric);
      box.disabled = !logged;
      label.title = logged
        ? `run ${run.run}: ${run.status}`
        : `run ${run.run} logged no ${this._metric}`;
      box.addEventListener('change', () => void this.setRun(run.run, box.checked));
      label.append(box, ` ${run.run}`);
      return label;
    });
    const title = document.createElement('span');
    title.className = 'jp-omega-expchart-runs-title';
    title.textContent = 'Runs';
    this._runBoxes.replaceChildren(title, ...boxes);
  }

  private _picker = document.createElement('select');
  private _runBoxes = document.createElement('div');
  private _runs: IExperimentRun[] = [];
  private _selected = new Set<number>();
  private _metric: string;
  private _title = '';
  private _loadTicket = 0;
}

/** The tab of an experiment's chart: one per experiment and run (or every run). */
export function chartTabId(target: IExperimentTarget): string {
  const run = target.run === null ? 'all' : String(target.run);
  return `omega-experiment-chart-${encodeURIComponent(target.experiment)}-${run}`;
}

/**
 * Open the chart of `target` in the main area (or bring its tab forward, switching it to the
 * metric asked for).
 */
export async function openExperimentChart(
  app: JupyterFrontEnd,
  api: ExperimentApi,
  rendermime: IRenderMimeRegistry | null,
  target: IExperimentTarget
): Promise<MainAreaWidget<MetricChart>> {
  const id = chartTabId(target);
  for (const widget of app.shell.widgets('main')) {
    if (widget.id === id) {
      const open = widget as MainAreaWidget<MetricChart>;
      app.shell.activateById(id);
      if (target.metric !== null && target.metric !== open.content.metric) {
        await open.content.setMetric(target.metric);
      }
      return open;
    }
  }
  let tab: MainAreaWidget<MetricChart> | null = null;
  const content = new MetricChart({
    api,
    target,
    rendermime,
    onTitle: (title, label) => {
      if (tab) {
        tab.title.label = label;
        tab.title.caption = `omega experiment chart: ${title}`;
      }
    }
  });
  const runs = target.run === null ? [] : [target.run];
  tab = openChartTab(
    app,
    id,
    content,
    metricTabLabel(target.experiment, target.metric ?? '', runs)
  );
  await content.load();
  return tab;
}
