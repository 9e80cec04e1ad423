import {
  ExperimentApi,
  experimentCode,
  experimentKey,
  metricNames,
  metricsText,
  paramsText,
  parseExperimentKey,
  shortValue
} from '../experiments';
import { ExperimentsSection, experimentRunView, experimentView } from '../expsection';
import { insertCode } from '../format';
import { OmegaPanel } from '../panel';
import { OmegaService } from '../service';
import { ok, settingsFor } from './fakeServer';

const RUN = {
  run: 2,
  started: '2026-12-02T09:00:00+00:00',
  stopped: '2026-12-02T09:00:01+00:00',
  status: 'succeeded',
  duration: 1.25,
  model: 'iris_lr',
  model_version: 3,
  'param.penalty': 'l2',
  'param.C': 1,
  'param.tol': null,
  'metric.accuracy': 0.912345,
  'metric.f1': 0.9
};

describe('experiment row keys', () => {
  it('read back: experiment, run, metric of a run, metric across runs', () => {
    const targets = [
      { experiment: 'team/iris 2', run: null, metric: null },
      { experiment: 'iris', run: 12, metric: null },
      { experiment: 'iris', run: 3, metric: 'val:loss@top' },
      { experiment: 'iris', run: null, metric: 'accuracy' }
    ];
    const keys = targets.map(experimentKey);
    expect(keys).toEqual(['team/iris 2', 'iris@12', 'iris@3:val:loss@top', 'iris@*:accuracy']);
    expect(keys.map(parseExperimentKey)).toEqual(targets);
  });

  it('insert the code that loads what the row stands for', () => {
    expect(experimentCode("it's")).toBe(
      'import omega_jupyter as om\nexp = om.runtime.experiment("it\'s")\nexp.runs()'
    );
    expect(experimentCode('iris@2')).toContain('exp.data(run=2)');
    expect(experimentCode('iris@*:acc "x"')).toContain(
      'exp.data(event="metric", key="acc \\"x\\"", run="*")\nexp.plot("acc \\"x\\"", run="*")'
    );
    expect(insertCode('experiments', 'iris@2:f1')).toContain('exp.plot("f1", run=2)');
  });
});

describe('run facts', () => {
  it('params and last metrics, sorted, short', () => {
    expect(paramsText(RUN)).toBe('C=1 · penalty=l2');
    expect(metricsText(RUN)).toBe('accuracy 0.9123 · f1 0.9');
    expect(shortValue(true)).toBe('True');
    expect(shortValue([1, 2])).toBe('[1,2]');
    expect(shortValue(1e-7)).toBe('1e-7');
    expect(metricNames([RUN, { run: 3, status: 'running', 'metric.loss': 1 }] as never)).toEqual([
      'accuracy',
      'f1',
      'loss'
    ]);
    expect(metricNames([RUN, { run: 3, status: 'x', 'metric.loss': 1 }] as never, [3])).toEqual([
      'loss'
    ]);
  });

  it('rows say what a person looks for', () => {
    const view = experimentView({ name: 'iris', runs: 2, events: 48, last: null });
    expect([view.key, view.label, view.detail]).toEqual(['iris', 'iris', '2 runs']);
    expect(view.title).toContain('2 runs, 48 events');
    const run = experimentRunView('iris', RUN as never);
    expect([run.key, run.label, run.detail, run.state]).toEqual([
      'iris@2',
      'run 2',
      'succeeded · 1.3 s',
      'succeeded'
    ]);
    expect(run.title).toContain('model: iris_lr v3');
    expect(run.title).toContain('  penalty = l2');
    expect(run.title).toContain('  accuracy = 0.9123');
  });
});

/** A server with experiments iris (2 runs) and team/churn (1 run). */
function server() {
  const experiments = [
    { name: 'iris', runs: 2, events: 30, last: '2026-12-02T09:00:00+00:00' },
    { name: 'team/churn', runs: 1, events: 5, last: '2026-12-02T09:00:00+00:00' }
  ];
  return settingsFor((_m, url) => {
    const u = new URL(url);
    if (u.pathname.endsWith('/api/v1/experiments')) {
      const pattern = u.searchParams.get('name');
      const items = pattern
        ? experiments.filter(e => e.name.includes(pattern.replace(/\*/g, '')))
        : experiments;
      return ok({ items, total: items.length, offset: 0, limit: 50 });
    }
    if (u.pathname.endsWith('/experiments/iris/runs')) {
      return ok({ experiment: 'iris', items: [{ ...RUN, run: 1 }, RUN] });
    }
    return ok({ items: [], total: 0 });
  });
}

