/**
 * The drift tab of a tracked model ("Drift · <model>"): each feature's drift over time (the
 * server's Vega-Lite spec of GET models/{name}/monitor/plot, drawn by ChartView) with a
 * measure picker, the monitor's snapshots and scheduled check in a line, and a table of the
 * latest logged comparison's verdict per feature. An untracked model, a monitor without a
 * baseline and one that compared nothing yet each say so in the tab.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { refreshIcon } from '@jupyterlab/ui-components';

import { ChartView, openChartTab } from './chartview';
import {
  DRIFT_MEASURES,
  comparisonsText,
  DriftApi,
  DriftMeasure,
  IDriftRecord,
  driftNumber,
  driftTabId,
  latestBaseline,
  latestComparison,
  monitorSummary,
  noBaselineText,
  noComparisonText,
  sizedSpec
} from './drift';
import { formatTime } from './format';

export class DriftChart extends ChartView {
  constructor(
    readonly model: string,
    private readonly api: DriftApi,
    rendermime: IRenderMimeRegistry | null
  ) {
    super(rendermime);
    this.addClass('jp-omega-driftchart');
    this.node.dataset.model = model;
    this.setHeading(`Drift of ${model}`);
    const label = document.createElement('label');
    label.className = 'jp-omega-chartview-picker';
    label.append('Measure ');
    this._picker.className = 'jp-omega-drift-measure';
    this._picker.setAttribute('aria-label', 'Measure');
    this._picker.append(...DRIFT_MEASURES.map(m => new Option(m, m, false, m === this._measure)));
    this._picker.addEventListener(
      'change',
      () => void this.setMeasure(this._picker.value as DriftMeasure)
    );
    label.append(this._picker);
    const reload = document.createElement('button');
    reload.className = 'jp-Button jp-mod-minimal jp-omega-drift-reload';
    reload.title = 'Reload the snapshots and comparisons';
    reload.setAttribute('aria-label', 'Reload');
    reload.append(refreshIcon.element());
    reload.addEventListener('click', () => void this.load());
    this._summary.className = 'jp-omega-drift-summary';
    this.controls.append(label, reload, this._summary);
    this._latest.className = 'jp-omega-drift-latest';
    this.node.append(this._latest);
  }

  get measure(): DriftMeasure {
    return this._measure;
  }

  /** Fetch the monitor and its history, fill the table and draw the chart. */
  async load(): Promise<void> {
    this.setStatus('loading …');
    this._picker.disabled = true;
    this._compared = false;
    try {
      const monitor = await this.api.monitor(this.model);
      if (this.isDisposed) {
        return;
      }
      this._summary.textContent = monitorSummary(monitor);
      if (!latestBaseline(monitor)) {
        this._latest.replaceChildren();
        this.setStatus('');
        await this.draw(null, noBaselineText(this.model));
        return;
      }
      const history = await this.api.history(this.model);
      if (this.isDisposed) {
        return;
      }
      if (!history.length) {
        this._latest.replaceChildren();
        this.setStatus('');
        await this.draw(null, noComparisonText(this.model));
        return;
      }
      this._renderLatest(latestComparison(history));
      this._compared = true;
      this._picker.disabled = false;
      await this.update();
    } catch (error) {
      // An untracked model: the server's 404 says so (and how to track it).
      this._summary.textContent = '';
      this._latest.replaceChildren();
      this.setStatus('');
      await this.draw(null, (error as Error).message);
    }
  }

  /** Chart another measure. */
  async setMeasure(measure: DriftMeasure): Promise<void> {
    this._measure = measure;
    if (this._picker.value !== measure) {
      this._picker.value = measure;
    }
    await this.update();
  }

  /** Fetch the chart of the measure and draw it. */
  async update(): Promise<void> {
    if (!this._compared) {
      return;
    }
    const ticket = ++this._plotTicket;
    this.setStatus('loading …');
    try {
      const spec = await this.api.plot(this.model, this._measure);
      if (ticket !== this._plotTicket || this.isDisposed) {
        return;
      }
      const data = spec.data as { values?: { dt?: unknown; feature?: unknown }[] } | undefined;
      this.setStatus(comparisonsText(data?.values ?? []));
      await this.draw(sizedSpec(spec, this.chartWidth));
    } catch (error) {
      if (ticket === this._plotTicket) {
        this.setStatus((error as Error).message, true);
      }
    }
  }

  private _renderLatest(records: IDriftRecord[]): void {
    const heading = document.createElement('h3');
    const drifted = records.filter(r => r.drift).map(r => r.feature);
    const when = records.length ? formatTime(records[0].dt) : '';
    heading.textContent = `Latest comparison, ${when}: ${
      drifted.length ? `drift in ${drifted.join(', ')}` : 'no drift'
    }`;
    const table = document.createElement('table');
    table.className = 'jp-omega-view-table jp-omega-drift-table';
    const head = table.createTHead().insertRow();
    for (const h of ['Feature', 'Test', 'Statistic', 'p-value', 'PSI', 'Drifted']) {
      const th = document.createElement('th');
      th.textContent = h;
      head.append(th);
    }
    const body = table.createTBody();
    for (const r of records) {
      const tr = body.insertRow();
      tr.dataset.feature = r.feature;
      tr.classList.toggle('jp-omega-drift-yes', r.drift);
      tr.insertCell().textContent = r.feature;
      tr.insertCell().textContent = r.test;
      for (const value of [r.statistic, r.pvalue, r.psi]) {
        const td = tr.insertCell();
        td.className = 'jp-omega-num';
        td.textContent = driftNumber(value);
      }
      const verdict = tr.insertCell();
      verdict.className = 'jp-omega-drift-verdict';
      verdict.textContent = r.drift ? 'drifted' : 'no';
    }
    this._latest.replaceChildren(heading, table);
  }

  private _picker = document.createElement('select');
  private _summary = document.createElement('span');
  private _latest = document.createElement('div');
  private _measure: DriftMeasure = 'statistic';
  private _compared = false;
  private _plotTicket = 0;
}

/** Open the drift tab of `model` (or bring its tab forward and reload it). */
export async function openDriftChart(
  app: JupyterFrontEnd,
  api: DriftApi,
  rendermime: IRenderMimeRegistry | null,
  model: string
): Promise<MainAreaWidget<DriftChart>> {
  const label = `Drift · ${model}`;
  const tab = openChartTab(app, driftTabId(model), new DriftChart(model, api, rendermime), label);
  tab.title.caption = `omega drift monitor of model ${model}`;
  await tab.content.load();
  return tab;
}
