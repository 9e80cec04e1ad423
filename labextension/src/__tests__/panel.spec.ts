import { OmegaPanel, runAction, runView } from '../panel';
import { OmegaService } from '../service';
import { fail, ok, settingsFor } from './fakeServer';

/** A server with `count` runs (newest first) and empty stores. */
function server(count: number) {
  const runs = Array.from({ length: count }, (_, i) => ({
    id: `run${String(count - i).padStart(3, '0')}`,
    kind: 'notebook',
    target: 'reports/daily',
    action: 'run',
    state: 'succeeded',
    trigger: 'schedule',
    submitted: null,
    started: null,
    finished: null,
    error: null,
    progress: null
  }));
  return settingsFor((_method, url) => {
    const u = new URL(url);
    if (u.pathname.endsWith('/runs')) {
      const limit = Number(u.searchParams.get('limit') ?? 100);
      const offset = Number(u.searchParams.get('offset') ?? 0);
      return ok({ items: runs.slice(offset, offset + limit), total: runs.length, limit, offset });
    }
    return ok({ items: [], total: 0 });
  });
}

describe('OmegaPanel runs section', () => {
  it('pages through the runs with offset and the total', async () => {
    const { settings, calls } = server(5);
    const panel = new OmegaPanel({
      service: new OmegaService(settings),
      refreshInterval: 0,
      pageSize: 2,
      onActivate: () => undefined
    });
    const section = panel.section('runs');
    const keys = () =>
      Array.from(section.node.querySelectorAll<HTMLElement>('.jp-omega-item')).map(
        row => row.dataset.key
      );
    const count = () => section.node.querySelector('.jp-omega-count')!.textContent;

    // Closed, the section asks for one run only and says how many there are.
    await panel.refresh();
    expect(keys()).toEqual([]);
    expect(count()).toBe('5');
    expect(calls.some(c => /runs\?limit=1(&|$)/.test(c.url))).toBe(true);

    section.setOpen(true);
    await section.model.refresh();
    expect(keys()).toEqual(['run005', 'run004']);
    expect(count()).toBe('1–2 of 5');
    expect(section.model.hasNext).toBe(true);

    await section.model.nextPage();
    expect(keys()).toEqual(['run003', 'run002']);
    expect(count()).toBe('3–4 of 5');
    await section.model.nextPage();
    expect(keys()).toEqual(['run001']);
    expect(section.model.hasNext).toBe(false);
    await section.model.previousPage();
    expect(keys()).toEqual(['run003', 'run002']);

    const offsets = calls
      .filter(c => new URL(c.url).pathname.endsWith('/runs'))
      .map(c => new URL(c.url).searchParams.get('offset'));
    // the count, the page fetched on opening, the refresh, then the pages
    expect(offsets).toEqual(['0', '0', '0', '2', '4', '2']);
    panel.dispose();
  });
});

describe('OmegaPanel section titles', () => {
  it('labels the jobs section Notebooks and says in its tooltip that they are jobs', () => {
    const panel = new OmegaPanel({
      service: new OmegaService(server(0).settings),
      refreshInterval: 0,
      onActivate: () => undefined
    });
    const title = panel.section('jobs').node.querySelector<HTMLElement>('.jp-omega-section-title')!;
    expect(title.textContent).toBe('Notebooks');
    expect(title.title).toMatch(/^Jobs: notebooks kept in the omega store/);
    const datasets = panel
      .section('datasets')
      .node.querySelector<HTMLElement>('.jp-omega-section-title')!;
    expect(datasets.textContent).toBe('Datasets');
    expect(datasets.title).toBe('');
    panel.dispose();
  });
});

describe('OmegaPanel errors', () => {
  it('says an error shared by the sections once, and one of a single section in it', async () => {
    let answer: 'down' | 'one' | 'up' = 'down';
    const { settings } = settingsFor((_method, url) => {
      const store = new URL(url).pathname.split('/').pop();
      if (answer === 'down') {
        return fail(503, 'database_unavailable', 'internal server error');
      }
      if (answer === 'one' && store === 'models') {
        return fail(403, 'forbidden', 'User is not authorized to read on resource: models.');
      }
      return ok({ items: [], total: 0 });
    });
    const panel = new OmegaPanel({
      service: new OmegaService(settings),
      refreshInterval: 0,
      onActivate: () => undefined
    });
    const banner = panel.node.querySelector<HTMLElement>('.jp-omega-banner')!;
    const above = () =>
      [...panel.sections.values()]
        .filter(s => s.node.classList.contains('jp-omega-mod-error-above'))
        .map(s => s.options.id);

    await expect(panel.refresh(true)).rejects.toThrow('The omega database is unavailable.');
    expect(banner.hidden).toBe(false);
    expect(banner.textContent).toBe('The omega database is unavailable.');
    expect(above()).toEqual([
      'datasets',
      'models',
      'jobs',
      'scripts',
      'runs',
      'experiments',
      'apps'
    ]);

    answer = 'one';
    await expect(panel.refresh(true)).rejects.toThrow('not authorized');
    expect(banner.hidden).toBe(true);
    expect(above()).toEqual([]);
    expect(panel.section('models').node.querySelector('.jp-omega-error')!.textContent).toContain(
      'not authorized'
    );

    answer = 'up';
    await panel.refresh(true);
    expect(banner.hidden).toBe(true);
    expect([...panel.sections.values()].map(s => s.model.error)).toEqual(Array(7).fill(null));
    panel.dispose();
  });
});

