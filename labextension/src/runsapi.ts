/**
 * The REST calls of the Runs view and of run groups: `panel/runs` (the Runs section with one
 * item per group, or every run sorted and filtered), `jobs/{name}/map`, `groups/{id}…` and
 * `runs/{id}/export`. Free functions on an OmegaService's settings, beside `service.ts`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { API_PATH, encodeName, queryString, requestAPI } from './api';
import type { IPage, IRun, OmegaService } from './service';

/** A failed member of a run group, as the collapsed listing carries it. */
export interface IFailedMember {
  index: number;
  run_id: string | null;
  parameters: Record<string, unknown>;
  error: string | null;
}

/** A run group as one row of the Runs section. */
export interface IGroupItem {
  type: 'group';
  id: string;
  kind: string;
  target: string;
  target_version?: number | null;
  trigger: string;
  submitted: string | null;
  max_parallel: number;
  /** Members by state; `pending`: not sent yet. */
  counts: Record<string, number>;
  total: number;
  done: boolean;
  cancelled: boolean;
  failed: IFailedMember[];
}

/** A run as `panel/runs` lists it (`trigger` is `map` for a member of a run group). */
export interface IRunItem extends IRun {
  type?: 'run';
  group_id?: string | null;
  group_index?: number | null;
}

export type PanelRun = IRunItem | IGroupItem;

export function isGroup(item: PanelRun): item is IGroupItem {
  return (item as IGroupItem).type === 'group';
}

export type RunSort =
  'submitted' | 'started' | 'finished' | 'duration' | 'target' | 'action' | 'state' | 'attempt';

export interface IRunsTableQuery {
  limit?: number;
  offset?: number;
  state?: string;
  kind?: string;
  target?: string;
  action?: string;
  trigger?: string;
  group?: string;
  sort?: RunSort;
  order?: 'asc' | 'desc';
}

export interface IMapRequest {
  members: Record<string, unknown>[];
  max_parallel?: number;
}

export interface IMapAccepted {
  group: string;
  members: number;
  location: string;
}

function call<T>(service: OmegaService, path: string, init: RequestInit = {}): Promise<T> {
  return requestAPI<T>(path, init, service.settings);
}

function post<T>(service: OmegaService, path: string, body: unknown): Promise<T> {
  return call<T>(service, path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' }
  });
}

/** One page of the Runs section: runs outside groups and one item per group, newest first. */
export function collapsedRuns(
  service: OmegaService,
  query: { limit?: number; offset?: number; state?: string; kind?: string; search?: string }
): Promise<IPage<PanelRun>> {
  return call(service, `panel/runs${queryString({ ...query, collapse: 'true' })}`);
}

/** One page of every run that passes the filters, sorted (the Runs view). */
export function runsTable(service: OmegaService, query: IRunsTableQuery): Promise<IPage<IRunItem>> {
  return call(service, `panel/runs${queryString({ ...query })}`);
}

/** Run notebook `name` once per member: a run group (202 with its id). */
export function mapJob(
  service: OmegaService,
  name: string,
  request: IMapRequest
): Promise<IMapAccepted> {
  return post(service, `jobs/${encodeName(name)}/map`, request);
}

export function cancelGroup(
  service: OmegaService,
  id: string
): Promise<{ group: string; cancelled: number }> {
  return post(service, `groups/${encodeURIComponent(id)}/cancel`, {});
}

export function restartGroup(
  service: OmegaService,
  id: string
): Promise<{ group: string; pending: number[] }> {
  return post(service, `groups/${encodeURIComponent(id)}/restart`, { failed_only: true });
}

/** The URL of a run's executed notebook rendered as HTML (a download). */
export function exportUrl(service: OmegaService, runId: string, format = 'html'): string {
  return URLExt.join(
    service.settings.baseUrl,
    API_PATH,
    `runs/${encodeURIComponent(runId)}/export${queryString({ format })}`
  );
}

/**
 * Fetch a run's export (through ServerConnection: Jupyter's auth applies) and hand it to the
 * browser as a download named by the server.
 */
export async function downloadExport(
  service: OmegaService,
  runId: string,
  filename: string,
  format = 'html'
): Promise<string> {
  const response = await ServerConnection.makeRequest(
    exportUrl(service, runId, format),
    { method: 'GET' },
    service.settings
  );
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try {
      message = JSON.parse(text).message ?? text;
    } catch {
      // not JSON: the text says it
    }
    throw new Error(message || `export failed (${response.status})`);
  }
  const blob = new Blob([text], { type: response.headers.get('Content-Type') ?? 'text/html' });
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  return filename;
}
