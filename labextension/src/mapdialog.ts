/**
 * *Run for each…*: a stored notebook run once per parameter set, as a run group. The parameter
 * list is typed one JSON object per line, or as `name=a,b,c` lines (several such lines: every
 * combination); the notebook's `parameters` cell says which names it declares. The dialog
 * submits from inside and stays open, everything typed kept, when the server refuses.
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { parametersText } from './groups';
import { IMapAccepted, mapJob } from './runsapi';
import { parseParameter } from './schedule';
import type { IParameter, OmegaService } from './service';

/** Members at most (the server's limit of a run group). */
export const MAX_MEMBERS = 10000;

export interface IParsedMembers {
  members: Record<string, unknown>[];
  /** What is wrong with the text ('' when nothing). */
  error: string;
  /** Names used that the notebook's parameters cell does not declare. */
  unknown: string[];
}

/** `a,b,"c,d"` split on the commas outside quotes and brackets. */
export function splitValues(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let current = '';
  for (const ch of text) {
    if (quote) {
      current += ch;
      if (ch === quote) {
        quote = '';
      }
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      current += ch;
    } else if (ch === '[' || ch === '{') {
      depth++;
      current += ch;
    } else if (ch === ']' || ch === '}') {
      depth--;
      current += ch;
    } else if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
    } else {
      current += ch;
    }
  }
  out.push(current.trim());
  return out;
}

/**
 * The members of a map from the typed text: one JSON object per line, or `name=a,b,c` lines
 * (values read like the schedule dialog's: `7` → 7, `true`, `"x"` or bare text). Several
 * `name=` lines give every combination. Blank lines and lines starting with `#` are skipped.
 */
