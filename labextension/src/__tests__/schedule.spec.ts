import { ScheduleForm } from '../schedule';
import { ISchedule, OmegaService } from '../service';
import { fail, ok, settingsFor } from './fakeServer';

const saved: ISchedule = {
  name: 'reports/daily',
  when: 'weekdays at 08:30',
  cron: '30 8 * * 1-5',
  description: 'At 08:30, Monday through Friday',
  next_times: [],
  missed: 'once',
  parameters: {},
  paused: false
};

const preview = ok({ when: '', cron: '30 8 * * 1-5', description: 'At 08:30', next_times: [] });

function text(form: ScheduleForm, selector: string): string | null {
  return form.node.querySelector(selector)?.textContent ?? null;
}

describe('ScheduleForm pause and resume', () => {
  it('shows no state for a notebook without a schedule', () => {
    const { settings } = settingsFor(() => preview);
    const form = new ScheduleForm(new OmegaService(settings), 'reports/daily', null, []);
    expect(form.node.querySelector('.jp-omega-badge')).toBeNull();
    expect(form.node.querySelector('.jp-omega-schedule-pause')).toBeNull();
    expect(form.paused).toBe(false);
    form.dispose();
  });

  it('marks a paused schedule and offers Resume', () => {
    const { settings } = settingsFor(() => preview);
    const form = new ScheduleForm(
      new OmegaService(settings),
      'reports/daily',
      { ...saved, paused: true },
      []
    );
    expect(text(form, '.jp-omega-badge')).toBe('paused');
    expect(form.node.querySelector<HTMLElement>('.jp-omega-badge')!.dataset.state).toBe('paused');
    expect(text(form, '.jp-omega-schedule-pause')).toBe('Resume');
    form.dispose();
  });

  it('pauses, then resumes, through PATCH and shows the new state', async () => {
    const { settings, calls } = settingsFor((method, _url, body) =>
      method === 'PATCH' ? ok({ ...saved, paused: JSON.parse(body!).paused }) : preview
    );
    const form = new ScheduleForm(new OmegaService(settings), 'reports/daily', saved, []);
    const changes: boolean[] = [];
    form.pausedChanged.connect((_, paused) => changes.push(paused));
    expect(text(form, '.jp-omega-badge')).toBe('active');
    expect(text(form, '.jp-omega-schedule-pause')).toBe('Pause');

    await form.setPaused(true);
    expect(text(form, '.jp-omega-badge')).toBe('paused');
    expect(text(form, '.jp-omega-schedule-pause')).toBe('Resume');
    await form.setPaused(false);
    expect(text(form, '.jp-omega-badge')).toBe('active');
    expect(changes).toEqual([true, false]);
    const patches = calls.filter(c => c.method === 'PATCH');
    expect(patches.map(c => JSON.parse(c.body!))).toEqual([{ paused: true }, { paused: false }]);
    expect(patches[0].url).toMatch(/\/jobs\/reports\/daily\/schedule$/);
    form.dispose();
  });

  it('keeps the state and shows the server message when the server refuses', async () => {
    const { settings } = settingsFor(method =>
      method === 'PATCH'
        ? fail(403, 'forbidden', 'User is not authorized to write on resource: omega_jupyter:jobs.')
        : preview
    );
    const form = new ScheduleForm(new OmegaService(settings), 'reports/daily', saved, []);
    const changes: boolean[] = [];
    form.pausedChanged.connect((_, paused) => changes.push(paused));
    await form.setPaused(true);
    expect(form.paused).toBe(false);
    expect(text(form, '.jp-omega-badge')).toBe('active');
    const error = form.node.querySelector<HTMLElement>(
      '.jp-omega-schedule-status .jp-omega-error'
    )!;
    expect(error.hidden).toBe(false);
    expect(error.textContent).toContain('not authorized to write');
    expect(form.node.querySelector<HTMLButtonElement>('.jp-omega-schedule-pause')!.disabled).toBe(
      false
    );
    expect(changes).toEqual([]);
    form.dispose();
  });
});
