/**
 * A stored notebook's version history, a main-area tab: every kept version (saved when, cells,
 * size, restored from), *Open* any of them read-only, *Compare* two (a plain cell diff) and
 * *Restore* one (stored again as the newest version; the versions between stay).
 */
import { Widget } from '@lumino/widgets';

import { cellDiff, diffSummary, ICellChange, notebookCells } from './diff';
import { formatBytes, formatTime } from './format';
import type { INotebookVersion, OmegaService } from './service';

export interface IHistoryActions {
  /** Open version `version` of the notebook read-only. */
  openVersion: (name: string, version: number) => void;
  /** Ask before restoring; true to go ahead. */
  confirmRestore: (name: string, version: number) => Promise<boolean>;
  /** Told after a restore made `version`. */
  restored?: (name: string, version: number, from: number) => void;
}

/** The drive path of a version, opened read-only: `.versions/reports/daily@3.ipynb`. */
export const VERSIONS_DIR = '.versions';

export function versionPath(name: string, version: number): string {
  return `${VERSIONS_DIR}/${name}@${version}.ipynb`;
}

/** `reports/daily@3` from a path under `.versions/` (null for any other path). */
export function versionRef(path: string): { name: string; version: number } | null {
  const clean = path.replace(/^omega:/, '').replace(/^\/+/, '');
  const m = new RegExp(`^${VERSIONS_DIR}/(.+)@(\\d+)\\.ipynb$`).exec(clean);
  return m ? { name: m[1], version: Number(m[2]) } : null;
}

/** A version's tab title: `reports/daily · v3 (read-only)`. */
export function versionTitle(name: string, version: number): string {
  return `${name} · v${version} (read-only)`;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = '',
  text = ''
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text) {
    node.textContent = text;
  }
  return node;
}

function button(label: string, title: string, onClick: () => void): HTMLButtonElement {
  const b = el('button', 'jp-Button jp-mod-styled jp-omega-history-button', label);
  b.title = title;
  b.addEventListener('click', onClick);
  return b;
}

export class HistoryView extends Widget {
  constructor(
    readonly notebookName: string,
    private readonly service: OmegaService,
    private readonly actions: IHistoryActions
  ) {
    super();
    this.addClass('jp-omega-view');
    this.addClass('jp-omega-history');
    this.node.textContent = `Loading the versions of ${notebookName} …`;
  }

  get versions(): readonly INotebookVersion[] {
    return this._versions;
  }

  /** Read the versions and draw the list (errors are shown in the tab). */
  async load(): Promise<void> {
    try {
      const page = await this.service.jobVersions(this.notebookName);
      this._versions = page.items ?? [];
      this._render();
    } catch (error) {
      this.node.replaceChildren(el('div', 'jp-omega-error', (error as Error).message));
    }
  }

  private _render(): void {
    const head = el('div', 'jp-omega-view-head');
    head.append(el('h2', '', `${this.notebookName}: version history`));
    const n = this._versions.length;
    head.append(
      el(
        'p',
        'jp-omega-view-facts',
        `${n} version${n === 1 ? '' : 's'} kept · tick two to compare them · ` +
          'restore stores a version again as the newest'
      )
    );
    const t = el('table', 'jp-omega-view-table jp-omega-history-table');
    const hr = t.createTHead().insertRow();
    for (const h of ['', 'Version', 'Saved', 'Cells', 'Size', 'Note', '']) {
      hr.append(el('th', '', h));
    }
    const body = t.createTBody();
    const latest = this._versions.length ? this._versions[0].version : 0;
    for (const v of this._versions) {
      const tr = body.insertRow();
      tr.dataset.version = String(v.version);
      const pick = el('input');
      pick.type = 'checkbox';
      pick.className = 'jp-omega-history-pick';
      pick.setAttribute('aria-label', `Compare version ${v.version}`);
      pick.checked = this._picked.includes(v.version);
      pick.addEventListener('change', () => this._pick(v.version, pick.checked));
      tr.insertCell().append(pick);
      tr.insertCell().textContent = `v${v.version}${v.version === latest ? ' (latest)' : ''}`;
      tr.insertCell().textContent = formatTime(v.created);
      tr.insertCell().textContent = v.cells === null ? '' : String(v.cells);
      tr.insertCell().textContent = formatBytes(v.size);
      tr.insertCell().textContent = v.restored_from ? `restored from v${v.restored_from}` : '';
      const acts = tr.insertCell();
      acts.className = 'jp-omega-history-actions';
      acts.append(
        button('Open', `Open version ${v.version} read-only`, () =>
          this.actions.openVersion(this.notebookName, v.version)
        )
      );
      if (v.version !== latest) {
        acts.append(
          button(
            'Restore',
            `Store version ${v.version} again as the newest version`,
            () => void this.restore(v.version)
          )
        );
      }
    }
    const bar = el('div', 'jp-omega-history-bar');
    const compare = button('Compare', 'Compare the two ticked versions', () => void this.compare());
    compare.classList.add('jp-omega-history-compare');
    compare.disabled = this._picked.length !== 2;
    this._compareButton = compare;
    bar.append(compare, this._status);
    this._status.className = 'jp-omega-history-status';
    this._diff.className = 'jp-omega-diff';
    this.node.replaceChildren(head, bar, t, this._diff);
  }

