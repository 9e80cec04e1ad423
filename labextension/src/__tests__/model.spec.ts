import { SectionModel } from '../model';
import type { IPage } from '../service';

type Query = { pattern?: string; limit: number; offset: number };

function store(names: string[]) {
  const queries: Query[] = [];
  const fetcher = async (q: Query): Promise<IPage<string>> => {
    queries.push(q);
    const matching = names.filter(n => !q.pattern || n.includes(q.pattern.replace(/\*/g, '')));
    return { items: matching.slice(q.offset, q.offset + q.limit), total: matching.length };
  };
  return { fetcher, queries };
}

describe('SectionModel', () => {
  const names = Array.from({ length: 23 }, (_, i) => `item${String(i).padStart(2, '0')}`);

  it('loads the first page and knows there are more', async () => {
    const { fetcher } = store(names);
    const model = new SectionModel(fetcher, 10);
    await model.refresh();
    expect(model.items).toHaveLength(10);
    expect(model.total).toBe(23);
    expect(model.hasNext).toBe(true);
    expect(model.hasPrevious).toBe(false);
  });

  it('pages forward and back', async () => {
    const { fetcher, queries } = store(names);
    const model = new SectionModel(fetcher, 10);
    await model.refresh();
    await model.nextPage();
    await model.nextPage();
    expect(model.items).toEqual(['item20', 'item21', 'item22']);
    expect(model.hasNext).toBe(false);
    await model.nextPage(); // no-op on the last page
    expect(queries).toHaveLength(3);
    await model.previousPage();
    expect(model.offset).toBe(10);
  });

  it('searches with a glob and goes back to the first page', async () => {
    const { fetcher, queries } = store(names);
    const model = new SectionModel(fetcher, 10);
    await model.refresh();
    await model.nextPage();
    await model.setSearch('item1');
    expect(queries[queries.length - 1]).toEqual({ pattern: '*item1*', limit: 10, offset: 0 });
    expect(model.items).toHaveLength(10);
  });

  it('escapes [ so a typed bracket is literal', () => {
    const model = new SectionModel(store([]).fetcher);
    void model.setSearch('sales[a').catch(() => undefined);
    expect(model.pattern).toBe('*sales[[]a*');
  });

  it('passes explicit globs through', () => {
    const model = new SectionModel(store([]).fetcher);
    void model.setSearch('q?_*');
    expect(model.pattern).toBe('q?_*');
  });

  it('keeps the items and records the message when the server fails', async () => {
    let fail = false;
    const model = new SectionModel<string>(async () => {
      if (fail) {
        throw new Error('database unavailable');
      }
      return { items: ['a'], total: 1 };
    });
    await model.refresh();
    fail = true;
    await expect(model.refresh()).rejects.toThrow('database unavailable');
    expect(model.items).toEqual(['a']);
    expect(model.error).toBe('database unavailable');
    fail = false;
    await model.refresh();
    expect(model.error).toBeNull();
  });

  it('clears the items of another search when the new search fails', async () => {
    const model = new SectionModel<string>(async q => {
      if (q.pattern === '*secret*') {
        throw new Error('User is not authorized to read');
      }
      return { items: ['a', 'b'], total: 2 };
    });
    await model.refresh();
    await expect(model.setSearch('secret')).rejects.toThrow('not authorized');
    expect(model.items).toEqual([]);
    expect(model.total).toBe(0);
    expect(model.error).toBe('User is not authorized to read');
    await model.setSearch('');
    expect(model.items).toEqual(['a', 'b']);
    expect(model.error).toBeNull();
  });

  it('drops answers that arrive after a newer request', async () => {
    const resolvers: ((p: IPage<string>) => void)[] = [];
    const model = new SectionModel<string>(
      () => new Promise<IPage<string>>(resolve => resolvers.push(resolve))
    );
    const first = model.refresh();
    const second = model.refresh();
    resolvers[1]({ items: ['new'], total: 1 });
    await second;
    resolvers[0]({ items: ['old'], total: 1 });
    await first;
    expect(model.items).toEqual(['new']);
  });

  it('moves to the last page when the list shrank', async () => {
    let list = names;
    const model = new SectionModel<string>(async q => {
      return { items: list.slice(q.offset, q.offset + q.limit), total: list.length };
    }, 10);
    await model.refresh();
    await model.nextPage();
    await model.nextPage();
    list = names.slice(0, 5);
    await model.refresh();
    expect(model.offset).toBe(0);
    expect(model.items).toHaveLength(5);
  });

  it('emits changed while loading and after', async () => {
    const model = new SectionModel(store(names).fetcher);
    const seen: boolean[] = [];
    model.changed.connect(() => seen.push(model.loading));
    await model.refresh();
    expect(seen).toEqual([true, false]);
  });
});
