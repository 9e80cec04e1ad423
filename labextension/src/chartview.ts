/**
 * A chart tab in the main area: a heading, a row of controls (pickers), the chart, and a
 * status line. The chart is a Vega-Lite spec drawn by JupyterLab's own renderer (rendermime,
 * `application/vnd.vegalite.v5+json`, as the dataset profile draws its charts), redrawn when
 * the theme switches between light and dark. The experiment charts (expchart.ts) use it; a
 * model's drift chart can use it the same way, with its own controls and spec.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import { omegaIcon } from './icon';
import { VEGALITE_MIME, place } from './profile';

export class ChartView extends Widget {
  constructor(private readonly rendermime: IRenderMimeRegistry | null) {
    super();
    this.addClass('jp-omega-chartview');
    this._heading.className = 'jp-omega-chartview-title';
    this.controls.className = 'jp-omega-chartview-controls';
    this._host.className = 'jp-omega-chartview-chart';
    this._status.className = 'jp-omega-chartview-status';
    this.node.append(this._heading, this.controls, this._host, this._status);
    // JupyterLab's Vega renderer picks its theme when it draws: draw again when it switches.
    this._themeWatch = new MutationObserver(() => {
      const light = document.body.dataset.jpThemeLight;
      if (light !== this._light) {
        this._light = light;
        if (this._spec) {
          void this.draw(this._spec, this._empty);
        }
      }
    });
    this._themeWatch.observe(document.body, {
      attributes: true,
      attributeFilter: ['data-jp-theme-light']
    });
  }

  /** Where the chart's pickers go (a select of the metric, the runs shown …). */
  readonly controls = document.createElement('div');

  /** The width a chart should take: what the tab has, less room for axis and legend. */
  get chartWidth(): number {
    const width = this.node.clientWidth;
    return width > 0 ? Math.max(280, Math.min(1200, width - 180)) : 600;
  }

  setHeading(text: string): void {
    this._heading.textContent = text;
  }

  setStatus(text: string, error = false): void {
    this._status.textContent = text;
    this._status.classList.toggle('jp-omega-error', error);
  }

  /**
   * Draw `spec` (or say `empty` when it is null); resolves once the renderer has drawn it. A
   * draw started later wins over one still under way.
   */
  async draw(spec: Record<string, unknown> | null, empty = 'nothing to chart'): Promise<void> {
    const ticket = ++this._ticket;
    this._spec = spec;
    this._empty = empty;
    this._light = document.body.dataset.jpThemeLight;
    this._renderer?.dispose();
    this._renderer = null;
    if (!spec) {
      this._host.replaceChildren(this._note(empty));
      return;
    }
    const bundle = { [VEGALITE_MIME]: spec } as never;
    if (!this.rendermime || this.rendermime.preferredMimeType(bundle, 'any') !== VEGALITE_MIME) {
      this._host.replaceChildren(this._note('charts need JupyterLab’s Vega-Lite renderer'));
      return;
    }
    const renderer = this.rendermime.createRenderer(VEGALITE_MIME);
    // SVG: crisp at any zoom, and its marks are in the page (the UI tests count them).
    const metadata = { [VEGALITE_MIME]: { embed_options: { renderer: 'svg' } } };
    const model = new MimeModel({ data: bundle, metadata: metadata as never });
    try {
      await renderer.renderModel(model);
    } catch (error) {
      renderer.dispose();
      if (ticket === this._ticket) {
        this._host.replaceChildren(this._note(`chart failed: ${(error as Error).message}`));
      }
      return;
    }
    if (ticket !== this._ticket || this.isDisposed) {
      renderer.dispose();
      return;
    }
    this._host.replaceChildren();
    this._renderer = renderer;
    place(renderer, this._host);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._themeWatch.disconnect();
    this._renderer?.dispose();
    super.dispose();
  }

  private _note(text: string): HTMLElement {
    const note = document.createElement('div');
    note.className = 'jp-omega-chartview-empty';
    note.textContent = text;
    return note;
  }

  private _heading = document.createElement('h2');
  private _host = document.createElement('div');
  private _status = document.createElement('div');
  private _renderer: ReturnType<IRenderMimeRegistry['createRenderer']> | null = null;
  private _spec: Record<string, unknown> | null = null;
  private _empty = '';
  private _light: string | undefined = undefined;
  private _ticket = 0;
  private _themeWatch: MutationObserver;
}

/**
 * Show `content` in a main-area tab with id `id`, or bring forward the tab already showing
 * it (then `content` is disposed and the open one returned).
 */
export function openChartTab<T extends Widget>(
  app: JupyterFrontEnd,
  id: string,
  content: T,
  label: string
): MainAreaWidget<T> {
  for (const widget of app.shell.widgets('main')) {
    if (widget.id === id) {
      content.dispose();
      app.shell.activateById(id);
      return widget as MainAreaWidget<T>;
    }
  }
  const tab = new MainAreaWidget({ content });
  tab.id = id;
  tab.addClass('jp-omega-chart-tab');
  tab.title.label = label;
  tab.title.caption = label;
  tab.title.icon = omegaIcon;
  tab.title.closable = true;
  app.shell.add(tab, 'main');
  app.shell.activateById(id);
  return tab;
}
