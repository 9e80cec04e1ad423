import { AppsSection } from '../appsection';
import {
  AppsApi,
  IAppStatus,
  appActions,
  appSettling,
  appState,
  appUrl,
  appView,
  globTest
} from '../appsapi';
import { insertCode } from '../format';
import { OmegaPanel } from '../panel';
import { OmegaService } from '../service';
import { ok, settingsFor } from './fakeServer';

function status(over: Partial<IAppStatus> = {}): IAppStatus {
  return {
    name: 'sales',
    state: 'running',
    serving: true,
    source: 'notebook',
    run_id: '5e74',
    host: '127.0.0.1',
    port: 37415,
    crashes: 0,
    started: '2026-12-02T09:45:01+00:00',
    error: null,
    path: '/apps/sales/',
    ...over
  };
}

describe('app status', () => {
  it('one word: serving once the port answers, starting before', () => {
    expect(appState(status())).toBe('serving');
    expect(appState(status({ serving: false }))).toBe('starting');
    expect(appState(status({ state: 'cancelled', serving: false }))).toBe('stopped');
    expect(appState(status({ state: 'stopped', run_id: null }))).toBe('stopped');
  });

  it('the actions of each state', () => {
    expect(appActions(status())).toEqual({ open: true, start: false, stop: true, restart: true });
    expect(appActions(status({ serving: false }))).toEqual({
      open: false,
      start: false,
      stop: true,
      restart: true
    });
    for (const state of ['failed', 'cancelled', 'stopped']) {
      expect(appActions(status({ state, serving: false }))).toEqual({
        open: false,
        start: true,
        stop: false,
        restart: false
      });
    }
    expect(appSettling(status({ serving: false }))).toBe(true);
    expect(appSettling(status({ state: 'queued', serving: false }))).toBe(true);
    expect(appSettling(status())).toBe(false);
    expect(appSettling(status({ state: 'failed', serving: false }))).toBe(false);
  });

  it('a row: name, source and state; the tooltip says where and why', () => {
    const view = appView(status({ name: 'team/sales', source: 'script' }));
    expect(view).toMatchObject({
      key: 'team/sales',
      label: 'team/sales',
      detail: 'script · serving',
      state: 'serving'
    });
    expect(view.title).toContain('listening on 127.0.0.1:37415');
    const failed = appView(
      status({ state: 'failed', serving: false, crashes: 3, error: 'exit 7' })
    );
    expect(failed.detail).toBe('notebook · failed');
    expect(failed.title).toContain('crashes: 3');
    expect(failed.title).toContain('error: exit 7');
    expect(failed.title).not.toContain('listening');
  });

  it('the Jupyter mount under the base URL, names encoded by path segment', () => {
    expect(appUrl('/', 'sales')).toBe('/omega/apps/sales/');
    expect(appUrl('/hub/user/ann/', 'team/q1 sales')).toBe(
      '/hub/user/ann/omega/apps/team/q1%20sales/'
    );
  });

  it('the name filter is a case-insensitive glob', () => {
    expect(globTest(undefined)('x')).toBe(true);
    const test = globTest('*Sal?s*');
    expect(['sales', 'q1/SALES_2024', 'salt'].map(test)).toEqual([true, true, false]);
    expect(globTest('a.b')('axb')).toBe(false);
  });

  it('insert code for an app', () => {
    expect(insertCode('apps', 'sales')).toBe(
      "import omega_jupyter as om\napp = om.runtime.app('sales')\napp.status()"
    );
  });
});

describe('AppsApi', () => {
  const apps = [status({ name: 'alpha' }), status({ name: 'beta' }), status({ name: 'sales' })];

  it('lists, filters and pages on the client; acts and reads logs by POST and GET', async () => {
    const { settings, calls } = settingsFor((method, url) => {
      if (/\/apps\/sales\/logs/.test(url)) {
        return ok({ name: 'sales', run_id: '5e74', lines: ['a', 'b'] });
      }
      if (/\/apps\/team\/x%20y\/stop/.test(url)) {
        return ok(status({ name: 'team/x y', state: 'cancelled', serving: false }));
      }
      return ok({ items: apps, total: 3, offset: 0, limit: null });
    });
    const api = new AppsApi(settings);
    const page = await api.list({ pattern: '*a*', limit: 1, offset: 1 });
    expect(page.total).toBe(3);
    expect(page.items.map(a => a.name)).toEqual(['beta']);
    expect((await api.list({ pattern: '*sal*', limit: 50, offset: 0 })).total).toBe(1);
    expect(await api.logs('sales')).toEqual(['a', 'b']);
    expect((await api.act('team/x y', 'stop')).state).toBe('cancelled');
    const post = calls.find(c => c.method === 'POST')!;
    expect(post.url).toBe('http://localhost:8888/hub/user/ann/omega/api/v1/apps/team/x%20y/stop');
    expect(calls.some(c => /omega\/api\/v1\/apps\/sales\/logs\?limit=200/.test(c.url))).toBe(true);
  });
});

describe('the Apps section', () => {
  it('lists apps with buttons enabled by state; a button press calls back', async () => {
    const items = [
      status({ name: 'dash' }),
      status({ name: 'etl-app', source: 'script', state: 'failed', serving: false })
    ];
    const { settings } = settingsFor(() => ok({ items, total: 2 }));
    const pressed: [string, string][] = [];
    const panel = new OmegaPanel({
      service: new OmegaService(settings),
      refreshInterval: 0,
      onActivate: () => undefined,
      onAppButton: (what, name) => pressed.push([what, name])
    });
    const section = panel.section('apps') as unknown as AppsSection;
    expect(section.node.querySelector('.jp-omega-section-title')!.textContent).toBe('Apps');
    section.setOpen(true);
    await section.model.refresh();
    const rows = Array.from(section.node.querySelectorAll<HTMLElement>('.jp-omega-item'));
    expect(rows.map(r => r.dataset.key)).toEqual(['dash', 'etl-app']);
    expect(rows.map(r => r.dataset.store)).toEqual(['apps', 'apps']);
    const enabled = (row: HTMLElement) =>
      Array.from(row.querySelectorAll('button'))
        .filter(b => !b.disabled)
        .map(b => b.textContent);
    expect(enabled(rows[0])).toEqual(['Open', 'Stop', 'Restart', 'Logs']);
    expect(enabled(rows[1])).toEqual(['Start', 'Logs']);
    rows[0].querySelector<HTMLButtonElement>('.jp-omega-app-open')!.click();
    rows[1].querySelector<HTMLButtonElement>('.jp-omega-app-start')!.click();
    expect(pressed).toEqual([
      ['open', 'dash'],
      ['start', 'etl-app']
    ]);
    panel.dispose();
  });
});
