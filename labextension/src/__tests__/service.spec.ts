import { ServerConnection } from '@jupyterlab/services';

import { OmegaApiError, encodeName, errorFromResponse, queryString } from '../api';
import { OmegaService, previewOf } from '../service';

type Answer = { status: number; body: string };

/** Settings whose fetch records each request and answers from `route`. */
function settingsFor(route: (method: string, url: string, body: string | null) => Answer) {
  const calls: { method: string; url: string; body: string | null }[] = [];
  const fetchImpl = async (input: RequestInfo, init?: RequestInit) => {
    const request = input as Request;
    const method = request.method ?? init?.method ?? 'GET';
    const url = request.url ?? String(input);
    const text = init?.body ? String(init.body) : request.text ? await request.text() : '';
    const body = text || null;
    calls.push({ method, url, body });
    const answer = route(method, url, body);
    return new Response(answer.body, {
      status: answer.status,
      headers: { 'Content-Type': 'application/json' }
    });
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/hub/user/ann/',
    wsUrl: 'ws://localhost:8888/hub/user/ann/',
    fetch: fetchImpl as typeof fetch
  });
  return { settings, calls };
}

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
    await expect(service.datasetMetadata('x')).rejects.toThrow('the database is down');
    await expect(service.datasetMetadata('x')).rejects.toBeInstanceOf(OmegaApiError);
  });

  it('stores notebooks with PUT and a JSON body', async () => {
    const { settings, calls } = settingsFor(() => ({
      status: 201,
      body: JSON.stringify({ name: 'reports/daily', version: 2 })
    }));
    const service = new OmegaService(settings);
    const nb = { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 };
    const summary = await service.putNotebook('reports/daily', nb);
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
