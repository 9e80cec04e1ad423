import { OmegaApiError, encodeName, errorFromResponse, queryString } from '../api';
import { OmegaService, previewOf } from '../service';
import { fail, ok, settingsFor } from './fakeServer';

describe('api helpers', () => {
  it('encodes names segment by segment', () => {
    expect(encodeName('reports/daily 1')).toBe('reports/daily%201');
    expect(encodeName('a?b#c')).toBe('a%3Fb%23c');
  });

  it('builds query strings from defined values only', () => {
    expect(queryString({ name: '*x*', limit: 10, offset: undefined, e: '' })).toBe(
      '?name=*x*&limit=10'
    );
    expect(queryString({})).toBe('');
  });

  it('keeps the server message of a JSON error', () => {
    const error = errorFromResponse(
      400,
      JSON.stringify({ error: 'invalid_name', message: 'bad name "x"' })
    );
    expect(error.message).toBe('bad name "x"');
    expect(error.code).toBe('invalid_name');
    expect(error.serverMissing).toBe(false);
  });

  it('says the server extension is missing for an HTML 404', () => {
    const error = errorFromResponse(404, '<html>404 Not Found</html>');
    expect(error.serverMissing).toBe(true);
    expect(error.message).toContain('server extension');
  });

  it('says what a 503 of the database means, with the server detail when there is one', () => {
    const generic = errorFromResponse(
      503,
      JSON.stringify({ error: 'database_unavailable', message: 'internal server error' })
    );
    expect(generic.message).toBe('The omega database is unavailable.');
    expect(generic.code).toBe('database_unavailable');
    const logged = errorFromResponse(
      503,
      JSON.stringify({
        error: 'database_unavailable',
        message: 'the omega database cannot be reached (the server log says why)'
      })
    );
    expect(logged.message).toBe('The omega database is unavailable.');
    const detailed = errorFromResponse(
      503,
      JSON.stringify({ error: 'database_unavailable', message: 'cannot connect to db' })
    );
    expect(detailed.message).toContain('is unavailable');
    expect(detailed.message).toContain('(cannot connect to db)');
  });

  it('names the status of other failures', () => {
    expect(errorFromResponse(502, 'Bad Gateway').message).toBe(
      'the server answered 502: Bad Gateway'
    );
  });
});

describe('OmegaService', () => {
  it('lists under the base_url prefix with paging and a pattern', async () => {
    const { settings, calls } = settingsFor(() => ({
      status: 200,
      body: JSON.stringify({ items: [{ name: 'sales' }], total: 1 })
    }));
    const service = new OmegaService(settings);
    const page = await service.list('datasets', { pattern: '*sa*', limit: 50, offset: 0 });
    expect(page.total).toBe(1);
    expect(calls[0].url).toMatch(
      /^http:\/\/localhost:8888\/hub\/user\/ann\/omega\/api\/v1\/datasets\?name=\*sa\*&limit=50&offset=0/
    );
  });

  it('raises the server message on errors', async () => {
    const { settings } = settingsFor(() => ({
      status: 503,
      body: JSON.stringify({ error: 'database_unavailable', message: 'the database is down' })
    }));
    const service = new OmegaService(settings);
    await expect(service.datasetMetadata('x')).rejects.toThrow('The omega database is unavailable');
    await expect(service.datasetMetadata('x')).rejects.toThrow('(the database is down)');
    await expect(service.datasetMetadata('x')).rejects.toBeInstanceOf(OmegaApiError);
  });

  it('stores notebooks with PUT and a JSON body', async () => {
    const { settings, calls } = settingsFor(() => ({
      status: 201,
      body: JSON.stringify({ name: 'reports/daily', version: 2 })
    }));
    const service = new OmegaService(settings);
    const nb = { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 };
    const summary = await service.putJob('reports/daily', nb);
    expect(summary.version).toBe(2);
    expect(calls[0].method).toBe('PUT');
    expect(calls[0].url).toMatch(/omega\/api\/v1\/jobs\/reports\/daily$/);
    expect(JSON.parse(calls[0].body!)).toEqual(nb);
  });

  it('previews a schedule without saving it', async () => {
    const { settings, calls } = settingsFor(() => ({
      status: 200,
      body: JSON.stringify({ cron: '30 8 * * 1-5', description: 'At 08:30', next_times: [] })
    }));
    const service = new OmegaService(settings);
    const preview = await service.previewSchedule('weekdays at 08:30', 'Europe/Zurich');
    expect(preview.cron).toBe('30 8 * * 1-5');
    expect(calls[0].method).toBe('GET');
    expect(calls[0].url).toMatch(
      /panel\/schedule-preview\?when=weekdays%20at%2008%3A30&timezone=Europe%2FZurich/
    );
  });

  it('previews a dataset from its metadata and first rows', async () => {
    const { settings } = settingsFor((_m, url) =>
      url.includes('/metadata')
        ? {
            status: 200,
            body: JSON.stringify({
              name: 'sales',
              kind: 'pandas.dfrows',
              version: 1,
              size: 2048,
              columns: [
                { name: 'city', dtype: 'object' },
                { name: 'amount', dtype: 'int64' }
              ],
              versions: [1],
              kind_meta: { rows: 3 }
            })
          }
        : {
            status: 200,
            body: JSON.stringify({
              name: 'sales',
              version: 1,
              kind: 'pandas.dfrows',
              data: [{ city: 'Zurich', amount: 1 }]
            })
          }
    );
    const preview = await new OmegaService(settings).previewDataset('sales', 100);
    expect(preview.totalRows).toBe(3);
    expect(preview.columns.map(c => c.dtype)).toEqual(['object', 'int64']);
    expect(preview.rows).toEqual([{ city: 'Zurich', amount: 1 }]);
  });
});

