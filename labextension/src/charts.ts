/**
 * Vega-Lite specs of the panel's chart tabs, built from what the REST API answers (no DOM
 * here; chartview.ts draws them with JupyterLab's own renderer). Experiments: a metric over
 * the steps of each run (a line per run, overlaid) or, when each run logged it once, across
 * runs (a bar per run). A model's drift chart (monitoring) gets its spec builder here too.
 */
import type { IExperimentEvent } from './experiments';

export const VEGALITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

/** One value of a metric as charted: `step` filled in where the run logged none. */
export interface IMetricPoint {
  run: number;
  step: number;
  value: number;
  dt: string;
}

/**
 * The numeric values of metric events, by run then step. A value logged without a step takes
 * its place among the run's values (0, 1, … in logging order), as `exp.chart()` does in Python.
 * Values that are not finite numbers (text, NaN) are left out.
 */
export function metricPoints(events: readonly IExperimentEvent[]): IMetricPoint[] {
  const seen = new Map<number, number>();
  const points: IMetricPoint[] = [];
  for (const event of events) {
    if (event.run === null || event.run === undefined) {
      continue;
    }
    const index = seen.get(event.run) ?? 0;
    seen.set(event.run, index + 1);
    const value = event.value;
    if (typeof value !== 'number' || !isFinite(value)) {
      continue;
    }
    const step = typeof event.step === 'number' ? event.step : index;
    points.push({ run: event.run, step, value, dt: event.dt });
  }
  return points.sort((a, b) => a.run - b.run || a.step - b.step);
}

/** How a metric is charted: over steps when some run logged it more than once. */
export function metricChartKind(points: readonly IMetricPoint[]): 'steps' | 'runs' {
  const counts = new Map<number, number>();
  for (const point of points) {
    const n = (counts.get(point.run) ?? 0) + 1;
    if (n > 1) {
      return 'steps';
    }
    counts.set(point.run, n);
  }
  return 'runs';
}

/** `run 2`, `runs 1, 3`, `runs 1–4` (consecutive), or '' for none. */
export function runsText(runs: readonly number[]): string {
  const sorted = [...new Set(runs)].sort((a, b) => a - b);
  if (!sorted.length) {
    return '';
  }
  if (sorted.length === 1) {
    return `run ${sorted[0]}`;
  }
  const consecutive = sorted.every((r, i) => i === 0 || r === sorted[i - 1] + 1);
  if (consecutive && sorted.length > 2) {
    return `runs ${sorted[0]}–${sorted[sorted.length - 1]}`;
  }
  return `runs ${sorted.join(', ')}`;
}

/** The title of a metric chart and its tab: `iris · accuracy · runs 1, 2`. */
export function metricTitle(experiment: string, metric: string, runs: readonly number[]): string {
  const which = runsText(runs);
  return [experiment, metric, which].filter(Boolean).join(' · ');
}

/**
 * The label of a chart's tab, short enough for a tab: `iris · accuracy` for runs overlaid,
 * `iris run 2 · accuracy` for one run (the full title is the tab's tooltip).
 */
export function metricTabLabel(
  experiment: string,
  metric: string,
  runs: readonly number[]
): string {
  const which = runs.length === 1 ? `${experiment} run ${runs[0]}` : experiment;
  return metric ? `${which} · ${metric}` : which;
}

export interface IMetricSpecOptions {
  experiment: string;
  metric: string;
  /** The runs asked for (a run without values still counts in the title). */
  runs: readonly number[];
  width?: number;
  height?: number;
}

/**
 * The Vega-Lite spec of `points` of one metric: a line per run over steps (several runs
 * overlaid, one colour each, points marked, a tooltip per value), or a bar per run when each
 * run has one value. Null when there is nothing to draw.
 */
export function metricSpec(
  points: readonly IMetricPoint[],
  options: IMetricSpecOptions
): Record<string, unknown> | null {
  if (!points.length) {
    return null;
  }
  const { experiment, metric } = options;
  const runs = options.runs.length ? options.runs : points.map(p => p.run);
  const base = {
    $schema: VEGALITE_SCHEMA,
    title: metricTitle(experiment, metric, runs),
    width: options.width ?? 600,
    height: options.height ?? 320,
    data: { values: points.map(p => ({ ...p })) }
  };
  const value = { field: 'value', type: 'quantitative', title: metric, scale: { zero: false } };
  const tooltip = [
    { field: 'run', type: 'ordinal', title: 'run' },
    { field: 'step', type: 'quantitative', title: 'step' },
    { field: 'value', type: 'quantitative', title: metric, format: '.4~g' },
    { field: 'dt', type: 'temporal', title: 'logged', format: '%Y-%m-%d %H:%M:%S' }
  ];
  if (metricChartKind(points) === 'runs') {
    return {
      ...base,
      mark: { type: 'bar', tooltip: true },
      encoding: {
        x: { field: 'run', type: 'ordinal', title: 'run', axis: { labelAngle: 0 } },
        y: { ...value, scale: { zero: true } },
        tooltip
      }
    };
  }
  return {
    ...base,
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: {
        field: 'step',
        type: 'quantitative',
        title: 'step',
        axis: { tickMinStep: 1, format: 'd' }
      },
      y: value,
      color: { field: 'run', type: 'nominal', title: 'run' },
      tooltip
    }
  };
}
