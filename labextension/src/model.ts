/**
 * SectionModel: the state of one list in the panel (a store's objects or the runs):
 * the search text, the current page, the items, the last error. No DOM here.
 */
import { ISignal, Signal } from '@lumino/signaling';

import type { IPage } from './service';

export type Fetcher<T> = (query: {
  pattern?: string;
  limit: number;
  offset: number;
}) => Promise<IPage<T>>;

export class SectionModel<T> {
  constructor(
    private readonly fetcher: Fetcher<T>,
    readonly pageSize = 50
  ) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get items(): readonly T[] {
    return this._items;
  }

  get total(): number {
    return this._total;
  }

  get offset(): number {
    return this._offset;
  }

  get error(): string | null {
    return this._error;
  }

  get loading(): boolean {
    return this._loading;
  }

  get search(): string {
    return this._search;
  }

  /** Change the search without fetching (a closed section: `refreshCount` follows). */
  set search(text: string) {
    if (text !== this._search) {
      this._search = text;
      this._offset = 0;
      this._items = [];
      this._shown = null;
    }
  }

  get hasNext(): boolean {
    return this._offset + this.pageSize < this._total;
  }

  get hasPrevious(): boolean {
    return this._offset > 0;
  }

  /** The name pattern sent to the server: `sales` finds `sales`, `q1/sales`, `sales_2024`. */
  get pattern(): string | undefined {
    const text = this._search.trim();
    if (!text) {
      return undefined;
    }
    if (text.includes('*') || text.includes('?')) {
      return text;
    }
    // Glob on the server: a '[' typed in a search is a literal, not a character class.
    return `*${text.replace(/\[/g, '[[]')}*`;
  }

  /** A new search goes back to the first page. */
  setSearch(text: string): Promise<void> {
    if (text === this._search) {
      return Promise.resolve();
    }
    this._search = text;
    this._offset = 0;
    return this.refresh();
  }

  /**
   * Fetch only how many items there are (one item asked for), for a closed section's count;
   * the items shown so far stay. Errors are recorded as by `refresh` and re-thrown.
   */
  async refreshCount(): Promise<void> {
    const ticket = ++this._ticket;
    try {
      const page = await this.fetcher({ pattern: this.pattern, limit: 1, offset: 0 });
      if (ticket !== this._ticket) {
        return;
      }
      this._total = typeof page.total === 'number' ? page.total : (page.items ?? []).length;
      this._counted = true;
      this._error = null;
    } catch (error) {
      if (ticket === this._ticket) {
        this._error = (error as Error).message ?? String(error);
      }
      throw error;
    } finally {
      if (ticket === this._ticket) {
        this._changed.emit();
      }
    }
  }

  /** Whether `total` is known (a page or a count was fetched). */
  get counted(): boolean {
    return this._counted;
  }

  /** Back to the first page and fetch it (a filter of the fetcher changed). */
  reset(): Promise<void> {
    this._offset = 0;
    return this.refresh();
  }

  nextPage(): Promise<void> {
    if (!this.hasNext) {
      return Promise.resolve();
    }
    this._offset += this.pageSize;
    return this.refresh();
  }

  previousPage(): Promise<void> {
    if (!this.hasPrevious) {
      return Promise.resolve();
    }
    this._offset = Math.max(0, this._offset - this.pageSize);
    return this.refresh();
  }

  /**
   * Fetch the current page. A failure records the server's message and keeps the items shown
   * so far when they answer the same search and page (a refresh while the database is down);
   * items of another search or page are cleared, so the list never seems to answer a query it
   * did not. The error is re-thrown so a poll can back off. Answers that arrive after a newer
   * request was made are dropped.
   */
  async refresh(): Promise<void> {
    const ticket = ++this._ticket;
    const query = { pattern: this.pattern, limit: this.pageSize, offset: this._offset };
    const key = JSON.stringify(query);
    this._loading = true;
    this._changed.emit();
    try {
      const page = await this.fetcher(query);
      if (ticket !== this._ticket) {
        return;
      }
      this._shown = key;
      this._counted = true;
      this._items = page.items ?? [];
      this._total = typeof page.total === 'number' ? page.total : this._items.length;
      if (this._offset > 0 && this._offset >= this._total) {
        // The list shrank under us (objects dropped): show its last page.
        this._offset = Math.max(0, Math.floor((this._total - 1) / this.pageSize) * this.pageSize);
        this._loading = false;
        return this.refresh();
      }
      this._error = null;
    } catch (error) {
      if (ticket === this._ticket) {
        this._error = (error as Error).message ?? String(error);
        if (this._shown !== key) {
          this._items = [];
          this._total = 0;
          this._shown = null;
        }
      }
      throw error;
    } finally {
      if (ticket === this._ticket) {
        this._loading = false;
        this._changed.emit();
      }
    }
  }

  private _items: T[] = [];
  private _counted = false;
  private _total = 0;
  private _offset = 0;
  private _search = '';
  private _error: string | null = null;
  private _loading = false;
  private _ticket = 0;
  /** The query the items shown answer. */
  private _shown: string | null = null;
  private _changed = new Signal<this, void>(this);
}
