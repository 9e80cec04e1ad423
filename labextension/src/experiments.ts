/**
 * Experiments as the panel sees them (no DOM here): the REST calls of
 * `/api/v1/experiments/…`, the keys of the Experiments section's rows (an experiment, one of
 * its runs, one of its metrics), the code a row inserts into a notebook, and what a run row
 * says about its params and last metrics.
 */
import { ServerConnection } from '@jupyterlab/services';

import { encodeName, queryString, requestAPI } from './api';
import type { IPage } from './service';

/** One experiment of the bucket (GET experiments). */
export interface IExperiment {
  name: string;
  /** The number of the latest run (runs are numbered 1, 2, … per experiment). */
  runs: number;
  events: number;
  /** ISO time of the latest event. */
  last: string | null;
}

/**
 * One run of an experiment (GET experiments/{name}/runs): `param.<key>` and the last value of
 * each `metric.<key>` besides the fixed fields.
 */
export interface IExperimentRun {
  run: number;
  started: string | null;
  stopped: string | null;
  status: string;
  duration: number | null;
  node?: string | null;
  userid?: string | null;
  runtime_run?: string | null;
  model?: string | null;
  model_version?: number | null;
  dataset?: string | null;
  [column: string]: unknown;
}

/** One logged event (GET experiments/{name}/data). */
export interface IExperimentEvent {
  experiment: string;
  run: number | null;
  step: number | null;
  event: string;
  key: string | null;
  value: unknown;
  dt: string;
}

/** Events one request asks for at most (the server's own default is 10,000 too). */
export const DATA_LIMIT = 10000;

/** The REST calls of experiments, through the panel's server settings. */
export class ExperimentApi {
  constructor(readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  /** One page of experiments whose names match the glob `pattern`. */
  list(
    query: { pattern?: string; limit?: number; offset?: number } = {}
  ): Promise<IPage<IExperiment>> {
    const q = queryString({ name: query.pattern, limit: query.limit, offset: query.offset });
    return requestAPI(`experiments${q}`, {}, this.settings);
  }

  /** Every run of `experiment`, oldest first, with params and last metrics. */
  async runs(experiment: string): Promise<IExperimentRun[]> {
    const answer = await requestAPI<{ items?: IExperimentRun[] }>(
      `experiments/${encodeName(experiment)}/runs`,
      {},
      this.settings
    );
    return answer.items ?? [];
  }

  /** The values of `metric` in the given runs (all runs when none are given), in one call. */
  async metric(
    experiment: string,
    metric: string,
    runs?: readonly number[],
    limit = DATA_LIMIT
  ): Promise<IExperimentEvent[]> {
    const run = runs && runs.length ? runs.join(',') : '*';
    const q = queryString({ event: 'metric', key: metric, run, limit });
    const answer = await requestAPI<{ items?: IExperimentEvent[] }>(
      `experiments/${encodeName(experiment)}/data${q}`,
      {},
      this.settings
    );
    return answer.items ?? [];
  }
}

// -- the section's row keys ---------------------------------------------------------------
/**
 * What a row of the Experiments section stands for. Keys: `iris` (the experiment),
 * `iris@2` (its run 2), `iris@*:accuracy` (its metric across runs), `iris@2:accuracy` (a
 * metric of run 2). Names cannot contain `@` (the name grammar), so the key reads back.
 */
export interface IExperimentTarget {
  experiment: string;
  /** A run number, or null for the experiment as a whole (every run). */
  run: number | null;
  /** A metric, or null for "the run's or experiment's first metric". */
  metric: string | null;
}

export function experimentKey(target: IExperimentTarget): string {
  if (target.run === null && target.metric === null) {
    return target.experiment;
  }
  const run = target.run === null ? '*' : String(target.run);
  return `${target.experiment}@${run}${target.metric === null ? '' : `:${target.metric}`}`;
}

const KEY = /^([^@]+)@(\d+|\*)(?::([\s\S]*))?$/;

export function parseExperimentKey(key: string): IExperimentTarget {
  const match = KEY.exec(key);
  if (!match) {
    return { experiment: key, run: null, metric: null };
  }
  return {
    experiment: match[1],
    run: match[2] === '*' ? null : Number(match[2]),
    metric: match[3] === undefined ? null : match[3]
  };
}

/** A Python string literal (double-quoted, escaped). */
function py(text: string): string {
  return JSON.stringify(text);
}

/** The code that loads what a row stands for (Insert code, or a drag into a notebook). */
export function experimentCode(key: string): string {
  const { experiment, run, metric } = parseExperimentKey(key);
  const lines = ['import omega_jupyter as om', `exp = om.runtime.experiment(${py(experiment)})`];
  const runArg = run === null ? '"*"' : String(run);
  if (metric !== null) {
    lines.push(`exp.data(event="metric", key=${py(metric)}, run=${runArg})`);
    lines.push(`exp.plot(${py(metric)}, run=${runArg})`);
  } else if (run !== null) {
    lines.push(`exp.data(run=${run})`);
  } else {
    lines.push('exp.runs()');
  }
  return lines.join('\n');
}

// -- runs: params and metrics ---------------------------------------------------------------
const PARAM = 'param.';
const METRIC = 'metric.';

function prefixed(run: IExperimentRun, prefix: string): [string, unknown][] {
  return Object.entries(run)
    .filter(([k, v]) => k.startsWith(prefix) && v !== null && v !== undefined)
    .map(([k, v]) => [k.slice(prefix.length), v] as [string, unknown])
    .sort(([a], [b]) => a.localeCompare(b));
}

/** The params of a run, by key. */
export function runParams(run: IExperimentRun): [string, unknown][] {
  return prefixed(run, PARAM);
}

/** The last value of each metric of a run, by key. */
export function runMetrics(run: IExperimentRun): [string, unknown][] {
  return prefixed(run, METRIC);
}

/** The metrics any of `runs` logged (sorted); those of `only` runs when given. */
export function metricNames(runs: readonly IExperimentRun[], only?: readonly number[]): string[] {
  const keys = new Set<string>();
  for (const run of runs) {
    if (!only || only.includes(run.run)) {
      for (const [key] of runMetrics(run)) {
        keys.add(key);
      }
    }
  }
  return [...keys].sort((a, b) => a.localeCompare(b));
}

/** A param or metric value, short: numbers with up to 4 significant digits. */
export function shortValue(value: unknown): string {
  if (typeof value === 'number') {
    if (!isFinite(value)) {
      return String(value);
    }
    return Number.isInteger(value) ? String(value) : String(+value.toPrecision(4));
  }
  if (typeof value === 'string') {
    return value;
  }
  if (typeof value === 'boolean') {
    return value ? 'True' : 'False';
  }
  return JSON.stringify(value);
}

/** `C=1 · penalty=l2` */
export function paramsText(run: IExperimentRun): string {
  return runParams(run)
    .map(([k, v]) => `${k}=${shortValue(v)}`)
    .join(' · ');
}

/** `accuracy 0.89 · f1 0.95` */
export function metricsText(run: IExperimentRun): string {
  return runMetrics(run)
    .map(([k, v]) => `${k} ${shortValue(v)}`)
    .join(' · ');
}
