/**
 * One collapsible list in the panel (Datasets, Models, Notebooks, Scripts, Runs): a header with
 * the count and pager, the items, and the section's error line. Rendering only: the data
 * lives in a SectionModel.
 */
import { Widget } from '@lumino/widgets';

import { middleParts } from './ellipsis';
import { SectionModel } from './model';

export interface IItemView {
  /** What commands act on (an object name or a run id). */
  key: string;
  label: string;
  detail: string;
  title: string;
  /** A state word for styling (runs), '' for none. */
  state?: string;
  /** A short marker after the detail (a schedule: 'scheduled' or 'paused'). */
  badge?: string;
  /** What sort of row it is, as `data-kind` (a run group's row: 'group'). */
  kind?: string;
  /** More content under the label and detail (a run group's progress bar). */
  extra?: HTMLElement;
}

export interface ISectionOptions<T> {
  id: string;
  label: string;
  /** The title's tooltip (the Notebooks section says its items are jobs). */
  hint?: string;
  model: SectionModel<T>;
  view: (item: T) => IItemView;
  /** Controls shown under the header while the section is open (the Runs filters). */
  filters?: HTMLElement;
  open?: boolean;
  onActivate: (section: Section<T>, key: string) => void;
  onSelect?: (section: Section<T>, key: string) => void;
  onDragStart?: (section: Section<T>, key: string, event: MouseEvent) => void;
}

export class Section<T = unknown> extends Widget {
  constructor(readonly options: ISectionOptions<T>) {
    super();
    this.addClass('jp-omega-section');
    this.id = `jp-omega-section-${options.id}`;
    this.node.dataset.section = options.id;
    const header = this._header;
    header.className = 'jp-omega-section-header';
    this._caret.className = 'jp-omega-caret';
    const title = document.createElement('span');
    title.className = 'jp-omega-section-title';
    title.textContent = options.label;
    title.title = options.hint ?? '';
    this._count.className = 'jp-omega-count';
    this._pager.className = 'jp-omega-pager';
    header.append(this._caret, title, this._count, this._pager);
    header.addEventListener('click', event => {
      if (!(event.target as HTMLElement).closest('button')) {
        this.toggle();
      }
    });
    this._list.className = 'jp-omega-list';
    this._list.setAttribute('role', 'list');
    this._error.className = 'jp-omega-error';
    this.node.append(header);
    if (options.filters) {
      options.filters.classList.add('jp-omega-section-filters');
      this.node.append(options.filters);
    }
    this.node.append(this._error, this._list);
    this.setOpen(options.open ?? false);
    options.model.changed.connect(this.render, this);
    this._list.addEventListener('dblclick', this);
    this._list.addEventListener('keydown', this);
    this._list.addEventListener('mousedown', this);
    this._list.addEventListener('contextmenu', this);
    this._list.addEventListener('omega-select', this);
    this.render();
  }

  get model(): SectionModel<T> {
    return this.options.model;
  }

  get isOpen(): boolean {
    return this._open;
  }

  /** The key of the item last clicked or right-clicked (what context-menu commands act on). */
  get selected(): string | null {
    return this._selected;
  }

  /**
   * Leave the section's error to the panel's banner (the same error in several sections is
   * said once there); the section still keeps it in `model.error`.
   */
  setErrorShownAbove(above: boolean): void {
    this.node.classList.toggle('jp-omega-mod-error-above', above);
  }

  toggle(): void {
    this.setOpen(!this._open);
  }

  setOpen(open: boolean): void {
    this._open = open;
    this.node.classList.toggle('jp-mod-open', open);
    this._caret.textContent = open ? '▾' : '▸';
    this._header.setAttribute('aria-expanded', String(open));
    if (open && !this.model.items.length && !this.model.loading) {
      void this.model.refresh().catch(() => undefined);
    }
    this.render();
  }

  handleEvent(event: Event): void {
    const row = (event.target as HTMLElement).closest<HTMLElement>('.jp-omega-item');
    if (!row) {
      return;
    }
    const key = row.dataset.key ?? '';
    switch (event.type) {
      case 'omega-select':
        this.select(key);
        break;
      case 'mousedown':
      case 'contextmenu':
        this.select(key);
        if (event.type === 'mousedown' && (event as MouseEvent).button === 0) {
          this.options.onDragStart?.(this, key, event as MouseEvent);
        }
        break;
      case 'dblclick':
        this.options.onActivate(this, key);
        break;
      case 'keydown':
        this._onKey(event as KeyboardEvent, row, key);
        break;
    }
  }