describe('OmegaService: schedules, deletes, runs', () => {
  it('pauses and resumes a schedule with PATCH {paused}', async () => {
    const { settings, calls } = settingsFor((_m, _u, body) =>
      ok({ name: 'reports/daily', cron: '30 8 * * 1-5', paused: JSON.parse(body!).paused })
    );
    const service = new OmegaService(settings);
    const paused = await service.pauseSchedule('reports/daily', true);
    expect(paused.paused).toBe(true);
    const resumed = await service.pauseSchedule('reports/daily', false);
    expect(resumed.paused).toBe(false);
    expect(calls.map(c => c.method)).toEqual(['PATCH', 'PATCH']);
    expect(calls[0].url).toMatch(/omega\/api\/v1\/jobs\/reports\/daily\/schedule$/);
    expect(JSON.parse(calls[0].body!)).toEqual({ paused: true });
    expect(JSON.parse(calls[1].body!)).toEqual({ paused: false });
  });

  it('keeps the server message when a pause is refused', async () => {
    const { settings } = settingsFor(() => fail(404, 'not_found', "job 'x' has no schedule"));
    const service = new OmegaService(settings);
    await expect(service.pauseSchedule('x', true)).rejects.toThrow("job 'x' has no schedule");
  });

  it('deletes models and scripts by their encoded names', async () => {
    const { settings, calls } = settingsFor((_m, url) =>
      ok({ name: decodeURIComponent(url.split('/').pop()!), deleted: true })
    );
    const service = new OmegaService(settings);
    const model = await service.dropModel("ui/odd model's #1");
    expect(model.deleted).toBe(true);
    await service.dropScript('etl/load?v=2');
    await service.drop('datasets', 'sales 2024');
    expect(calls.map(c => c.method)).toEqual(['DELETE', 'DELETE', 'DELETE']);
    expect(calls[0].url).toMatch(/\/omega\/api\/v1\/models\/ui\/odd%20model's%20%231$/);
    expect(calls[1].url).toMatch(/\/omega\/api\/v1\/scripts\/etl\/load%3Fv%3D2$/);
    expect(calls[2].url).toMatch(/\/omega\/api\/v1\/datasets\/sales%202024$/);
  });

  it('reads a script summary', async () => {
    const { settings, calls } = settingsFor(() => ok({ name: 'etl', kind: 'python.package' }));
    const script = await new OmegaService(settings).getScript('etl');
    expect(script.kind).toBe('python.package');
    expect(calls[0].method).toBe('GET');
    expect(calls[0].url).toMatch(/\/omega\/api\/v1\/scripts\/etl(\?|$)/);
  });

  it('pages runs with limit and offset and reads the total', async () => {
    const { settings, calls } = settingsFor(() =>
      ok({ items: [{ id: 'r51' }], total: 120, limit: 50, offset: 50 })
    );
    const page = await new OmegaService(settings).runs({
      limit: 50,
      offset: 50,
      job: 'reports/daily',
      state: 'failed'
    });
    expect(page.total).toBe(120);
    expect(page.offset).toBe(50);
    expect(calls[0].url).toMatch(
      /\/omega\/api\/v1\/runs\?limit=50&offset=50&job=reports%2Fdaily&state=failed/
    );
  });
});

describe('previewOf', () => {
  it('puts index levels first', () => {
    const p = previewOf(
      {
        name: 'x',
        kind: 'k',
        version: 1,
        size: 1,
        columns: [{ name: 'a', dtype: 'int64' }],
        versions: [1]
      },
      { name: 'x', kind: 'k', version: 1, data: [{ day: '2024-01-01', a: 1 }] }
    );
    expect(p.columns).toEqual([
      { name: 'day', dtype: 'index' },
      { name: 'a', dtype: 'int64' }
    ]);
    expect(p.totalRows).toBeNull();
  });
});
