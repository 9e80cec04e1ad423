import { OmegaPanel } from '../panel';
import { OmegaService } from '../service';
import { ok, settingsFor } from './fakeServer';

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
    expect(offsets).toEqual(['0', '2', '4', '2']);
    panel.dispose();
  });
});
