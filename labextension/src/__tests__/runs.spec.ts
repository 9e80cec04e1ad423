/**
 * Run groups, Run for each… and the Runs view: the pure logic (segments, parsing of parameter
 * lists, sorting, titles, file names) and the requests they make.
 */
import {
  groupIdOf,
  groupKey,
  groupSegments,
  groupState,
  groupSummary,
  groupView,
  parametersText
} from '../groups';
import { MapForm, parseMembers, parseParallel, splitValues } from '../mapdialog';
import { runFileStem, runIdOfPath } from '../runfile';
import { IGroupItem } from '../runsapi';
import {
  nextSort,
  RunsView,
  runsViewId,
  runsViewTitle,
  tableQuery,
  triggerLabel
} from '../runsview';
import { OmegaService } from '../service';
import { ok, settingsFor } from './fakeServer';

function group(over: Partial<IGroupItem> = {}): IGroupItem {
  return {
    type: 'group',
    id: 'g1',
    kind: 'job',
    target: 'reports/stores',
    target_version: 2,
    trigger: 'map',
    submitted: '2026-12-02T06:12:00+00:00',
    max_parallel: 2,
    counts: { pending: 0, queued: 0, running: 0, succeeded: 2, failed: 1, cancelled: 0 },
    total: 3,
    done: true,
    cancelled: false,
    failed: [
      { index: 1, run_id: 'r2', parameters: { store: 'bad' }, error: 'ValueError: no\nmore' }
    ],
    ...over
  };
}

describe('run groups', () => {
  it('splits the bar by state, in order, over the whole group', () => {
    const segments = groupSegments({ succeeded: 2, failed: 1, pending: 1 }, 4);
    expect(segments.map(s => [s.state, s.count, s.percent])).toEqual([
      ['succeeded', 2, 50],
      ['failed', 1, 25],
      ['pending', 1, 25]
    ]);
    expect(groupSegments({}, 0)).toEqual([]);
  });

  it('says the state and counts of a group in words', () => {
    expect(groupState(group())).toBe('failed');
    expect(groupState(group({ done: false }))).toBe('running');
    expect(groupState(group({ counts: { succeeded: 3 } }))).toBe('succeeded');
    expect(groupState(group({ counts: { succeeded: 2, cancelled: 1 }, cancelled: true }))).toBe(
      'cancelled'
    );
    expect(groupSummary(group())).toBe('3/3 ended · 1 failed');
    expect(
      groupSummary(group({ counts: { succeeded: 1, running: 2, pending: 3 }, total: 6 }))
    ).toBe('1/6 ended · 2 running · 3 pending');
  });

  it('keys group rows apart from runs', () => {
    expect(groupIdOf(groupKey('abc'))).toBe('abc');
    expect(groupIdOf('0123abcd')).toBeNull();
  });

  it('shows parameters as name=value', () => {
    expect(parametersText({ store: 'a', n: 2, f: [1, 2], x: null })).toBe(
      'store=a, n=2, f=[1,2], x=null'
    );
    expect(parametersText(null)).toBe('');
  });

  it('renders one row with a bar and, expanded, the failed members', () => {
    const toggled: string[] = [];
    const opened: string[] = [];
    const options = {
      expanded: false,
      onToggle: (id: string) => toggled.push(id),
      onOpenMember: (id: string) => opened.push(id)
    };
    const closed = groupView(group(), options);
    expect(closed.key).toBe('group:g1');
    expect(closed.label).toBe('reports/stores v2 ×3');
    expect(closed.kind).toBe('group');
    expect(closed.state).toBe('failed');
    expect(closed.extra!.querySelectorAll('.jp-omega-group-segment').length).toBe(2);
    expect(closed.extra!.querySelector('.jp-omega-group-member')).toBeNull();
    closed.extra!.querySelector<HTMLButtonElement>('.jp-omega-group-toggle')!.click();
    expect(toggled).toEqual(['g1']);

    const open = groupView(group(), { ...options, expanded: true });
    const member = open.extra!.querySelector<HTMLElement>('.jp-omega-group-member')!;
    expect(member.textContent).toContain('#1 store=bad');
    expect(member.querySelector('.jp-omega-group-member-error')!.textContent).toBe(
      'ValueError: no'
    );
    member.dispatchEvent(new MouseEvent('dblclick', { bubbles: true }));
    expect(opened).toEqual(['r2']);
  });
});

