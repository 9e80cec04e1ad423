import { RenderMimeRegistry } from '@jupyterlab/rendermime';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import {
  comparisonsText,
  DriftApi,
  IDriftMonitor,
  IDriftRecord,
  driftNumber,
  driftTabId,
  latestBaseline,
  latestComparison,
  monitorSummary,
  sizedSpec
} from '../drift';
import { DriftChart } from '../driftchart';
import { VEGALITE_MIME } from '../profile';
import { fail, ok, settingsFor } from './fakeServer';

function record(dt: string, feature: string, drift: boolean, current = 's2'): IDriftRecord {
  return {
    dt,
    feature,
    kind: 'numeric',
    test: 'ks',
    statistic: drift ? 0.41 : 0.02,
    pvalue: drift ? 3.2e-22 : 0.52,
    psi: drift ? 0.87 : 0.01,
    drift,
    current
  };
}

const T1 = '2026-12-01T06:00:00+00:00';
const T2 = '2026-12-02T06:00:00+00:00';
const HISTORY = [
  record(T1, 'income', false, 's1'),
  record(T1, 'age', false, 's1'),
  record(T2, 'income', true),
  record(T2, 'age', false)
];
const MONITOR: IDriftMonitor = {
  model: 'credit/scorer',
  experiment: 'credit-prod',
  schedule: null,
  items: [
    { snapshot: 's0', label: 'baseline', dt: T1, rows: 2000, features: [], dataset: null },
    { snapshot: 's1', label: 'current', dt: T1, rows: 1000, features: [], dataset: null },
    { snapshot: 's2', label: 'current', dt: T2, rows: 1000, features: [], dataset: null }
  ]
};

describe('drift figures', () => {
  it('takes the latest comparison: the records of the last time and snapshot', () => {
    expect(latestComparison([])).toEqual([]);
    expect(latestComparison(HISTORY).map(r => [r.feature, r.drift])).toEqual([
      ['income', true],
      ['age', false]
    ]);
    // The same snapshot compared twice at different times: only the last one.
    const again = [...HISTORY, record('2026-12-03T06:00:00+00:00', 'income', true)];
    expect(latestComparison(again)).toHaveLength(1);
  });

  it('formats statistics and p-values shortly', () => {
    expect(driftNumber(0.412345)).toBe('0.4123');
    expect(driftNumber(3.2e-22)).toBe('3.2e-22');
    expect(driftNumber(0)).toBe('0');
    expect(driftNumber(12.5)).toBe('12.5');
    expect(driftNumber(null)).toBe('—');
    expect(driftNumber(NaN)).toBe('—');
  });

  it('sums up the monitor', () => {
    expect(latestBaseline(MONITOR)?.snapshot).toBe('s0');
    expect(latestBaseline({ ...MONITOR, items: MONITOR.items.slice(1) })).toBeNull();
    const text = monitorSummary(MONITOR);
    expect(text).toMatch(/^tracked in credit-prod · 3 snapshots · baseline .* \(2,000 rows\)/);
    expect(text).toMatch(/no scheduled check$/);
    const scheduled = { ...MONITOR, schedule: { when: 'daily at 06:00', paused: true } };
    expect(monitorSummary(scheduled)).toMatch(/checked daily at 06:00 \(paused\)$/);
    expect(sizedSpec({ mark: 'line' }, 500)).toEqual({ mark: 'line', width: 500, height: 300 });
    expect(comparisonsText(HISTORY)).toBe('2 comparisons · 2 features');
    expect(comparisonsText(HISTORY.slice(0, 1))).toBe('1 comparison · 1 feature');
    expect(driftTabId('a/b c')).toBe('omega-drift-a%2Fb%20c');
  });
});

function registry(): { rendermime: RenderMimeRegistry; specs: Record<string, unknown>[] } {
  const specs: Record<string, unknown>[] = [];
  const factory: IRenderMime.IRendererFactory = {
    safe: true,
    mimeTypes: [VEGALITE_MIME],
    createRenderer: () => {
      const widget = new Widget() as Widget & IRenderMime.IRenderer;
      widget.renderModel = async model => {
        specs.push(model.data[VEGALITE_MIME] as Record<string, unknown>);
      };
      return widget;
    }
  };
  return { rendermime: new RenderMimeRegistry({ initialFactories: [factory] }), specs };
}

function monitorServer(monitor: IDriftMonitor, history: IDriftRecord[]) {
  return settingsFor((_m, url) => {
    const path = new URL(url).pathname;
    if (!path.includes('/models/credit/scorer/')) {
      return fail(404, 'not_found', "model 'plain' is not tracked");
    }
    if (path.endsWith('/monitor')) {
      return ok(monitor);
    }
    if (path.endsWith('/monitor/history')) {
      return ok({ model: monitor.model, items: history });
    }
    const measure = new URL(url).searchParams.get('measure');
    return ok({ title: `drift: ${measure}`, data: { values: history }, mark: 'line' });
  });
}

describe('the drift tab', () => {
  it('draws the chart of the measure picked and lists the latest verdicts', async () => {
    const { settings, calls } = monitorServer(MONITOR, HISTORY);
    const { rendermime, specs } = registry();
    const chart = new DriftChart('credit/scorer', new DriftApi(settings), rendermime);
    await chart.load();
    expect(specs).toHaveLength(1);
    expect(specs[0].title).toBe('drift: statistic');
    expect(specs[0].width).toBeGreaterThan(0);
    const rows = chart.node.querySelectorAll('.jp-omega-drift-table tbody tr');
    expect(Array.from(rows).map(r => r.textContent)).toEqual([
      'incomeks0.413.2e-220.87drifted',
      'ageks0.020.520.01no'
    ]);
    await chart.setMeasure('pvalue');
    expect(specs[specs.length - 1].title).toBe('drift: pvalue');
    const plot = calls[calls.length - 1].url;
    expect(plot).toMatch(/\/models\/credit\/scorer\/monitor\/plot\?measure=pvalue/);
    chart.dispose();
  });

  it('says when the model is not tracked, has no baseline or compared nothing', async () => {
    const say = async (monitor: IDriftMonitor, history: IDriftRecord[], model: string) => {
      const { settings } = monitorServer(monitor, history);
      const chart = new DriftChart(model, new DriftApi(settings), registry().rendermime);
      await chart.load();
      const text = chart.node.querySelector('.jp-omega-chartview-empty')?.textContent;
      expect(chart.node.querySelector('table')).toBeNull();
      chart.dispose();
      return text;
    };
    expect(await say(MONITOR, HISTORY, 'plain')).toBe("model 'plain' is not tracked");
    const noBaseline = { ...MONITOR, items: MONITOR.items.slice(1) };
    expect(await say(noBaseline, HISTORY, 'credit/scorer')).toMatch(/no baseline snapshot yet/);
    expect(await say(MONITOR, [], 'credit/scorer')).toMatch(/No drift comparison/);
  });
});
