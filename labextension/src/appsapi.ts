/**
 * Apps as the panel sees them (no DOM here): the REST calls of `/api/v1/apps/…`, the URL an
 * app is served at inside Jupyter (`{base_url}omega/apps/{name}/`), and what an app's row says.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { encodeName, queryString, requestAPI } from './api';
import { formatTime } from './format';
import type { IItemView } from './section';
import type { IPage } from './service';

/** An app's status (GET apps/{name}, each item of GET apps, the answer of every action). */
export interface IAppStatus {
  name: string;
  /** The state of its latest run (queued, running, failed, cancelled) or `stopped`. */
  state: string;
  /** True once its port accepts connections. */
  serving: boolean;
  /** `script` or `notebook`. */
  source: string;
  run_id?: string | null;
  host?: string | null;
  port?: number | null;
  pid?: number | null;
  crashes?: number;
  started?: string | null;
  heartbeat?: string | null;
  error?: string | null;
  path?: string;
}

export type AppAction = 'start' | 'stop' | 'restart';

/** The Jupyter mount of an app: `{base_url}omega/apps/{name}/`. */
export const APPS_PATH = 'omega/apps';

/** The URL of app `name` inside Jupyter, under `baseUrl` (PageConfig's base URL). */
export function appUrl(baseUrl: string, name: string): string {
  return URLExt.join(baseUrl, APPS_PATH, encodeName(name)) + '/';
}

/**
 * One word for an app's state: `serving` once its port answers, `starting` before that,
 * `stopped` after a stop (its run was cancelled) or when it never ran.
 */
export function appState(app: IAppStatus): string {
  if (app.state === 'running') {
    return app.serving ? 'serving' : 'starting';
  }
  return app.state === 'cancelled' ? 'stopped' : app.state;
}

/** What can be done to an app in `app`'s state. */
export function appActions(app: IAppStatus): Record<AppAction | 'open', boolean> {
  const live = app.state === 'running' || app.state === 'queued';
  return { open: live && app.serving, start: !live, stop: live, restart: live };
}

/** True while an app is on its way up or down (the section polls it more often). */
export function appSettling(app: IAppStatus): boolean {
  return app.state === 'queued' || (app.state === 'running' && !app.serving);
}

/** An SQL-like glob (`*sales*`, `a?c`) as a case-insensitive test of a name. */
export function globTest(pattern: string | undefined): (name: string) => boolean {
  if (!pattern) {
    return () => true;
  }
  const source = pattern
    .split('')
    .map(c => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  const regex = new RegExp(`^${source}$`, 'i');
  return name => regex.test(name);
}

export function appView(app: IAppStatus): IItemView {
  const state = appState(app);
  const lines = [app.name, `${app.source} app: ${state}`];
  if (app.started) {
    lines.push(`started ${formatTime(app.started)}`);
  }
  if (app.host && app.port && app.state === 'running') {
    lines.push(`listening on ${app.host}:${app.port}`);
  }
  if (app.crashes) {
    lines.push(`crashes: ${app.crashes}`);
  }
  if (app.error) {
    lines.push(`error: ${app.error}`);
  }
  return {
    key: app.name,
    label: app.name,
    detail: [app.source, state].filter(Boolean).join(' · '),
    title: lines.join('\n'),
    state
  };
}

/** The REST calls of apps, through the panel's server settings. */
export class AppsApi {
  constructor(readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  /**
   * One page of the apps that ever ran whose names match the glob `pattern`. The server lists
   * every app of the bucket (there are few); the name filter and the page are applied here.
   */
  async list(
    query: { pattern?: string; limit?: number; offset?: number } = {}
  ): Promise<IPage<IAppStatus>> {
    const answer = await requestAPI<IPage<IAppStatus>>('apps', {}, this.settings);
    const match = globTest(query.pattern);
    const items = (answer.items ?? []).filter(app => match(app.name));
    const offset = query.offset ?? 0;
    const end = query.limit === undefined ? undefined : offset + query.limit;
    return { items: items.slice(offset, end), total: items.length, offset, limit: query.limit };
  }

  status(name: string): Promise<IAppStatus> {
    return requestAPI(`apps/${encodeName(name)}`, {}, this.settings);
  }

  /** Start, stop or restart `name`; answers its status (without waiting for it to serve). */
  act(name: string, action: AppAction): Promise<IAppStatus> {
    return requestAPI(
      `apps/${encodeName(name)}/${action}`,
      { method: 'POST', body: JSON.stringify({}) },
      this.settings
    );
  }

  /** The latest `limit` lines the app logged. */
  async logs(name: string, limit = 200): Promise<string[]> {
    const answer = await requestAPI<{ lines?: string[] }>(
      `apps/${encodeName(name)}/logs${queryString({ limit })}`,
      {},
      this.settings
    );
    return answer.lines ?? [];
  }
}
