import { RenderMimeRegistry } from '@jupyterlab/rendermime';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import {
  metricChartKind,
  metricPoints,
  metricSpec,
  metricTabLabel,
  metricTitle,
  runsText,
  VEGALITE_SCHEMA
} from '../charts';
import { chartTabId, initialRuns, MetricChart } from '../expchart';
import { ExperimentApi, IExperimentEvent, IExperimentRun } from '../experiments';
import { VEGALITE_MIME } from '../profile';
import { fail, ok, settingsFor } from './fakeServer';

function event(run: number | null, step: number | null, value: unknown): IExperimentEvent {
  return {
    experiment: 'iris',
    run,
    step,
    event: 'metric',
    key: 'accuracy',
    value,
    dt: '2026-12-02T09:00:00+00:00'
  };
}

describe('metric points', () => {
  it('keeps finite numbers, fills missing steps in logging order, sorts by run and step', () => {
    const points = metricPoints([
      event(2, 1, 0.7),
      event(1, null, 0.5),
      event(2, 0, 0.6),
      event(1, null, 'n/a'),
      event(1, null, 0.55),
      event(1, 7, NaN),
      event(null, null, 0.1) // outside runs (a tracked prediction): not a run's value
    ]);
    expect(points.map(p => [p.run, p.step, p.value])).toEqual([
      [1, 0, 0.5],
      [1, 2, 0.55],
      [2, 0, 0.6],
      [2, 1, 0.7]
    ]);
    expect(metricChartKind(points)).toBe('steps');
    expect(metricChartKind(metricPoints([event(1, 3, 0.5), event(2, 3, 0.6)]))).toBe('runs');
    expect(metricChartKind([])).toBe('runs');
  });
});

describe('metric titles', () => {
  it('names the runs shortly', () => {
    expect(runsText([])).toBe('');
    expect(runsText([2])).toBe('run 2');
    expect(runsText([3, 1])).toBe('runs 1, 3');
    expect(runsText([1, 2])).toBe('runs 1, 2');
    expect(runsText([4, 2, 3, 1, 3])).toBe('runs 1–4');
    expect(metricTitle('team/iris', 'accuracy', [2])).toBe('team/iris · accuracy · run 2');
    expect(metricTitle('iris', '', [])).toBe('iris');
    expect(metricTabLabel('iris', 'accuracy', [1, 2])).toBe('iris · accuracy');
    expect(metricTabLabel('iris', 'accuracy', [2])).toBe('iris run 2 · accuracy');
    expect(metricTabLabel('iris', '', [])).toBe('iris');
  });
});

describe('metric specs', () => {
  const options = { experiment: 'iris', metric: 'accuracy', runs: [1, 2], width: 500 };

  it('draws a line per run over steps, overlaid, a colour per run', () => {
    const points = metricPoints([event(1, 0, 0.5), event(1, 1, 0.6), event(2, 0, 0.55)]);
    const spec = metricSpec(points, options)!;
    expect(spec.$schema).toBe(VEGALITE_SCHEMA);
    expect(spec.title).toBe('iris · accuracy · runs 1, 2');
    expect(spec.width).toBe(500);
    expect(spec.mark).toEqual({ type: 'line', point: true, tooltip: true });
    const encoding = spec.encoding as Record<string, Record<string, unknown>>;
    expect(encoding.x).toMatchObject({ field: 'step', type: 'quantitative' });
    expect(encoding.y).toMatchObject({ field: 'value', title: 'accuracy' });
    expect(encoding.color).toMatchObject({ field: 'run', type: 'nominal' });
    const values = (spec.data as { values: Record<string, unknown>[] }).values;
    expect(values.map(v => [v.run, v.step, v.value])).toEqual([
      [1, 0, 0.5],
      [1, 1, 0.6],
      [2, 0, 0.55]
    ]);
  });

  it('draws a bar per run when each run has one value', () => {
    const spec = metricSpec(metricPoints([event(1, null, 0.5), event(2, null, 0.7)]), options)!;
    expect(spec.mark).toEqual({ type: 'bar', tooltip: true });
    const encoding = spec.encoding as Record<string, Record<string, unknown>>;
    expect(encoding.x).toMatchObject({ field: 'run', type: 'ordinal' });
    expect(encoding.color).toBeUndefined();
  });

  it('has nothing to draw without values', () => {
    expect(metricSpec([], options)).toBeNull();
  });
});

/** A rendermime registry whose Vega-Lite renderer keeps the specs it was given. */
function registry(): { rendermime: RenderMimeRegistry; specs: Record<string, unknown>[] } {
  const specs: Record<string, unknown>[] = [];
  const factory: IRenderMime.IRendererFactory = {
    safe: true,
    mimeTypes: [VEGALITE_MIME],
    createRenderer: () => {
      const widget = new Widget() as Widget & IRenderMime.IRenderer;
      widget.renderModel = async model => {
        specs.push(model.data[VEGALITE_MIME] as Record<string, unknown>);
        widget.node.textContent = 'chart';
      };
      return widget;
    }
  };
  return { rendermime: new RenderMimeRegistry({ initialFactories: [factory] }), specs };
}

