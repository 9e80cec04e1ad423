import { RenderMimeRegistry } from '@jupyterlab/rendermime';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import { DatasetPreview } from '../preview';
import { DatasetProfileView, VEGALITE_MIME, columnFacts, statText } from '../profile';
import { OmegaService } from '../service';
import type { IColumnProfile, IDatasetProfile } from '../service';
import { fail, ok, settingsFor } from './fakeServer';

function column(overrides: Partial<IColumnProfile>): IColumnProfile {
  return {
    name: 'amount',
    dtype: 'float64',
    kind: 'numeric',
    count: 3,
    nulls: 1,
    distinct: 3,
    min: 1,
    max: 3.5,
    mean: 2.1666666667,
    std: null,
    top: [],
    histogram: [{ start: 1, end: 3.5, count: 3 }],
    vega_lite: { mark: 'bar' },
    ...overrides
  };
}

const PROFILE: IDatasetProfile = {
  name: 'sales',
  version: 2,
  rows: 1234,
  bins: 20,
  top: 10,
  columns: [
    column({}),
    column({
      name: 'city "x"',
      dtype: 'str',
      kind: 'text',
      min: null,
      max: null,
      mean: null,
      histogram: [],
      top: [{ value: 'Basel', count: 2 }],
      vega_lite: { mark: 'bar', encoding: {} }
    }),
    column({
      name: 'empty',
      count: 0,
      nulls: 4,
      distinct: 0,
      min: null,
      max: null,
      mean: null,
      vega_lite: null
    })
  ]
};

/** A rendermime registry whose Vega-Lite renderer writes the spec it was given as text. */
function registry(): { rendermime: RenderMimeRegistry; specs: unknown[] } {
  const specs: unknown[] = [];
  const factory: IRenderMime.IRendererFactory = {
    safe: true,
    mimeTypes: [VEGALITE_MIME],
    createRenderer: () => {
      const widget = new Widget() as Widget & IRenderMime.IRenderer;
      widget.renderModel = async model => {
        specs.push(model.data[VEGALITE_MIME]);
        widget.node.textContent = `chart ${JSON.stringify(model.data[VEGALITE_MIME])}`;
      };
      return widget;
    }
  };
  return { rendermime: new RenderMimeRegistry({ initialFactories: [factory] }), specs };
}

describe('profile statistics', () => {
  it('formats numbers short and leaves missing values out', () => {
    expect(statText(1234)).toBe('1,234');
    expect(statText(2.1666666667)).toBe('2.16667');
    expect(statText(null)).toBe('');
    expect(statText(true)).toBe('True');
    expect(columnFacts(PROFILE.columns[0]).map(([k]) => k)).toEqual([
      'count',
      'nulls',
      'distinct',
      'mean',
      'min',
      'max'
    ]);
    expect(columnFacts(PROFILE.columns[1])).toContainEqual(['top', 'Basel (2)']);
  });

  it('draws each chart through the rendermime Vega-Lite renderer', async () => {
    const { rendermime, specs } = registry();
    const view = new DatasetProfileView(rendermime);
    await view.showProfile(PROFILE);
    const cards = view.node.querySelectorAll<HTMLElement>('.jp-omega-profile-card');
    expect(Array.from(cards).map(c => c.dataset.column)).toEqual(['amount', 'city "x"', 'empty']);
    expect(specs).toEqual([PROFILE.columns[0].vega_lite, PROFILE.columns[1].vega_lite]);
    const chart = cards[0].querySelector('.jp-omega-profile-chart')!.textContent;
    expect(chart).toBe(`chart ${JSON.stringify(PROFILE.columns[0].vega_lite)}`);
    expect(cards[2].textContent).toContain('no values');
    expect(view.node.textContent).toContain('1,234 rows · 3 columns · version 2');
  });

  it('says so when no Vega-Lite renderer is there', async () => {
    const view = new DatasetProfileView(new RenderMimeRegistry());
    await view.showProfile(PROFILE);
    expect(view.node.textContent).toContain('Vega-Lite renderer');
  });
});

describe('the preview tab’s Profile view', () => {
  const preview = {
    metadata: { name: 'sales', version: 2, kind: 'pandas.dataframe', size: 10 } as never,
    columns: [{ name: 'amount', dtype: 'float64' }],
    rows: [{ amount: 1 }],
    totalRows: 1234
  };

  it('fetches the profile once, when first shown, and toggles back to the table', async () => {
    const { settings, calls } = settingsFor((_m, url) =>
      url.includes('/profile') ? ok(PROFILE) : fail(404, 'not_found', 'no')
    );
    const service = new OmegaService(settings);
    const { rendermime } = registry();
    const widget = new DatasetPreview('sales', {
      load: () => service.datasetProfile('sales'),
      rendermime
    });
    widget.showPreview(preview);
    const [tableTab, profileTab] = Array.from(
      widget.node.querySelectorAll<HTMLButtonElement>('.jp-omega-preview-view')
    );
    const profileBox = widget.node.querySelector<HTMLElement>('.jp-omega-preview-profile')!;
    const tableBox = widget.node.querySelector<HTMLElement>('.jp-omega-preview-tablebox')!;
    expect(profileBox.hidden).toBe(true);
    expect(calls).toHaveLength(0);
    profileTab.click();
    await widget.profileLoaded;
    expect(calls.map(c => new URL(c.url).pathname)).toEqual([
      '/hub/user/ann/omega/api/v1/datasets/sales/profile'
    ]);
    expect(tableBox.hidden).toBe(true);
    expect(profileBox.querySelectorAll('.jp-omega-profile-card')).toHaveLength(3);
    tableTab.click();
    profileTab.click();
    expect(calls).toHaveLength(1);
    expect(profileTab.getAttribute('aria-selected')).toBe('true');
  });

  it('shows the server’s message when the profile fails, and retries', async () => {
    let answer = fail(404, 'not_found', "dataset 'sales' does not exist");
    const { settings, calls } = settingsFor(() => answer);
    const service = new OmegaService(settings);
    const widget = new DatasetPreview('sales', {
      load: () => service.datasetProfile('sales'),
      rendermime: null
    });
    widget.showPreview(preview);
    const [tableTab, profileTab] = Array.from(
      widget.node.querySelectorAll<HTMLButtonElement>('.jp-omega-preview-view')
    );
    profileTab.click();
    await widget.profileLoaded;
    expect(widget.node.querySelector('.jp-omega-error')!.textContent).toContain('does not exist');
    answer = ok(PROFILE);
    tableTab.click();
    profileTab.click();
    await widget.profileLoaded;
    expect(calls).toHaveLength(2);
    expect(widget.node.querySelectorAll('.jp-omega-profile-card')).toHaveLength(3);
  });
});
