/**
 * The schedule dialog's body: presets or free text/cron, the description and next 5 times
 * shown live as one types, the notebook's parameters and the missed-run policy. An existing
 * schedule is shown with its state (active or paused) and a Pause/Resume button that applies
 * at once.
 */
import { Dialog } from '@jupyterlab/apputils';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { formatTime, formatTimeIn } from './format';
import type { IParameter, ISchedule, ISchedulePreview, OmegaService } from './service';

export const PRESETS: [string, string][] = [
  ['every 5 minutes', 'Every 5 minutes'],
  ['hourly', 'Every hour'],
  ['daily at 06:00', 'Daily at 06:00'],
  ['weekdays at 08:30', 'Weekdays at 08:30'],
  ['mondays at 07:00', 'Mondays at 07:00'],
  ['0 0 1 * *', 'First day of the month (cron)']
];

export const MISSED: [string, string][] = [
  ['once', 'run once for all missed slots'],
  ['skip', 'skip missed slots'],
  ['all', 'run every missed slot']
];

export interface IScheduleValue {
  when: string;
  missed: string;
  timezone: string | null;
  parameters: Record<string, unknown>;
}

/**
 * A parameter's typed text as JSON when it parses (numbers, booleans, lists), else the text
 * itself: `7` → 7, `"a"` → "a", `abc` → "abc".
 */
export function parseParameter(text: string): unknown {
  const trimmed = text.trim();
  if (!trimmed) {
    return '';
  }
  try {
    return JSON.parse(trimmed);
  } catch {
    // A Python literal the notebook used as default (True/False/None, single quotes).
    if (trimmed === 'True' || trimmed === 'False') {
      return trimmed === 'True';
    }
    if (trimmed === 'None') {
      return null;
    }
    const quoted = /^'(.*)'$/s.exec(trimmed);
    return quoted ? quoted[1] : trimmed;
  }
}

export class ScheduleForm extends Widget {
  constructor(
    private readonly service: OmegaService,
    readonly notebook: string,
    existing: ISchedule | null,
    parameters: IParameter[]
  ) {
    super();
    this.addClass('jp-omega-schedule');
    const presets = document.createElement('select');
    presets.className = 'jp-omega-schedule-presets';
    presets.setAttribute('aria-label', 'Preset');
    presets.append(new Option('Presets…', ''));
    for (const [value, label] of PRESETS) {
      presets.append(new Option(label, value));
    }
    presets.addEventListener('change', () => {
      if (presets.value) {
        this._when.value = presets.value;
        this._update();
      }
    });
    this._when.className = 'jp-omega-schedule-when';
    this._when.placeholder = "cron or text, e.g. 'weekdays at 08:30'";
    this._when.setAttribute('aria-label', 'When');
    this._when.value = existing?.when ?? 'daily at 06:00';
    this._when.addEventListener('input', () => this._update());
    this._timezone.className = 'jp-omega-schedule-timezone';
    this._timezone.placeholder = 'UTC';
    this._timezone.setAttribute('aria-label', 'Time zone');
    this._timezone.value =
      existing?.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? '';
    this._timezone.addEventListener('input', () => this._update());
    this._description.className = 'jp-omega-schedule-description';
    this._times.className = 'jp-omega-schedule-times';
    for (const [value, label] of MISSED) {
      this._missed.append(new Option(label, value));
    }
    this._missed.value = existing?.missed ?? 'once';
    this._missed.setAttribute('aria-label', 'Missed runs');
    if (existing) {
      this._paused = existing.paused === true;
      this.node.append(this._statusRow(existing));
    }

    const row = (label: string, ...controls: HTMLElement[]) => {
      const div = document.createElement('label');
      div.className = 'jp-omega-form-row';
      const span = document.createElement('span');
      span.textContent = label;
      div.append(span, ...controls);
      return div;
    };
    this.node.append(
      row('When', this._when, presets),
      row('Time zone', this._timezone),
      this._description,
      this._times,
      row('Missed runs', this._missed)
    );
    if (parameters.length) {
      const box = document.createElement('fieldset');
      box.className = 'jp-omega-schedule-parameters';
      const legend = document.createElement('legend');
      legend.textContent = 'Parameters';
      box.append(legend);
      for (const p of parameters) {
        const input = document.createElement('input');
        input.dataset.parameter = p.name;
        const saved = existing?.parameters?.[p.name];
        input.value = saved === undefined ? p.default : JSON.stringify(saved);
        input.title = [p.type, p.help].filter(Boolean).join(' — ');
        this._parameters.set(p.name, input);
        box.append(row(p.name, input));
      }
      this.node.append(box);
    }
    this._saveError.className = 'jp-omega-error jp-omega-schedule-save-error';
    this._saveError.setAttribute('role', 'alert');
    this._saveError.hidden = true;
    this.node.append(this._saveError);
    // A refusal speaks of what was typed then: any edit clears it.
    for (const type of ['input', 'change']) {
      this.node.addEventListener(type, () => this.showSaveError(''));
    }
    this._update();
  }