const TIMES = { started: null, stopped: null, duration: null };
const RUNS: IExperimentRun[] = [
  {
    run: 1,
    status: 'succeeded',
    ...TIMES,
    'param.C': 0.1,
    'metric.accuracy': 0.6,
    'metric.f1': 0.5
  },
  { run: 2, status: 'succeeded', ...TIMES, 'param.C': 1, 'metric.accuracy': 0.8 },
  { run: 3, status: 'failed', ...TIMES, 'param.C': 10, 'metric.loss': 2 }
];

function experimentServer() {
  return settingsFor((_m, url) => {
    const u = new URL(url);
    if (u.pathname.endsWith('/experiments/iris/runs')) {
      return ok({ experiment: 'iris', items: RUNS });
    }
    if (u.pathname.endsWith('/experiments/iris/data')) {
      const key = u.searchParams.get('key');
      const runs = (u.searchParams.get('run') ?? '').split(',').map(Number);
      const items = runs.flatMap(run =>
        [0, 1, 2].map(step => ({ ...event(run, step, run / 10 + step / 100), key }))
      );
      return ok({ experiment: 'iris', items });
    }
    return fail(404, 'not_found', 'no such experiment');
  });
}

describe('the chart tab of an experiment', () => {
  it('starts with the run it was opened on, or the latest runs', () => {
    const runs = Array.from({ length: 14 }, (_, i) => ({ ...RUNS[0], run: i + 1 }));
    expect(initialRuns({ experiment: 'iris', run: 3, metric: null }, runs)).toEqual([3]);
    expect(initialRuns({ experiment: 'iris', run: null, metric: null }, runs)).toEqual([
      5, 6, 7, 8, 9, 10, 11, 12, 13, 14
    ]);
    expect(chartTabId({ experiment: 'a/b c', run: null, metric: 'x' })).toBe(
      'omega-experiment-chart-a%2Fb%20c-all'
    );
  });

  it('charts the first metric of every run, fetched in one request, and follows the picks', async () => {
    const { settings, calls } = experimentServer();
    const { rendermime, specs } = registry();
    const titles: [string, string][] = [];
    const chart = new MetricChart({
      api: new ExperimentApi(settings),
      target: { experiment: 'iris', run: null, metric: null },
      rendermime,
      onTitle: (title, label) => titles.push([title, label])
    });
    await chart.load();
    expect(chart.metric).toBe('accuracy');
    expect(chart.selectedRuns).toEqual([1, 2, 3]);
    const data = calls.filter(c => c.url.includes('/data'));
    expect(data).toHaveLength(1);
    const query = new URL(data[0].url).searchParams;
    expect([query.get('event'), query.get('key'), query.get('run')]).toEqual([
      'metric',
      'accuracy',
      '1,2' // run 3 logged no accuracy
    ]);
    expect(chart.chartTitle).toBe('iris · accuracy · runs 1, 2');
    expect(titles[titles.length - 1]).toEqual(['iris · accuracy · runs 1, 2', 'iris · accuracy']);
    expect(specs).toHaveLength(1);
    expect((specs[0].data as { values: unknown[] }).values).toHaveLength(6);
    const picker = chart.node.querySelector<HTMLSelectElement>('.jp-omega-expchart-metric')!;
    expect(Array.from(picker.options).map(o => o.value)).toEqual(['accuracy', 'f1', 'loss']);
    const box = (run: number) =>
      chart.node.querySelector<HTMLInputElement>(`input[data-run="${run}"]`)!;
    expect(box(3).disabled).toBe(true);
    expect(chart.node.querySelector('.jp-omega-chartview-status')!.textContent).toBe('6 values');

    await chart.setMetric('loss');
    expect(chart.chartTitle).toBe('iris · loss · run 3');
    expect(box(1).disabled).toBe(true);
    expect(box(3).disabled).toBe(false);

    await chart.setMetric('accuracy');
    await chart.setRun(1, false);
    expect(chart.chartTitle).toBe('iris · accuracy · run 2');
    const last = calls[calls.length - 1];
    expect(new URL(last.url).searchParams.get('run')).toBe('2');
    expect(specs[specs.length - 1].title).toBe('iris · accuracy · run 2');
    chart.dispose();
  });

  it('opens on one run and metric; says so when nothing can be drawn', async () => {
    const { settings } = experimentServer();
    const { rendermime } = registry();
    const chart = new MetricChart({
      api: new ExperimentApi(settings),
      target: { experiment: 'iris', run: 2, metric: 'accuracy' },
      rendermime
    });
    await chart.load();
    expect(chart.selectedRuns).toEqual([2]);
    expect(chart.chartTitle).toBe('iris · accuracy · run 2');
    await chart.setRun(2, false);
    expect(chart.node.textContent).toContain('choose a run that logged accuracy');
    chart.dispose();
  });

  it('shows the server’s message when the experiment is gone', async () => {
    const { settings } = experimentServer();
    const chart = new MetricChart({
      api: new ExperimentApi(settings),
      target: { experiment: 'gone', run: null, metric: null },
      rendermime: null
    });
    await chart.load();
    const status = chart.node.querySelector('.jp-omega-chartview-status')!;
    expect(status.textContent).toBe('no such experiment');
    expect(status.classList.contains('jp-omega-error')).toBe(true);
    chart.dispose();
  });
});