  private _pick(version: number, on: boolean): void {
    this._picked = this._picked.filter(v => v !== version);
    if (on) {
      this._picked.push(version);
    }
    // Two at most: ticking a third unticks the oldest pick.
    while (this._picked.length > 2) {
      this._picked.shift();
    }
    for (const box of Array.from(
      this.node.querySelectorAll<HTMLInputElement>('.jp-omega-history-pick')
    )) {
      const row = box.closest('tr') as HTMLElement;
      box.checked = this._picked.includes(Number(row.dataset.version));
    }
    if (this._compareButton) {
      this._compareButton.disabled = this._picked.length !== 2;
    }
  }

  /** Compare versions `a` and `b` (the two ticked ones by default), older first. */
  async compare(a?: number, b?: number): Promise<ICellChange[] | null> {
    const [x, y] = a !== undefined && b !== undefined ? [a, b] : this._picked;
    if (x === undefined || y === undefined) {
      return null;
    }
    const [older, newer] = x < y ? [x, y] : [y, x];
    this._diff.replaceChildren(
      el('p', 'jp-omega-view-none', `Comparing v${older} and v${newer} …`)
    );
    try {
      const [before, after] = await Promise.all([
        this.service.getJob(`${this.notebookName}@${older}`),
        this.service.getJob(`${this.notebookName}@${newer}`)
      ]);
      const changes = cellDiff(notebookCells(before), notebookCells(after));
      this._showDiff(older, newer, changes);
      return changes;
    } catch (error) {
      this._diff.replaceChildren(el('div', 'jp-omega-error', (error as Error).message));
      return null;
    }
  }

  private _showDiff(older: number, newer: number, changes: ICellChange[]): void {
    const title = el('h3', '', `v${older} → v${newer}: ${diffSummary(changes)}`);
    const list = el('div', 'jp-omega-diff-cells');
    changes.forEach((change, i) => {
      const cell = el('div', `jp-omega-diff-cell jp-omega-diff-${change.op}`);
      cell.dataset.op = change.op;
      const type = (change.after ?? change.before)?.cell_type ?? 'code';
      cell.append(el('div', 'jp-omega-diff-label', `${i + 1}. ${type} cell ${change.op}`));
      const pre = el('pre', 'jp-omega-diff-source');
      if (change.op === 'changed') {
        for (const line of change.lines ?? []) {
          const mark = line.op === 'added' ? '+ ' : line.op === 'removed' ? '- ' : '  ';
          pre.append(el('span', `jp-omega-diff-line jp-omega-diff-${line.op}`, mark + line.text));
          pre.append('\n');
        }
      } else {
        const mark = change.op === 'added' ? '+ ' : change.op === 'removed' ? '- ' : '  ';
        const text = (change.after ?? change.before)?.source ?? '';
        pre.textContent = text
          .split('\n')
          .map(l => mark + l)
          .join('\n');
      }
      cell.append(pre);
      list.append(cell);
    });
    this._diff.replaceChildren(title, list);
  }

  /** Restore `version` (after asking): a new version; the list reloads. */
  async restore(version: number): Promise<number | null> {
    if (!(await this.actions.confirmRestore(this.notebookName, version))) {
      return null;
    }
    try {
      const made = await this.service.restoreJob(this.notebookName, version);
      this._status.textContent = `Restored v${version} as v${made.version}`;
      this._status.classList.remove('jp-omega-error');
      this.actions.restored?.(this.notebookName, made.version, version);
      await this.load();
      return made.version;
    } catch (error) {
      this._status.textContent = (error as Error).message;
      this._status.classList.add('jp-omega-error');
      return null;
    }
  }

  private _versions: INotebookVersion[] = [];
  private _picked: number[] = [];
  private _compareButton: HTMLButtonElement | null = null;
  private _status = document.createElement('span');
  private _diff = document.createElement('div');
}