  /** The message of the last failed save ('' when none), shown at the dialog's foot. */
  get saveError(): string {
    return this._saveError.textContent ?? '';
  }

  showSaveError(message: string): void {
    this._saveError.textContent = message;
    this._saveError.hidden = !message;
  }

  /**
   * Save what is typed: the *When* is checked first (a text that does not parse is refused
   * with the server's message and nothing is sent), then the schedule is PUT. Rejects with
   * the server's message; the form keeps every input either way.
   */
  async save(): Promise<ISchedule> {
    const value = this.getValue();
    this.showSaveError('');
    if (!value.when) {
      throw new Error('Type when the notebook runs (cron or text), e.g. "weekdays at 08:30".');
    }
    const refused = await this.service.previewSchedule(value.when, value.timezone).then(
      () => null,
      (error: Error) => error
    );
    if (refused) {
      // The reason is said once, where the live description says it (under *When*); the
      // dialog's foot only says that nothing was saved.
      this._ticket++;
      this._preview = null;
      this._description.classList.add('jp-omega-error');
      this._description.textContent = refused.message;
      this._times.replaceChildren();
      throw new Error('When does not parse (see above).');
    }
    return this.service.setSchedule(this.notebook, value);
  }

  /** Whether the saved schedule is paused (false when there is none). */
  get paused(): boolean {
    return this._paused;
  }

  /** Emitted with the new state after Pause/Resume succeeded on the server. */
  get pausedChanged(): ISignal<this, boolean> {
    return this._pausedChanged;
  }

  /**
   * Pause or resume the saved schedule right away. A failure keeps the state shown so far
   * and puts the server's message under it.
   */
  async setPaused(paused: boolean): Promise<void> {
    this._pauseButton.disabled = true;
    this._statusError.textContent = '';
    this._statusError.hidden = true;
    try {
      const saved = await this.service.pauseSchedule(this.notebook, paused);
      this._paused = typeof saved.paused === 'boolean' ? saved.paused : paused;
      this._renderStatus();
      this._pausedChanged.emit(this._paused);
    } catch (error) {
      this._statusError.textContent = (error as Error).message ?? String(error);
      this._statusError.hidden = false;
    } finally {
      this._pauseButton.disabled = false;
    }
  }

  getValue(): IScheduleValue {
    const parameters: Record<string, unknown> = {};
    for (const [name, input] of this._parameters) {
      parameters[name] = parseParameter(input.value);
    }
    return {
      when: this._when.value.trim(),
      missed: this._missed.value,
      timezone: this._timezone.value.trim() || null,
      parameters
    };
  }

  private _statusRow(existing: ISchedule): HTMLElement {
    const box = document.createElement('div');
    box.className = 'jp-omega-schedule-status';
    const line = document.createElement('div');
    line.className = 'jp-omega-schedule-current';
    const text = document.createElement('span');
    text.textContent = `Saved: ${existing.description || existing.when}`;
    this._badge.className = 'jp-omega-badge';
    this._pauseButton.type = 'button';
    this._pauseButton.className = 'jp-omega-schedule-pause jp-Button jp-mod-styled';
    this._pauseButton.addEventListener('click', () => void this.setPaused(!this._paused));
    line.append(text, this._badge, this._pauseButton);
    this._statusError.className = 'jp-omega-error';
    this._statusError.hidden = true;
    box.append(line, this._statusError);
    this._renderStatus();
    return box;
  }