describe('Run for each: the parameter list', () => {
  it('reads one JSON object per line', () => {
    const parsed = parseMembers('{"store": "a"}\n\n# a comment\n{"store": "b", "n": 2}', ['store']);
    expect(parsed).toEqual({
      members: [{ store: 'a' }, { store: 'b', n: 2 }],
      error: '',
      unknown: ['n']
    });
  });

  it('reads name=a,b,c lines, every combination of several', () => {
    expect(parseMembers('store=a, b,7').members).toEqual([
      { store: 'a' },
      { store: 'b' },
      { store: 7 }
    ]);
    expect(parseMembers('store=a,b\nn=1,2').members).toEqual([
      { store: 'a', n: 1 },
      { store: 'a', n: 2 },
      { store: 'b', n: 1 },
      { store: 'b', n: 2 }
    ]);
    expect(parseMembers('day="2024-01-01","x,y"').members).toEqual([
      { day: '2024-01-01' },
      { day: 'x,y' }
    ]);
    expect(splitValues('[1,2],{"a":1},"b,c"')).toEqual(['[1,2]', '{"a":1}', '"b,c"']);
  });

  it('says what is wrong', () => {
    expect(parseMembers('').error).toMatch(/one parameter set per line/);
    expect(parseMembers('{"a": 1}\nb=2').error).toMatch(/not both/);
    expect(parseMembers('{"a": 1\n').error).toMatch(/Line 1 is not JSON/);
    expect(parseMembers('{"a": 1}\n{"b"}').error).toMatch(/Line 2 is not JSON/);
    expect(parseMembers('[1]').error).toMatch(/name=a,b,c or a JSON object/);
    expect(parseMembers('a=1\na=2').error).toMatch(/a is given twice/);
    expect(parseMembers('a=').error).toMatch(/a has no values/);
    const big = parseMembers(
      `a=${Array.from({ length: 200 }, (_, i) => i).join(',')}\nb=${Array.from({ length: 60 }, (_, i) => i).join(',')}`
    );
    expect(big.error).toMatch(/at most 10000/);
    expect(big.members).toEqual([]);
  });

  it('reads max_parallel', () => {
    expect(parseParallel('')).toBeUndefined();
    expect(parseParallel(' 3 ')).toBe(3);
    expect(parseParallel('0')).toBeInstanceOf(Error);
    expect(parseParallel('1.5')).toBeInstanceOf(Error);
  });

  it('submits the map with the members and max_parallel', async () => {
    const { settings, calls } = settingsFor(() =>
      ok({ group: 'g1', members: 3, location: '/omega/api/v1/groups/g1' }, 202)
    );
    const form = new MapForm(new OmegaService(settings), 'reports/stores', [
      { name: 'store', type: 'str', default: "'a'", help: '' }
    ]);
    form.textarea.value = 'store=a,bad,c';
    form.node.querySelector<HTMLInputElement>('.jp-omega-map-parallel')!.value = '2';
    const accepted = await form.submit();
    expect(accepted.group).toBe('g1');
    expect(calls).toHaveLength(1);
    expect(calls[0].method).toBe('POST');
    expect(calls[0].url).toMatch(/\/hub\/user\/ann\/omega\/api\/v1\/jobs\/reports\/stores\/map$/);
    expect(JSON.parse(calls[0].body!)).toEqual({
      members: [{ store: 'a' }, { store: 'bad' }, { store: 'c' }],
      max_parallel: 2
    });
    form.textarea.value = 'nonsense';
    await expect(form.submit()).rejects.toThrow(/name=a,b,c/);
    expect(calls).toHaveLength(1);
  });
});

