/**
 * *Run with parameters…*: one field per parameter of the notebook's `parameters` cell,
 * filled with its default (or the values of a run to repeat), read like the schedule dialog's.
 */
import { Widget } from '@lumino/widgets';

import { parseParameter } from './schedule';
import type { IParameter } from './service';

/** What a field shows for a value: JSON for all but plain strings. */
export function fieldText(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value ?? null);
}

export class RunParametersForm extends Widget {
  constructor(parameters: IParameter[], values: Record<string, unknown> = {}) {
    super();
    this.addClass('jp-omega-run-parameters');
    if (!parameters.length && !Object.keys(values).length) {
      const none = document.createElement('div');
      none.textContent = 'This notebook has no parameters cell: it runs as stored.';
      this.node.append(none);
    }
    const names = [...parameters.map(p => p.name)];
    for (const name of Object.keys(values)) {
      if (!names.includes(name)) {
        names.push(name);
      }
    }
    for (const name of names) {
      const declared = parameters.find(p => p.name === name);
      const row = document.createElement('label');
      row.className = 'jp-omega-form-row';
      const span = document.createElement('span');
      span.textContent = name;
      const input = document.createElement('input');
      input.dataset.parameter = name;
      input.value = name in values ? fieldText(values[name]) : (declared?.default ?? '');
      input.title = declared ? [declared.type, declared.help].filter(Boolean).join(' — ') : '';
      row.append(span, input);
      this._inputs.set(name, input);
      this.node.append(row);
    }
  }

  /** The parameters typed (JSON where it parses, else the text). */
  getValue(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, input] of this._inputs) {
      out[name] = parseParameter(input.value);
    }
    return out;
  }

  private _inputs = new Map<string, HTMLInputElement>();
}