export function parseMembers(text: string, declared: string[] = []): IParsedMembers {
  const lines = text
    .split('\n')
    .map(l => l.trim())
    .filter(l => l && !l.startsWith('#'));
  const result: IParsedMembers = { members: [], error: '', unknown: [] };
  if (!lines.length) {
    result.error = 'Type one parameter set per line, e.g. {"store": "a"} or store=a,b,c';
    return result;
  }
  const json = lines.filter(l => l.startsWith('{'));
  if (json.length && json.length !== lines.length) {
    result.error = 'Use either JSON objects (one per line) or name=a,b,c lines, not both';
    return result;
  }
  if (json.length) {
    for (const [i, line] of lines.entries()) {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        result.error = `Line ${i + 1} is not JSON: ${(error as Error).message}`;
        result.members = [];
        return result;
      }
      if (!value || typeof value !== 'object' || Array.isArray(value)) {
        result.error = `Line ${i + 1} is not a JSON object`;
        result.members = [];
        return result;
      }
      result.members.push(value as Record<string, unknown>);
    }
  } else {
    let combos: Record<string, unknown>[] = [{}];
    const seen = new Set<string>();
    for (const [i, line] of lines.entries()) {
      const match = /^([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/s.exec(line);
      if (!match) {
        result.error = `Line ${i + 1}: write name=a,b,c or a JSON object`;
        return result;
      }
      const [, name, rest] = match;
      if (seen.has(name)) {
        result.error = `${name} is given twice`;
        return result;
      }
      seen.add(name);
      const values = splitValues(rest).filter(v => v !== '');
      if (!values.length) {
        result.error = `${name} has no values`;
        return result;
      }
      combos = combos.flatMap(c => values.map(v => ({ ...c, [name]: parseParameter(v) })));
      if (combos.length > MAX_MEMBERS) {
        break;
      }
    }
    result.members = combos;
  }
  if (result.members.length > MAX_MEMBERS) {
    result.error = `${result.members.length} members: a run group has at most ${MAX_MEMBERS}`;
    result.members = [];
    return result;
  }
  if (declared.length) {
    const names = new Set(result.members.flatMap(m => Object.keys(m)));
    result.unknown = [...names].filter(n => !declared.includes(n)).sort();
  }
  return result;
}

/** `max_parallel` from its field: a whole number ≥ 1, or undefined (the cluster's width). */
export function parseParallel(text: string): number | undefined | Error {
  const t = text.trim();
  if (!t) {
    return undefined;
  }
  const n = Number(t);
  if (!Number.isInteger(n) || n < 1 || n > MAX_MEMBERS) {
    return new Error(`At most … at once: a whole number from 1 to ${MAX_MEMBERS}`);
  }
  return n;
}

export class MapForm extends Widget {
  constructor(
    private readonly service: OmegaService,
    readonly notebook: string,
    readonly parameters: IParameter[]
  ) {
    super();
    this.addClass('jp-omega-map');
    const intro = document.createElement('div');
    intro.className = 'jp-omega-map-intro';
    intro.textContent = parameters.length
      ? `Parameters of ${notebook}: ${parameters.map(p => `${p.name} (default ${p.default})`).join(', ')}`
      : `${notebook} has no parameters cell: the values are injected as new variables.`;
    this._text.className = 'jp-omega-map-members';
    this._text.rows = 6;
    this._text.setAttribute('aria-label', 'Parameter sets');
    const first = parameters[0]?.name ?? 'name';
    this._text.placeholder = `${first}=a,b,c\n— or one JSON object per line —\n{"${first}": "a"}\n{"${first}": "b"}`;
    this._parallel.className = 'jp-omega-map-parallel';
    this._parallel.type = 'number';
    this._parallel.min = '1';
    this._parallel.placeholder = 'the cluster’s threads';
    this._parallel.setAttribute('aria-label', 'At most at once');
    const label = document.createElement('label');
    label.className = 'jp-omega-form-row';
    const span = document.createElement('span');
    span.textContent = 'At most at once';
    label.append(span, this._parallel);
    this._preview.className = 'jp-omega-map-preview';
    this._error.className = 'jp-omega-error jp-omega-map-error';
    this._error.setAttribute('role', 'alert');
    this._error.hidden = true;
    this.node.append(intro, this._text, label, this._preview, this._error);
    this._text.addEventListener('input', () => this._update());
    this._parallel.addEventListener('input', () => this._update());
    this._update();
  }

  get textarea(): HTMLTextAreaElement {
    return this._text;
  }

  /** The parsed members of what is typed now. */
  get parsed(): IParsedMembers {
    return parseMembers(
      this._text.value,
      this.parameters.map(p => p.name)
    );
  }

  showError(message: string): void {
    this._error.textContent = message;
    this._error.hidden = !message;
  }

  /** Submit the map; rejects (with the reason) when the text or the server refuses. */
  async submit(): Promise<IMapAccepted> {
    const parsed = this.parsed;
    if (parsed.error) {
      throw new Error(parsed.error);
    }
    const parallel = parseParallel(this._parallel.value);
    if (parallel instanceof Error) {
      throw parallel;
    }
    return mapJob(this.service, this.notebook, {
      members: parsed.members,
      ...(parallel === undefined ? {} : { max_parallel: parallel })
    });
  }

  private _update(): void {
    this.showError('');
    const parsed = this.parsed;
    if (!this._text.value.trim()) {
      this._preview.textContent = '';
      return;
    }
    if (parsed.error) {
      this._preview.textContent = parsed.error;
      this._preview.dataset.state = 'error';
      return;
    }
    delete this._preview.dataset.state;
    const n = parsed.members.length;
    const sample = parsed.members
      .slice(0, 3)
      .map(m => parametersText(m))
      .join(' | ');
    const more = n > 3 ? ` | … ${n - 3} more` : '';
    const unknown = parsed.unknown.length
      ? ` — not in the parameters cell: ${parsed.unknown.join(', ')}`
      : '';
    this._preview.textContent = `${n} run${n === 1 ? '' : 's'}: ${sample}${more}${unknown}`;
  }

  private _text = document.createElement('textarea');
  private _parallel = document.createElement('input');
  private _preview = document.createElement('div');
  private _error = document.createElement('div');
}

/** The *Run for each…* dialog: resolves once the server took the map (`accepted`). */
export class MapDialog extends Dialog<void> {
  constructor(readonly form: MapForm) {
    const buttons = [Dialog.cancelButton(), Dialog.okButton({ label: 'Run for each' })];
    super({ title: `Run ${form.notebook} for each…`, body: form, buttons });
    this._buttonList = buttons;
    this.addClass('jp-omega-map-dialog');
  }

  get accepted(): IMapAccepted | null {
    return this._accepted;
  }

  resolve(index?: number): void {
    const button = index === undefined ? undefined : this._buttonList[index];
    if (!button || !button.accept || this._accepted) {
      super.resolve(index);
      return;
    }
    if (this._busy) {
      return;
    }
    this._busy = true;
    this.form
      .submit()
      .then(accepted => {
        this._accepted = accepted;
        super.resolve(index);
      })
      .catch(error => this.form.showError(`Not started: ${(error as Error).message}`))
      .finally(() => {
        this._busy = false;
      });
  }

  private _buttonList: Dialog.IButton[];
  private _accepted: IMapAccepted | null = null;
  private _busy = false;
}