describe('the Experiments section', () => {
  it('lists experiments, expands one to its runs and metrics, searches on the server', async () => {
    const { settings, calls } = server();
    const activated: [string, string][] = [];
    const panel = new OmegaPanel({
      service: new OmegaService(settings),
      refreshInterval: 0,
      onActivate: (section, key) => activated.push([section, key])
    });
    const section = panel.section('experiments') as unknown as ExperimentsSection;
    expect(section).toBeInstanceOf(ExperimentsSection);
    expect(section.node.querySelector('.jp-omega-section-title')!.textContent).toBe('Experiments');
    await section.model.refresh();
    const rows = () =>
      Array.from(section.node.querySelectorAll<HTMLElement>('.jp-omega-item')).map(
        r => `${r.dataset.kind}:${r.dataset.key}`
      );
    expect(rows()).toEqual(['experiment:iris', 'experiment:team/churn']);
    expect(section.node.querySelector('.jp-omega-count')!.textContent).toBe('2');

    // The twisty expands; the runs come from experiments/iris/runs, the latest first.
    const twisty = section.node.querySelector<HTMLElement>('.jp-omega-twisty')!;
    twisty.click();
    expect(section.node.textContent).toContain('loading runs');
    await new Promise(resolve => setTimeout(resolve, 0));
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(rows()).toEqual([
      'experiment:iris',
      'run:iris@2',
      'run:iris@1',
      'metric:iris@*:accuracy',
      'metric:iris@*:f1',
      'experiment:team/churn'
    ]);
    const run = section.node.querySelector<HTMLElement>('.jp-omega-item[data-key="iris@2"]')!;
    expect(run.querySelector('.jp-omega-exp-params')!.textContent).toBe('C=1 · penalty=l2');
    expect(run.querySelector('.jp-omega-exp-metrics')!.textContent).toBe(
      'accuracy 0.9123 · f1 0.9'
    );
    expect(section.node.querySelector('.jp-omega-item[data-kind="metric"]')!.textContent).toContain(
      'metric · 2 runs'
    );

    // A double-click on a run or metric opens it; on an experiment it collapses.
    run.dispatchEvent(new MouseEvent('dblclick', { bubbles: true }));
    expect(activated).toEqual([['experiments', 'iris@2']]);
    section.node
      .querySelector('.jp-omega-item[data-key="iris"]')!
      .dispatchEvent(new MouseEvent('dblclick', { bubbles: true }));
    expect(rows()).toEqual(['experiment:iris', 'experiment:team/churn']);
    expect(activated).toHaveLength(1);

    // A refresh of the list fetches the runs of expanded experiments again.
    section.toggleExpanded('iris', true);
    const runCalls = () => calls.filter(c => c.url.includes('/iris/runs')).length;
    const before = runCalls();
    await panel.refresh(true);
    expect(runCalls()).toBe(before + 1);

    await section.model.setSearch('churn');
    const listed = calls.filter(c => new URL(c.url).pathname.endsWith('/experiments'));
    expect(new URL(listed[listed.length - 1].url).searchParams.get('name')).toBe('*churn*');
    expect(rows()).toEqual(['experiment:team/churn']);
    panel.dispose();
  });

  it('asks the server for runs and metric values of several runs in one call', async () => {
    const { settings, calls } = settingsFor(() => ok({ items: [] }));
    const api = new ExperimentApi(settings);
    await api.list({ pattern: '*ir*', limit: 5 });
    await api.runs('team/iris 2');
    await api.metric('team/iris 2', 'val loss', [1, 3]);
    await api.metric('iris', 'f1');
    const urls = calls.map(c => new URL(c.url));
    expect(urls.map(u => u.pathname.replace('/hub/user/ann/omega/api/v1/', ''))).toEqual([
      'experiments',
      'experiments/team/iris%202/runs',
      'experiments/team/iris%202/data',
      'experiments/iris/data'
    ]);
    expect(urls[0].searchParams.get('name')).toBe('*ir*');
    expect(Object.fromEntries(urls[2].searchParams)).toMatchObject({
      event: 'metric',
      key: 'val loss',
      run: '1,3',
      limit: '10000'
    });
    expect(urls[3].searchParams.get('run')).toBe('*');
  });
});
