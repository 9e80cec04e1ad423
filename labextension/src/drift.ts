/**
 * A tracked model's drift monitor as the panel sees it (no DOM here): the REST calls of
 * `/api/v1/models/{name}/monitor…`, the latest logged comparison of the history, and the
 * text the drift tab shows about the snapshots and each feature's figures.
 */
import { ServerConnection } from '@jupyterlab/services';

import { encodeName, queryString, requestAPI } from './api';
import { formatTime } from './format';

/** What the drift chart can plot over time (`?measure=` of GET …/monitor/plot). */
export const DRIFT_MEASURES = ['statistic', 'pvalue', 'psi'] as const;
export type DriftMeasure = (typeof DRIFT_MEASURES)[number];

/** One snapshot of the model's inputs (GET models/{name}/monitor). */
export interface IDriftSnapshot {
  snapshot: string;
  label: string;
  dt: string;
  rows: number;
  features: string[];
  dataset: string | null;
}

export interface IDriftMonitor {
  model: string;
  experiment: string;
  schedule: { when: string; paused: boolean; next_due?: string | null } | null;
  items: IDriftSnapshot[];
}

/** One feature of one logged comparison (GET models/{name}/monitor/history). */
export interface IDriftRecord {
  dt: string;
  feature: string;
  kind: string;
  test: string;
  statistic: number | null;
  pvalue: number | null;
  psi: number | null;
  drift: boolean;
  current?: string | null;
}

/** The REST calls of a model's drift monitor, through the panel's server settings. */
export class DriftApi {
  constructor(readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  /** The snapshots and the scheduled check (404 when the model is not tracked). */
  monitor(model: string): Promise<IDriftMonitor> {
    return requestAPI(`models/${encodeName(model)}/monitor`, {}, this.settings);
  }

  /** Every logged comparison, per feature, oldest first. */
  async history(model: string): Promise<IDriftRecord[]> {
    const answer = await requestAPI<{ items?: IDriftRecord[] }>(
      `models/${encodeName(model)}/monitor/history`,
      {},
      this.settings
    );
    return answer.items ?? [];
  }

  /** The Vega-Lite spec of each feature's `measure` over time. */
  plot(model: string, measure: DriftMeasure): Promise<Record<string, unknown>> {
    const q = queryString({ measure });
    return requestAPI(`models/${encodeName(model)}/monitor/plot${q}`, {}, this.settings);
  }
}

/**
 * The features of the latest logged comparison: the records that share the last record's
 * time and current snapshot (one `compare()` logs all its features at once), in their order.
 */
export function latestComparison(history: readonly IDriftRecord[]): IDriftRecord[] {
  if (!history.length) {
    return [];
  }
  const last = history[history.length - 1];
  return history.filter(r => r.dt === last.dt && (r.current ?? null) === (last.current ?? null));
}

/** A statistic or p-value in a table cell: 4 significant digits, tiny values as `3.2e-22`. */
export function driftNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !isFinite(value)) {
    return '—';
  }
  if (value !== 0 && Math.abs(value) < 1e-4) {
    return value.toExponential(1);
  }
  return String(Number(value.toPrecision(4)));
}

/** The baseline snapshot the comparisons use by default: the latest one labelled so. */
export function latestBaseline(monitor: IDriftMonitor): IDriftSnapshot | null {
  const baselines = monitor.items.filter(s => s.label === 'baseline');
  return baselines.length ? baselines[baselines.length - 1] : null;
}

/**
 * A line about the monitor: its experiment, snapshots, baseline and scheduled check
 * (`tracked in m-prod · 3 snapshots · baseline 2026-12-02 09:00 (2,000 rows) · checked daily`).
 */
export function monitorSummary(monitor: IDriftMonitor): string {
  const n = monitor.items.length;
  const parts = [`tracked in ${monitor.experiment}`, `${n} snapshot${n === 1 ? '' : 's'}`];
  const baseline = latestBaseline(monitor);
  if (baseline) {
    parts.push(
      `baseline ${formatTime(baseline.dt)} (${baseline.rows.toLocaleString('en-US')} rows)`
    );
  }
  if (monitor.schedule) {
    const paused = monitor.schedule.paused ? ' (paused)' : '';
    parts.push(`checked ${monitor.schedule.when}${paused}`);
  } else {
    parts.push('no scheduled check');
  }
  return parts.join(' · ');
}

/** What the tab says when there is no baseline to compare with. */
export function noBaselineText(model: string): string {
  return (
    `${model} has no baseline snapshot yet: a tracked fit takes one from its training data, ` +
    "or take one with om.runtime.model(…).monitor().snapshot(data, label='baseline')."
  );
}

/** What the tab says when nothing has been compared yet. */
export function noComparisonText(model: string): string {
  return `No drift comparison of ${model} logged yet: mon.compare() (or a scheduled check) logs one.`;
}

/** The server's chart spec sized to the tab (the spec itself sets no size). */
export function sizedSpec(
  spec: Record<string, unknown>,
  width: number,
  height = 300
): Record<string, unknown> {
  return { ...spec, width, height };
}

/** `2 comparisons · 2 features` of the chart's values (`{dt, feature, …}` items). */
export function comparisonsText(values: readonly { dt?: unknown; feature?: unknown }[]): string {
  const times = new Set(values.map(v => String(v.dt))).size;
  const features = new Set(values.map(v => String(v.feature))).size;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return `${plural(times, 'comparison')} · ${plural(features, 'feature')}`;
}

/** The tab of a model's drift chart: one per model. */
export function driftTabId(model: string): string {
  return `omega-drift-${encodeURIComponent(model)}`;
}