describe('OmegaPanel notebooks section', () => {
  it('marks scheduled and paused notebooks', async () => {
    const item = (name: string, schedule: unknown) => ({
      name,
      kind: 'notebook.ipynb',
      version: 1,
      modified: '2026-11-26T10:00:00+00:00',
      size: 10,
      schedule
    });
    const { settings } = settingsFor((_method, url) => {
      if (new URL(url).pathname.endsWith('/jobs')) {
        const brief = { when: 'hourly', description: 'At 0 minutes past the hour' };
        return ok({
          items: [
            item('daily', { ...brief, paused: false, next_due: '2026-11-26T11:00:00+00:00' }),
            item('held', { ...brief, paused: true, next_due: null }),
            item('plain', null)
          ],
          total: 3
        });
      }
      return ok({ items: [], total: 0 });
    });
    const panel = new OmegaPanel({
      service: new OmegaService(settings),
      refreshInterval: 0,
      onActivate: () => undefined
    });
    const section = panel.section('jobs');
    await section.model.refresh();
    const row = (key: string) =>
      section.node.querySelector<HTMLElement>(`.jp-omega-item[data-key="${key}"]`)!;
    const badge = (key: string) => row(key).querySelector<HTMLElement>('.jp-omega-item-badge');
    expect(badge('daily')!.textContent).toBe('scheduled');
    expect(badge('daily')!.dataset.state).toBe('active');
    expect(row('daily').title).toContain('schedule: At 0 minutes past the hour, next ');
    expect(badge('held')!.textContent).toBe('paused');
    expect(badge('held')!.dataset.state).toBe('paused');
    expect(row('held').title).toContain('(paused)');
    expect(badge('plain')).toBeNull();
    expect(row('plain').title).not.toContain('schedule');
    panel.dispose();
  });
});

describe('OmegaPanel selection and runs', () => {
  it('keeps one selection across all sections', async () => {
    const { settings } = settingsFor((_method, url) => {
      const store = new URL(url).pathname.split('/').pop();
      return ok({
        items: [{ name: `${store}-a`, kind: 'x', version: 1, modified: '', size: 1 }],
        total: 1
      });
    });
    const panel = new OmegaPanel({
      service: new OmegaService(settings),
      refreshInterval: 0,
      onActivate: () => undefined
    });
    await panel.refresh(true);
    const selected = () =>
      Array.from(panel.node.querySelectorAll<HTMLElement>('.jp-omega-item.jp-mod-selected')).map(
        row => row.dataset.key
      );
    panel.section('datasets').select('datasets-a');
    panel.section('models').select('models-a');
    expect(selected()).toEqual(['models-a']);
    expect(panel.section('datasets').selected).toBeNull();
    expect(panel.lastSelected).toEqual({ store: 'models', name: 'models-a' });
    // A re-render keeps only the one selection.
    await panel.refresh(true);
    expect(selected()).toEqual(['models-a']);
    panel.dispose();
  });

  it('shows what a run did, its version and trigger; the tooltip has times and duration', () => {
    const view = runView({
      id: 'abc',
      kind: 'model',
      target: 'iris_model',
      target_version: 3,
      action: 'fit',
      state: 'succeeded',
      trigger: 'rest',
      submitted: '2026-12-02T06:00:00+00:00',
      started: '2026-12-02T06:00:01+00:00',
      finished: '2026-12-02T06:00:03.500+00:00',
      error: null,
      progress: null
    });
    expect(view.label).toBe('iris_model v3');
    expect(view.detail).toBe('fit · rest · succeeded · 2.5 s');
    expect(view.title).toContain('iris_model v3');
    expect(view.title).toContain('triggered by rest');
    expect(view.title).toMatch(/started .+/);
    expect(view.title).toContain('duration 2.5 s');
    expect(view.title).toContain('run abc');
    expect(runAction({ kind: 'job', action: 'run' } as never)).toBe('notebook');
    expect(runAction({ kind: 'script', action: 'run' } as never)).toBe('script');
  });

  it('filters the runs by state and kind on the server, from the first page', async () => {
    const { settings, calls } = server(5);
    const panel = new OmegaPanel({
      service: new OmegaService(settings),
      refreshInterval: 0,
      pageSize: 2,
      onActivate: () => undefined
    });
    const section = panel.section('runs');
    await section.model.refresh();
    await section.model.nextPage();
    panel.runFilters.state.value = 'failed';
    panel.runFilters.state.dispatchEvent(new Event('change'));
    panel.runFilters.kind.value = 'script';
    panel.runFilters.kind.dispatchEvent(new Event('change'));
    await new Promise(r => setTimeout(r, 20));
    const last = new URL(calls[calls.length - 1].url);
    expect(last.searchParams.get('state')).toBe('failed');
    expect(last.searchParams.get('kind')).toBe('script');
    expect(last.searchParams.get('offset')).toBe('0');
    panel.dispose();
  });
});