describe('the Runs view', () => {
  it('flips the order on the same column; times start newest first', () => {
    expect(nextSort({ sort: 'submitted', order: 'desc' }, 'state')).toEqual({
      sort: 'state',
      order: 'asc'
    });
    expect(nextSort({ sort: 'state', order: 'asc' }, 'state')).toEqual({
      sort: 'state',
      order: 'desc'
    });
    expect(nextSort({ sort: 'state', order: 'asc' }, 'duration')).toEqual({
      sort: 'duration',
      order: 'desc'
    });
  });

  it('names tabs and triggers readably', () => {
    expect(runsViewTitle({})).toBe('Runs');
    expect(runsViewTitle({ target: 'reports/daily', kind: 'job' })).toBe('Runs · reports/daily');
    expect(runsViewTitle({ group: 'abcdef0123', groupLabel: 'reports/stores' })).toBe(
      'Runs · reports/stores (group)'
    );
    expect(runsViewId({ target: 'a b' })).not.toEqual(runsViewId({ target: 'a' }));
    expect(triggerLabel('api')).toBe('REST');
    expect(triggerLabel('map')).toBe('map');
  });

  it('queries with the filter, the controls and the sort', () => {
    expect(
      tableQuery(
        { target: 'reports/daily', kind: 'job' },
        { state: 'failed', kind: 'model', trigger: '', target: 'other' },
        { sort: 'duration', order: 'asc' },
        { limit: 50, offset: 0 }
      )
    ).toEqual({
      limit: 50,
      offset: 0,
      sort: 'duration',
      order: 'asc',
      state: 'failed',
      kind: 'job',
      trigger: undefined,
      target: 'reports/daily',
      group: undefined
    });
  });

  it('sorts on the server by the clicked column and renders the rows', async () => {
    const run = {
      id: 'r1',
      kind: 'job',
      target: 'reports/daily',
      target_version: 3,
      action: 'run',
      state: 'failed',
      trigger: 'api',
      submitted: '2026-12-02T06:12:00+00:00',
      started: '2026-12-02T06:12:00+00:00',
      finished: '2026-12-02T06:12:02+00:00',
      error: 'boom',
      progress: null,
      parameters: { n: 7 },
      attempt: 1
    };
    const { settings, calls } = settingsFor(() => ok({ items: [run], total: 1 }));
    const view = new RunsView(
      new OmegaService(settings),
      { target: 'reports/daily', kind: 'job' },
      {
        open: () => undefined,
        rerun: async () => undefined,
        cancel: async () => undefined,
        exportHtml: async () => undefined,
        runNow: async () => undefined
      }
    );
    await view.sortBy('state');
    const url = new URL(calls[calls.length - 1].url);
    expect(url.pathname).toBe('/hub/user/ann/omega/api/v1/panel/runs');
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      sort: 'state',
      order: 'asc',
      target: 'reports/daily',
      kind: 'job',
      limit: '50',
      offset: '0'
    });
    const cells = Array.from(view.node.querySelectorAll('tbody td')).map(td => td.textContent);
    expect(cells.slice(1, 9)).toEqual([
      'reports/daily v3',
      'notebook',
      'REST',
      'n=7',
      expect.any(String),
      '2.0 s',
      'failed',
      '1'
    ]);
    const buttons = Array.from(view.node.querySelectorAll('tbody button')).map(b => b.textContent);
    expect(buttons).toEqual(['Open', 'Rerun', 'HTML']);
    expect(view.node.querySelector('th[data-column="state"]')!.getAttribute('aria-sort')).toBe(
      'ascending'
    );
    view.dispose();
  });
});

describe('executed notebooks open under a readable name', () => {
  it('names the file by notebook, folder and start time', () => {
    const stem = runFileStem({
      target: 'reports/daily',
      started: '2026-12-02T06:12:00',
      submitted: null
    });
    expect(stem).toBe('daily (reports) 2026-12-02 06.12');
    expect(runFileStem({ target: 'a:b', started: null, submitted: null })).toBe('a_b');
    expect(runIdOfPath('0123abcd/daily (reports) 2026-12-02 06.12.ipynb')).toBe('0123abcd');
    expect(runIdOfPath('0123abcd.ipynb')).toBe('0123abcd');
  });
});
