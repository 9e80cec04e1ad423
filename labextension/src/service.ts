/**
 * OmegaService: one method per REST call the panel makes. The vocabulary mirrors the server's
 * routes (datasets, models, jobs, scripts, runs, schedules).
 */
import { ServerConnection } from '@jupyterlab/services';

import { encodeName, queryString, requestAPI } from './api';

/** The schedule of a notebook or script as list items carry it. */
export interface IScheduleBrief {
  when: string;
  description: string;
  paused: boolean;
  /** ISO time of the next run; null while paused. */
  next_due: string | null;
}

export interface IObjectSummary {
  name: string;
  kind: string;
  version: number;
  modified: string;
  size: number | null;
  rows?: number | null;
  /** Notebooks and scripts: their schedule, null when they have none. */
  schedule?: IScheduleBrief | null;
  /** The answer of a notebook PUT: false when the content was unchanged (no new version). */
  created?: boolean;
}

export interface IPage<T> {
  items: T[];
  total: number;
  offset?: number;
  limit?: number;
}

export interface IColumn {
  name: string;
  dtype: string;
}

export interface IDatasetMetadata {
  name: string;
  kind: string;
  version: number;
  size: number | null;
  columns: IColumn[];
  versions: number[];
  kind_meta?: { rows?: number };
  [key: string]: unknown;
}

export interface IDatasetRows {
  name: string;
  version: number;
  kind: string;
  count?: number;
  data: unknown;
}

export interface IDatasetPreview {
  metadata: IDatasetMetadata;
  columns: IColumn[];
  rows: Record<string, unknown>[];
  totalRows: number | null;
}

/** One column of a dataset's profile (GET datasets/{name}/profile). */
export interface IColumnProfile {
  name: string | number | boolean | null;
  dtype: string;
  kind: string;
  count: number;
  nulls: number;
  distinct: number;
  /** `distinct` is an estimate (shown as ≈N); exact with `?exact=true`. */
  distinct_approx?: boolean;
  min: number | string | null;
  max: number | string | null;
  mean: number | null;
  std: number | null;
  top: { value: unknown; count: number }[];
  histogram: { start: number; end: number; count: number }[];
  /** A Vega-Lite v5 spec (histogram or top-value bars), null when there is nothing to draw. */
  vega_lite: Record<string, unknown> | null;
}

/** Statistics computed in the database over every row of a dataset version. */
export interface IDatasetProfile {
  name: string;
  version: number;
  rows: number;
  bins: number;
  top: number;
  /** False when some distinct count is an estimate (`distinct_approx`). */
  exact?: boolean;
  columns: IColumnProfile[];
}

export interface IRun {
  id: string;
  kind: string;
  target: string;
  action: string;
  state: string;
  trigger: string;
  submitted: string | null;
  started: string | null;
  finished: string | null;
  error: string | null;
  progress: { cells_done?: number; cells_total?: number } | null;
  target_version?: number | null;
  parameters?: Record<string, unknown> | null;
  attempt?: number;
  result?: unknown;
  traceback?: string | null;
  [key: string]: unknown;
}

export interface ILogLine {
  id: number;
  created: string;
  level: number;
  levelname: string;
  logger: string;
  message: string;
  run_id: string | null;
}

export interface ISchedule {
  name: string;
  when: string;
  cron: string;
  description: string;
  next_due?: string;
  next_times: string[];
  missed: string;
  max_retries?: number;
  timezone?: string | null;
  parameters: Record<string, unknown>;
  /** A paused schedule keeps its settings but starts no runs until resumed. */
  paused?: boolean;
}

export interface ISchedulePreview {
  when: string;
  cron: string;
  description: string;
  next_times: string[];
}

export interface IParameter {
  name: string;
  type: string;
  default: string;
  help: string;
}

export interface IAccepted {
  run: string;
  location: string;
}

/** One kept version of a stored notebook (GET jobs/{name}/versions). */
export interface INotebookVersion {
  version: number;
  created: string;
  size: number | null;
  cells: number | null;
  /** The version a restore copied, null for a saved one. */
  restored_from: number | null;
}

