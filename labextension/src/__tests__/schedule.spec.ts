import { Dialog } from '@jupyterlab/apputils';

import { ScheduleDialog, ScheduleForm } from '../schedule';
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

describe('ScheduleDialog keeps the dialog and the input when a save fails', () => {
  const parameters = [{ name: 'n', type: 'int', default: '3', help: '' }];

  it('refuses a When that does not parse inside the dialog, sending no PUT', async () => {
    const { settings, calls } = settingsFor((method, url) => {
      if (url.includes('schedule-preview')) {
        return new URL(url).searchParams.get('when') === 'every blue moon'
          ? fail(400, 'bad_request', "cannot read 'every blue moon' as a schedule")
          : preview;
      }
      return method === 'PUT' ? ok({ ...saved, parameters: { n: 7 } }) : preview;
    });
    const form = new ScheduleForm(new OmegaService(settings), 'reports/daily', null, parameters);
    const dialog = new ScheduleDialog(form, {
      title: 'Schedule reports/daily',
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Save schedule' })]
    });
    const result = dialog.launch();
    form.node.querySelector<HTMLInputElement>('.jp-omega-schedule-when')!.value = 'every blue moon';
    form.node.querySelector<HTMLInputElement>('input[data-parameter="n"]')!.value = '7';
    form.node.querySelector<HTMLSelectElement>('select[aria-label="Missed runs"]')!.value = 'skip';

    dialog.resolve(1);
    await new Promise(r => setTimeout(r, 50));
    expect(dialog.isDisposed).toBe(false);
    // The reason is said once: under When, where the live description says it.
    expect(form.saveError).toBe('Not saved: When does not parse (see above).');
    const description = form.node.querySelector('.jp-omega-schedule-description')!;
    expect(description.textContent).toContain("cannot read 'every blue moon'");
    expect(form.node.textContent!.split("cannot read 'every blue moon'").length).toBe(2);
    expect(form.node.querySelector<HTMLElement>('.jp-omega-schedule-save-error')!.hidden).toBe(
      false
    );
    expect(calls.filter(c => c.method === 'PUT')).toEqual([]);
    // Everything typed is still there.
    expect(form.getValue()).toMatchObject({
      when: 'every blue moon',
      missed: 'skip',
      parameters: { n: 7 }
    });

    // Corrected, the same dialog saves and closes; the old refusal goes with the edit.
    const whenInput = form.node.querySelector<HTMLInputElement>('.jp-omega-schedule-when')!;
    whenInput.value = 'weekdays at 08:30';
    whenInput.dispatchEvent(new Event('input', { bubbles: true }));
    expect(form.saveError).toBe('');
    dialog.resolve(1);
    const answer = await result;
    expect(answer.button.accept).toBe(true);
    expect(dialog.saved?.parameters).toEqual({ n: 7 });
    const puts = calls.filter(c => c.method === 'PUT');
    expect(puts.map(c => JSON.parse(c.body!))).toEqual([
      {
        when: 'weekdays at 08:30',
        missed: 'skip',
        timezone: expect.anything(),
        parameters: { n: 7 }
      }
    ]);
  });

  it('shows the next runs in the chosen zone, named, as the description', async () => {
    const { settings } = settingsFor(() =>
      ok({
        when: 'daily at 06:00',
        cron: '0 6 * * *',
        description: 'At 06:00',
        next_times: ['2026-12-03T05:00:00+00:00', '2026-12-04T05:00:00+00:00']
      })
    );
    const form = new ScheduleForm(new OmegaService(settings), 'reports/daily', null, []);
    form.node.querySelector<HTMLInputElement>('.jp-omega-schedule-timezone')!.value =
      'Europe/Zurich';
    form.node
      .querySelector<HTMLInputElement>('.jp-omega-schedule-timezone')!
      .dispatchEvent(new Event('input'));
    await new Promise(r => setTimeout(r, 400));
    expect(text(form, '.jp-omega-schedule-description')).toContain('At 06:00 (Europe/Zurich');
    const times = Array.from(form.node.querySelectorAll('.jp-omega-schedule-times li')).map(
      li => li.textContent
    );
    expect(times).toHaveLength(2);
    expect(times[0]).toMatch(/06:00 Europe\/Zurich$/);
    expect(times[0]).not.toMatch(/05:00/);
    form.dispose();
  });
});
