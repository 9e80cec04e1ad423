import { ModelView, resultTable, valueText } from '../modelview';
import { OmegaService } from '../service';

import { ok, settingsFor } from './fakeServer';

describe('predict results as a table', () => {
  it('one prediction column for a flat result, a row each', () => {
    expect(resultTable([0, 1, 1])).toEqual({
      columns: ['prediction'],
      rows: [[0], [1], [1]]
    });
  });

  it('a column per output for rows of values (predict_proba)', () => {
    expect(
      resultTable([
        [0.25, 0.75],
        [0.5, 0.5]
      ])
    ).toEqual({
      columns: ['prediction_0', 'prediction_1'],
      rows: [
        [0.25, 0.75],
        [0.5, 0.5]
      ]
    });
  });

  it('the keys of records as columns, missing keys as null', () => {
    expect(resultTable([{ a: 1 }, { a: 2, b: 'x' }])).toEqual({
      columns: ['a', 'b'],
      rows: [
        [1, null],
        [2, 'x']
      ]
    });
  });

  it('shows missing values as None and floats at six significant digits', () => {
    expect(valueText(null)).toBe('None');
    expect(valueText(undefined)).toBe('None');
    expect(valueText(1 / 3)).toBe('0.333333');
    expect(valueText(12)).toBe('12');
  });
});

describe('the model view', () => {
  const details = {
    name: 'iris_model',
    version: 2,
    class: 'sklearn.linear_model.LogisticRegression',
    format: 'skops',
    signature: { columns: ['x'], dtypes: ['float64'] },
    versions: [
      { version: 1, created: '2026-12-01T10:00:00+00:00', tags: ['prod'], lineage: {} },
      {
        version: 2,
        created: '2026-12-01T11:00:00+00:00',
        tags: [],
        lineage: {
          action: 'fit',
          run_id: 'abcdef0123456789',
          datasets: [{ name: 'train', version: 3, role: 'X' }]
        }
      }
    ],
    experiments: [
      {
        experiment: 'iris-exp',
        run: 1,
        status: 'succeeded',
        started: '2026-12-01T11:00:00+00:00',
        model_version: 2,
        runtime_run: null,
        metrics: { accuracy: 0.75 }
      }
    ],
    libraries: { sklearn: '1.6.1' }
  };

  it('shows versions newest first with their tags, lineage links, signature and metrics', () => {
    const opened: string[] = [];
    const { settings } = settingsFor(() => ok({ items: [], total: 0 }));
    const view = new ModelView('iris_model', new OmegaService(settings), {
      openDataset: name => opened.push(`dataset ${name}`),
      openRun: id => opened.push(`run ${id}`)
    });
    view.showDetails(details);
    const rows = view.node.querySelectorAll('.jp-omega-model-versions-table tbody tr');
    expect(Array.from(rows).map(r => (r as HTMLElement).dataset.version)).toEqual(['2', '1']);
    expect(rows[1].querySelector('.jp-omega-tag')!.textContent).toBe('prod');
    const links = rows[0].querySelectorAll<HTMLButtonElement>('.jp-omega-link');
    expect(Array.from(links).map(a => a.textContent)).toEqual(['train@3', 'run abcdef01']);
    links.forEach(a => a.click());
    expect(opened).toEqual(['dataset train', 'run abcdef0123456789']);
    expect(rows[1].textContent).toContain('stored with put');
    const metrics = view.node.querySelector('.jp-omega-metrics-table')!;
    expect(metrics.querySelector('thead')!.textContent).toContain('accuracy');
    expect(metrics.querySelector('tbody')!.textContent).toContain('0.75');
    expect(view.node.querySelector('.jp-omega-signature-table tbody')!.textContent).toBe(
      'xfloat64'
    );
    const options = Array.from(view.predictParts.version.options).map(o => o.text);
    expect(options).toEqual(['latest', 'v2', 'v1 (prod)']);
  });

  it('predicts with the picked version and saves the result as a dataset', async () => {
    const { settings, calls } = settingsFor((method, url) => {
      if (url.includes('/predict')) {
        return ok({ model: 'iris_model', version: 1, result: [0, 1] });
      }
      if (method === 'PUT') {
        return ok({ name: 'out', version: 1, kind: 'pandas.dfrows', modified: '', size: 1 }, 201);
      }
      return ok({ items: [], total: 0 });
    });
    const view = new ModelView('iris_model', new OmegaService(settings), {
      openDataset: () => undefined,
      openRun: () => undefined
    });
    view.showDetails(details);
    const { version, dataset, result } = view.predictParts;
    version.value = '1';
    dataset.value = 'sales';
    await view.predict();
    const predict = calls.find(c => c.url.includes('/predict'))!;
    expect(predict.url).toMatch(/model\/iris_model%401\/predict\?datax=sales/);
    expect(result.querySelectorAll('.jp-omega-predict-table tbody tr')).toHaveLength(2);
    expect(result.textContent).toContain('2 predictions of iris_model v1 on sales');
    const name = result.querySelector<HTMLInputElement>('.jp-omega-predict-save input')!;
    name.value = 'out';
    result.querySelector<HTMLButtonElement>('.jp-omega-predict-save-button')!.click();
    await new Promise(resolve => setTimeout(resolve, 20));
    const put = calls.find(c => c.method === 'PUT')!;
    expect(put.url).toMatch(/datasets\/out$/);
    expect(JSON.parse(put.body!)).toEqual({ columns: ['prediction'], data: [[0], [1]] });
    expect(result.textContent).toContain('Saved out (version 1, 2 rows)');
  });
});