export interface IListQuery {
  pattern?: string;
  limit?: number;
  offset?: number;
}

export interface IRunsQuery {
  limit?: number;
  offset?: number;
  /** Only the runs of this notebook or script. */
  job?: string;
  state?: string;
  /** Only runs of this kind: notebook, script, model. */
  kind?: string;
  /** Only runs whose target contains this text (any case). */
  search?: string;
}

/** The answer of a DELETE of an object. */
export interface IDeleted {
  name: string;
  deleted: boolean;
}

export type StoreName = 'datasets' | 'models' | 'jobs' | 'scripts';

export class OmegaService {
  constructor(readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  private request<T>(path: string, init: RequestInit = {}): Promise<T> {
    return requestAPI<T>(path, init, this.settings);
  }

  private json<T>(path: string, method: string, body?: unknown): Promise<T> {
    return this.request<T>(path, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' }
    });
  }

  ping(): Promise<{ ping: string; version: string }> {
    return this.request('ping');
  }

  /** One page of a store's objects whose names match `pattern`. */
  list(store: StoreName, query: IListQuery = {}): Promise<IPage<IObjectSummary>> {
    const q = queryString({ name: query.pattern, limit: query.limit, offset: query.offset });
    return this.request(`${store}${q}`);
  }

  // -- datasets ---------------------------------------------------------------------------
  datasetMetadata(name: string): Promise<IDatasetMetadata> {
    return this.request(`datasets/${encodeName(name)}/metadata`);
  }

  /** Rows `offset … offset + limit` (the server reads no further than that). */
  datasetRows(name: string, limit = 100, offset = 0): Promise<IDatasetRows> {
    const q = queryString({ limit, offset: offset || undefined, orient: 'records' });
    return this.request(`datasets/${encodeName(name)}${q}`);
  }

  /** Store a frame (split JSON: columns and rows) as a new version of dataset `name`. */
  putDataset(
    name: string,
    frame: { columns: string[]; data: unknown[][] }
  ): Promise<IObjectSummary> {
    return this.json(`datasets/${encodeName(name)}`, 'PUT', frame);
  }

  /** Per column statistics, top values, histogram and chart, computed over every row. */
  datasetProfile(name: string): Promise<IDatasetProfile> {
    return this.request(`datasets/${encodeName(name)}/profile`);
  }

  /** Rows `offset … offset + limit` with dtypes, row count and size, for the preview tab. */
  async previewDataset(name: string, limit = 100, offset = 0): Promise<IDatasetPreview> {
    const [metadata, rows] = await Promise.all([
      this.datasetMetadata(name),
      this.datasetRows(name, limit, offset)
    ]);
    return previewOf(metadata, rows);
  }

  /** Delete an object with all its versions (a notebook's or script's schedule goes too). */
  drop(store: StoreName, name: string): Promise<IDeleted> {
    return this.request(`${store}/${encodeName(name)}`, { method: 'DELETE' });
  }

  // -- models -----------------------------------------------------------------------------
  /** Versions, tags, signature, lineage and library versions of a model. */
  modelDetails(name: string): Promise<Record<string, unknown>> {
    return this.request(`panel/models/${encodeName(name)}`);
  }

  dropModel(name: string): Promise<IDeleted> {
    return this.drop('models', name);
  }

  predict(model: string, dataset: string): Promise<{ result: unknown; version?: number }> {
    return this.request(`model/${encodeName(model)}/predict${queryString({ datax: dataset })}`);
  }

  // -- jobs (stored notebooks; the panel's "Notebooks" section) ----------------------------
  getJob(name: string): Promise<Record<string, unknown>> {
    return this.request(`jobs/${encodeName(name)}`);
  }

  putJob(name: string, notebook: unknown): Promise<IObjectSummary> {
    return this.json(`jobs/${encodeName(name)}`, 'PUT', notebook);
  }

  /** Every kept version of a stored notebook, newest first. */
  jobVersions(name: string): Promise<IPage<INotebookVersion>> {
    return this.request(`jobs/${encodeName(name)}/versions`);
  }

