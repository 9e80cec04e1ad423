import { modelDetailsNode, tagSummary } from '../modelinfo';

const details = {
  name: 'iris_model',
  version: 4,
  class: 'sklearn.linear_model.LogisticRegression',
  format: 'skops',
  signature: null,
  tags: [],
  versions: [
    { version: 1, created: '2026-12-01T10:00:00+00:00', tags: [] },
    { version: 2, created: '2026-12-01T11:00:00+00:00', tags: ['prod'] },
    { version: 3, created: '2026-12-01T12:00:00+00:00', tags: [] },
    { version: 4, created: '2026-12-01T13:00:00+00:00', tags: ['staging'] }
  ],
  lineage: {},
  libraries: { sklearn: '1.6.1' }
};

describe('model details', () => {
  it('names every tag with the version it points at, not only the latest version’s', () => {
    expect(tagSummary(details)).toBe('prod → v2, staging → v4');
    expect(tagSummary({ ...details, versions: [{ version: 1, tags: [] }] })).toBe('—');
  });

  it('lays out one label and one value per field, versions as a table with their tags', () => {
    const node = modelDetailsNode(details);
    const value = (field: string) =>
      node.querySelector<HTMLElement>(`.jp-omega-model-value[data-field="${field}"]`)!;
    expect(value('version').textContent).toBe('v4');
    expect(value('tags').textContent).toBe('prod → v2, staging → v4');
    expect(value('class').textContent).toContain('LogisticRegression');
    const rows = Array.from(value('versions').querySelectorAll('tbody tr')).map(tr =>
      Array.from(tr.children).map(td => td.textContent)
    );
    expect(rows.map(r => [r[0], r[2]])).toEqual([
      ['v4', 'staging'],
      ['v3', ''],
      ['v2', 'prod'],
      ['v1', '']
    ]);
    expect(value('lineage').textContent).toBe('—');
    expect(value('libraries').textContent).toContain('1.6.1');
  });
});