  /**
   * Enter opens; ↑/↓ move to the row above/below (into the next or previous open section at
   * either end), Home/End to the first/last row of the section; the row moved to is selected.
   */
  private _onKey(event: KeyboardEvent, row: HTMLElement, key: string): void {
    const rows = (): HTMLElement[] =>
      Array.from(
        (this.node.closest('.jp-omega-panel') ?? this.node).querySelectorAll<HTMLElement>(
          '.jp-omega-section.jp-mod-open .jp-omega-item'
        )
      );
    let target: HTMLElement | undefined;
    switch (event.key) {
      case 'Enter':
        this.options.onActivate(this, key);
        return;
      case 'ArrowDown':
      case 'ArrowUp': {
        const all = rows();
        const at = all.indexOf(row);
        target = all[at + (event.key === 'ArrowDown' ? 1 : -1)];
        break;
      }
      case 'Home':
        target = this._list.querySelector<HTMLElement>('.jp-omega-item') ?? undefined;
        break;
      case 'End': {
        const own = this._list.querySelectorAll<HTMLElement>('.jp-omega-item');
        target = own[own.length - 1];
        break;
      }
      default:
        return;
    }
    event.preventDefault();
    if (target) {
      target.focus();
      target.scrollIntoView({ block: 'nearest' });
      target.dispatchEvent(new Event('omega-select', { bubbles: true }));
    }
  }

  select(key: string): void {
    this._selected = key;
    this.options.onSelect?.(this, key);
    for (const row of Array.from(this._list.children) as HTMLElement[]) {
      row.classList.toggle('jp-mod-selected', row.dataset.key === key);
    }
  }

  /** Unselect (another section's row was selected). */
  clearSelection(): void {
    if (this._selected === null) {
      return;
    }
    this._selected = null;
    for (const row of Array.from(this._list.querySelectorAll('.jp-mod-selected'))) {
      row.classList.remove('jp-mod-selected');
    }
  }

  render(): void {
    const model = this.model;
    const items = model.items;
    const first = items.length ? model.offset + 1 : 0;
    const last = model.offset + items.length;
    // A closed section says how many there are (its rows are not shown, nor paged).
    this._count.textContent =
      model.loading && !model.counted
        ? '…'
        : !this._open || model.total <= items.length
          ? String(model.total)
          : `${first}–${last} of ${model.total}`;
    this._count.title = `${model.total} in all`;
    this._renderPager();
    this._error.textContent = model.error ?? '';
    this._error.hidden = !model.error;
    const rows = items.map(item => this._row(this.options.view(item)));
    if (!rows.length && !model.loading && !model.error) {
      const empty = document.createElement('li');
      empty.className = 'jp-omega-empty';
      const filtered = Array.from(this.options.filters?.querySelectorAll('select') ?? []).some(
        select => select.value
      );
      empty.textContent = model.search || filtered ? 'nothing matches' : 'nothing stored yet';
      rows.push(empty);
    }
    this._list.replaceChildren(...rows);
  }

  private _renderPager(): void {
    const model = this.model;
    this._pager.replaceChildren();
    if (!model.hasNext && !model.hasPrevious) {
      return;
    }
    const button = (text: string, title: string, enabled: boolean, go: () => Promise<void>) => {
      const b = document.createElement('button');
      b.className = 'jp-omega-page-button';
      b.textContent = text;
      b.title = title;
      b.disabled = !enabled;
      b.addEventListener('click', () => void go().catch(() => undefined));
      return b;
    };
    this._pager.append(
      button('‹', 'previous page', model.hasPrevious, () => model.previousPage()),
      button('›', 'next page', model.hasNext, () => model.nextPage())
    );
  }

  private _row(view: IItemView): HTMLLIElement {
    const row = document.createElement('li');
    row.className = 'jp-omega-item';
    row.dataset.key = view.key;
    row.dataset.store = this.options.id;
    row.tabIndex = 0;
    row.title = view.title;
    row.setAttribute('role', 'listitem');
    if (view.state) {
      row.dataset.state = view.state;
    }
    if (view.key === this._selected) {
      row.classList.add('jp-mod-selected');
    }
    // The name first, cut in the middle when the row is narrow (head … tail); the tooltip
    // has it whole.
    const label = document.createElement('span');
    label.className = 'jp-omega-item-label';
    label.setAttribute('aria-label', view.label);
    const [head, tail] = middleParts(view.label);
    const headNode = document.createElement('span');
    headNode.className = 'jp-omega-item-head';
    headNode.textContent = head;
    label.append(headNode);
    if (tail) {
      const tailNode = document.createElement('span');
      tailNode.className = 'jp-omega-item-tail';
      tailNode.textContent = tail;
      label.append(tailNode);
    }
    const detail = document.createElement('span');
    detail.className = 'jp-omega-item-detail';
    detail.textContent = view.detail;
    row.append(label, detail);
    if (view.badge) {
      const badge = document.createElement('span');
      badge.className = 'jp-omega-badge jp-omega-item-badge';
      badge.dataset.state = view.badge === 'paused' ? 'paused' : 'active';
      badge.textContent = view.badge;
      row.append(badge);
    }
    if (view.kind) {
      row.dataset.kind = view.kind;
    }
    if (view.extra) {
      row.append(view.extra);
    }
    return row;
  }

  private _open = false;
  private _selected: string | null = null;
  private _header = document.createElement('div');
  private _caret = document.createElement('span');
  private _count = document.createElement('span');
  private _pager = document.createElement('span');
  private _error = document.createElement('div');
  private _list = document.createElement('ul');
}