  private _renderStatus(): void {
    this._badge.textContent = this._paused ? 'paused' : 'active';
    this._badge.dataset.state = this._paused ? 'paused' : 'active';
    this._badge.title = this._paused
      ? 'Paused: no runs start until it is resumed'
      : 'Active: runs start at the times below';
    this._pauseButton.textContent = this._paused ? 'Resume' : 'Pause';
    this._pauseButton.title = this._paused
      ? 'Resume the saved schedule (from its next time on)'
      : 'Pause the saved schedule (it keeps its settings)';
  }

  /** The last preview shown (null while the text does not parse). */
  get preview(): ISchedulePreview | null {
    return this._preview;
  }

  private _update(): void {
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => void this._fetch(), 200);
  }

  private async _fetch(): Promise<void> {
    const ticket = ++this._ticket;
    const { when, timezone } = this.getValue();
    try {
      const preview = await this.service.previewSchedule(when, timezone);
      if (ticket !== this._ticket) {
        return;
      }
      this._preview = preview;
      this._description.classList.remove('jp-omega-error');
      // Description and next runs both in the schedule's zone, said in both.
      const zone = timezone || 'UTC';
      this._description.textContent = `${preview.description} (${zone}; cron ${preview.cron})`;
      const items = preview.next_times.map(t => {
        const li = document.createElement('li');
        li.textContent = formatTimeIn(t, zone);
        li.title = `${formatTime(t)} in this browser's time`;
        return li;
      });
      const title = document.createElement('div');
      title.textContent = `Next runs (${zone}):`;
      const list = document.createElement('ol');
      list.append(...items);
      this._times.replaceChildren(title, list);
    } catch (error) {
      if (ticket !== this._ticket) {
        return;
      }
      this._preview = null;
      this._description.classList.add('jp-omega-error');
      this._description.textContent = (error as Error).message;
      this._times.replaceChildren();
    }
  }

  private _when = document.createElement('input');
  private _timezone = document.createElement('input');
  private _missed = document.createElement('select');
  private _description = document.createElement('div');
  private _times = document.createElement('div');
  private _parameters = new Map<string, HTMLInputElement>();
  private _paused = false;
  private _pausedChanged = new Signal<this, boolean>(this);
  private _badge = document.createElement('span');
  private _pauseButton = document.createElement('button');
  private _statusError = document.createElement('div');
  private _preview: ISchedulePreview | null = null;
  private _saveError = document.createElement('div');
  private _timer = 0;
  private _ticket = 0;
}

/**
 * The schedule dialog: *Save schedule* saves from inside the dialog and closes it only when
 * the server took the schedule; a *When* that does not parse (or any refusal) is shown in the
 * dialog with everything typed kept. Resolves with the saved schedule as `value`.
 */
export class ScheduleDialog extends Dialog<IScheduleValue> {
  constructor(
    readonly form: ScheduleForm,
    options: { title: string; buttons: Dialog.IButton[] }
  ) {
    super({ title: options.title, body: form, buttons: options.buttons });
    this._buttonList = options.buttons;
    this.addClass('jp-omega-schedule-dialog');
  }

  /** The schedule the dialog saved (null until a save succeeded). */
  get saved(): ISchedule | null {
    return this._saved;
  }

  resolve(index?: number): void {
    const button = index === undefined ? undefined : this._buttonList[index];
    if (!button || !button.accept || this._saved) {
      super.resolve(index);
      return;
    }
    if (this._saving) {
      return;
    }
    this._saving = true;
    this.form
      .save()
      .then(saved => {
        this._saved = saved;
        super.resolve(index);
      })
      .catch(error => {
        this.form.showSaveError(`Not saved: ${(error as Error).message ?? String(error)}`);
      })
      .finally(() => {
        this._saving = false;
      });
  }

  private _buttonList: Dialog.IButton[];
  private _saved: ISchedule | null = null;
  private _saving = false;
}