  /** Store version `version` again as the newest version of notebook `name`. */
  restoreJob(name: string, version: number): Promise<IObjectSummary & { restored_from: number }> {
    return this.json(`jobs/${encodeName(name)}/restore`, 'POST', { version });
  }

  dropJob(name: string): Promise<IDeleted> {
    return this.drop('jobs', name);
  }

  runJob(name: string, parameters: Record<string, unknown> = {}): Promise<IAccepted> {
    return this.json(`jobs/${encodeName(name)}/run`, 'POST', { parameters });
  }

  parameters(name: string): Promise<{ parameters: IParameter[] }> {
    return this.request(`panel/parameters/${encodeName(name)}`);
  }

  getSchedule(name: string): Promise<ISchedule> {
    return this.request(`jobs/${encodeName(name)}/schedule`);
  }

  setSchedule(
    name: string,
    schedule: {
      when: string;
      parameters?: Record<string, unknown>;
      missed?: string;
      timezone?: string | null;
    }
  ): Promise<ISchedule> {
    return this.json(`jobs/${encodeName(name)}/schedule`, 'PUT', schedule);
  }

  /** Pause (`paused` true) or resume a notebook's schedule; its other settings stay. */
  pauseSchedule(name: string, paused: boolean): Promise<ISchedule> {
    return this.json(`jobs/${encodeName(name)}/schedule`, 'PATCH', { paused });
  }

  /** Remove a notebook's schedule (the notebook stays), as `om.jobs.unschedule(name)`. */
  unschedule(name: string): Promise<unknown> {
    return this.request(`jobs/${encodeName(name)}/schedule`, { method: 'DELETE' });
  }

  /** Description and next 5 times of `when` (cron or text), without saving anything. */
  previewSchedule(when: string, timezone?: string | null): Promise<ISchedulePreview> {
    return this.request(`panel/schedule-preview${queryString({ when, timezone })}`);
  }

  // -- scripts ----------------------------------------------------------------------------
  getScript(name: string): Promise<Record<string, unknown>> {
    return this.request(`scripts/${encodeName(name)}`);
  }

  dropScript(name: string): Promise<IDeleted> {
    return this.drop('scripts', name);
  }

  runScript(name: string, kwargs: Record<string, unknown> = {}): Promise<IAccepted> {
    return this.json(`scripts/${encodeName(name)}/run`, 'POST', kwargs);
  }

  // -- runs -------------------------------------------------------------------------------
  /** One page of runs, newest first; `total` counts all the runs that match. */
  runs(query: IRunsQuery = {}): Promise<IPage<IRun>> {
    const { limit, offset, job, state, kind, search } = query;
    return this.request(`runs${queryString({ limit, offset, job, state, kind, search })}`);
  }

  run(id: string): Promise<IRun> {
    return this.request(`runs/${encodeURIComponent(id)}`);
  }

  /** The log lines of run `id`, oldest first (what a script printed and logged). */
  runLogs(id: string, limit = 1000): Promise<IPage<ILogLine>> {
    return this.request(`logs${queryString({ run: id, limit })}`);
  }

  runResult(id: string): Promise<Record<string, unknown>> {
    return this.request(`runs/${encodeURIComponent(id)}/notebook`);
  }

  cancelRun(id: string): Promise<{ cancelled: boolean }> {
    return this.request(`runs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
  }
}

/** Combine a dataset's metadata and its first rows into what the preview shows. */
export function previewOf(metadata: IDatasetMetadata, rows: IDatasetRows): IDatasetPreview {
  const data = Array.isArray(rows.data) ? (rows.data as Record<string, unknown>[]) : [];
  let columns = metadata.columns ?? [];
  if (data.length) {
    // Index levels come first in each record but are not among the metadata's columns.
    const known = new Set(columns.map(c => c.name));
    const extra = Object.keys(data[0])
      .filter(name => !known.has(name))
      .map(name => ({ name, dtype: 'index' }));
    columns = [...extra, ...columns];
  }
  const total = metadata.kind_meta?.rows;
  return {
    metadata,
    columns,
    rows: data,
    totalRows: typeof total === 'number' ? total : null
  };
}
