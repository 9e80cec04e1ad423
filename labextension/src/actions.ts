/**
 * What the panel's commands do: preview, insert code, delete, open/save/run/schedule
 * notebooks, describe models, open/cancel runs. Errors from the server are shown with the
 * server's message; nothing here holds state besides the runs being watched.
 */
import { Dialog, Notification, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Contents } from '@jupyterlab/services';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Widget } from '@lumino/widgets';
import { Poll } from '@lumino/polling';

import type { OmegaApiError } from './api';
import { DRIVE_NAME, RUNS_DIR, saveMessage } from './drive';

/** The widget factory of executed notebooks: read-only, never starts a kernel (index.ts). */
export const RUN_VIEWER = 'omega-run-result';

/** Whether a run left an executed notebook (notebook runs do; scripts and models do not). */
export function hasNotebook(run: { kind: string }): boolean {
  return run.kind === 'job' || run.kind === 'notebook';
}
import { insertCode, isFinal, notebookPath, runTitle } from './format';
import { omegaIcon } from './icon';
import { HistoryView, versionPath, versionTitle } from './history';
import { ModelView } from './modelview';
import type { OmegaPanel, SectionId } from './panel';
import { DatasetPreview } from './preview';
import { runFileStem } from './runfile';
import { RunView } from './runview';
import { ScheduleDialog, ScheduleForm } from './schedule';
import type { IParameter, IRun, ISchedule, OmegaService, StoreName } from './service';

const STORE_WORDS: Record<StoreName, string> = {
  datasets: 'dataset',
  models: 'model',
  jobs: 'notebook',
  scripts: 'script'
};

/** Show an error from the server (or anywhere) with its message. */
export function reportError(title: string, error: unknown): void {
  void showErrorMessage(title, (error as Error)?.message ?? String(error));
}

function textBody(text: string): Widget {
  const body = new Widget();
  body.node.textContent = text;
  return body;
}

export class OmegaActions {
  constructor(
    private readonly app: JupyterFrontEnd,
    readonly service: OmegaService,
    private readonly panel: OmegaPanel,
    private readonly notebooks: INotebookTracker,
    private readonly docManager: IDocumentManager,
    private readonly rendermime: IRenderMimeRegistry | null = null
  ) {
    this._watch = new Poll({
      factory: () => this._checkRuns(),
      frequency: { interval: 2000, backoff: true, max: 30000 },
      name: 'omega_jupyter:runs',
      standby: () => (this._watched.size ? 'when-hidden' : true)
    });
  }

  dispose(): void {
    this._watch.dispose();
  }

  /** The object the context menu was opened on (or the given args). */
  target(args: { store?: string; name?: string }): { store: SectionId; name: string } | null {
    if (args.store && args.name) {
      return { store: args.store as SectionId, name: args.name };
    }
    const last = this.panel.lastSelected;
    return last && (!args.store || args.store === last.store) ? last : null;
  }

  async previewDataset(name: string): Promise<void> {
    let version: number | null = null;
    const content = new DatasetPreview(name, {
      load: () => this.service.datasetProfile(name),
      rendermime: this.rendermime,
      // Later pages read the version the first page showed (not one stored since).
      page: (offset, limit) =>
        this.service.previewDataset(version ? `${name}@${version}` : name, limit, offset)
    });
    const widget = new MainAreaWidget({ content });
    widget.id = `omega-preview-${encodeURIComponent(name)}-${Date.now()}`;
    widget.title.label = name;
    widget.title.caption = `omega dataset ${name}`;
    widget.title.icon = omegaIcon;
    widget.title.closable = true;
    this.app.shell.add(widget, 'main');
    this.app.shell.activateById(widget.id);
    try {
      const first = await this.service.previewDataset(name, 100);
      version = first.metadata.version;
      content.showPreview(first);
    } catch (error) {
      content.showError((error as Error).message);
    }
  }

  /** Put the code that loads `name` into a new cell below the active one. */
  insertCode(store: string, name: string): boolean {
    const panel = this.notebooks.currentWidget;
    if (!panel) {
      Notification.warning('Open a notebook first: the code goes into the active notebook.', {
        autoClose: 5000
      });
      return false;
    }
    const notebook = panel.content;
    NotebookActions.insertBelow(notebook);
    const cell = notebook.activeCell;
    if (cell) {
      cell.model.sharedModel.setSource(insertCode(store, name));
    }
    this.app.shell.activateById(panel.id);
    return true;
  }

  async drop(store: StoreName, name: string): Promise<void> {
    const word = STORE_WORDS[store];
    const extra =
      store === 'jobs' || store === 'scripts'
        ? ', all its versions and its schedule'
        : ' and all its versions';
    const answer = await showDialog({
      title: `Delete ${word}`,
      body: textBody(`Delete the ${word} "${name}"${extra}? This cannot be undone.`),
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      await this.service.drop(store, name);
      Notification.success(`Deleted ${word} ${name}`, { autoClose: 3000 });
    } catch (error) {
      reportError(`Could not delete ${name}`, error);
    }
    await this._refreshSection(store);
  }

  /** The model's view in a main-area tab (one per model: a second call reveals it). */
  async describeModel(name: string): Promise<ModelView | null> {
    const id = `omega-model-${encodeURIComponent(name)}`;
    const open = Array.from(this.app.shell.widgets('main')).find(w => w.id === id);
    if (open instanceof MainAreaWidget && open.content instanceof ModelView) {
      this.app.shell.activateById(id);
      await open.content.load();
      return open.content;
    }
    const content = new ModelView(name, this.service, {
      openDataset: dataset => void this.previewDataset(dataset),
      openRun: run => void this.openRun(run),
      openDrift: model =>
        void this.app.commands.execute('omega:model-drift', { store: 'models', name: model })
    });
    const widget = new MainAreaWidget({ content });
    widget.id = id;
    widget.title.label = `Model ${name}`;
    widget.title.caption = `omega model ${name}: versions, lineage, metrics, predict`;
    widget.title.icon = omegaIcon;
    widget.title.closable = true;
    this.app.shell.add(widget, 'main');
    this.app.shell.activateById(id);
    await content.load();
    return content;
  }

  /** Predict: the model's view with its predict form focused. */
  async predict(model: string): Promise<void> {
    const view = await this.describeModel(model);
    const input = view?.predictParts.dataset;
    if (input) {
      input.scrollIntoView({ block: 'center' });
      input.focus();
    }
  }

  /** The version history of a stored notebook in a tab (one per notebook). */
  async showHistory(name: string): Promise<HistoryView> {
    const id = `omega-history-${encodeURIComponent(name)}`;
    const open = Array.from(this.app.shell.widgets('main')).find(w => w.id === id);
    if (open instanceof MainAreaWidget && open.content instanceof HistoryView) {
      this.app.shell.activateById(id);
      await open.content.load();
      return open.content;
    }
    const content = new HistoryView(name, this.service, {
      openVersion: (n, v) => this.openVersion(n, v),
      confirmRestore: async (n, v) => {
        const answer = await showDialog({
          title: 'Restore version',
          body: textBody(
            `Store version ${v} of "${n}" again as its newest version? The versions in between stay.`
          ),
          buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Restore' })]
        });
        return answer.button.accept;
      },
      restored: (n, made, from) => {
        Notification.success(`Restored ${n} v${from} as version ${made}`, { autoClose: 4000 });
        void this._refreshSection('jobs');
      }
    });
    const widget = new MainAreaWidget({ content });
    widget.id = id;
    widget.title.label = `History ${name}`;
    widget.title.caption = `Versions of the stored notebook ${name}`;
    widget.title.icon = omegaIcon;
    widget.title.closable = true;
    this.app.shell.add(widget, 'main');
    this.app.shell.activateById(id);
    await content.load();
    return content;
  }

  /**
   * Open an older version of a stored notebook: read-only, no kernel, never dirty (the
   * executed-notebook viewer), titled `name · vN (read-only)`.
   */
  openVersion(name: string, version: number): void {
    const path = `${DRIVE_NAME}:${versionPath(name, version)}`;
    const factory = this.app.docRegistry.getWidgetFactory(RUN_VIEWER) ? RUN_VIEWER : undefined;
    const widget = this.docManager.openOrReveal(path, factory);
    if (!widget) {
      return;
    }
    const label = versionTitle(name, version);
    const caption = `Version ${version} of the stored notebook ${name} (read-only)`;
    const keep = () => {
      if (widget.title.label !== label) {
        widget.title.label = label;
      }
      if (widget.title.caption !== caption) {
        widget.title.caption = caption;
      }
    };
    if (!widget.hasClass('jp-omega-version')) {
      widget.addClass('jp-omega-version');
      widget.title.changed.connect(keep);
    }
    keep();
  }

  openNotebook(name: string): void {
    this.docManager.openOrReveal(`${DRIVE_NAME}:${notebookPath(name)}`);
  }

  /**
   * Open a run's outcome: the executed notebook of a notebook run, read-only and without a
   * kernel, titled by notebook, time and state; for other runs (scripts, model actions) a
   * tab with the run's result, error and log lines.
   */
  async openRun(runId: string): Promise<void> {
    let run: IRun;
    try {
      run = await this.service.run(runId);
    } catch (error) {
      reportError(`Could not open run ${runId}`, error);
      return;
    }
    if (!hasNotebook(run)) {
      await this._showRun(run);
      return;
    }
    const path = `${DRIVE_NAME}:${RUNS_DIR}/${runId}/${runFileStem(run)}.ipynb`;
    const factory = this.app.docRegistry.getWidgetFactory(RUN_VIEWER) ? RUN_VIEWER : undefined;
    const widget = this.docManager.openOrReveal(path, factory);
    if (!widget) {
      return;
    }
    // The document sets its title from the file name (the run id) when it loads and on
    // every path change: keep the readable one.
    const label = runTitle(run);
    const caption = `Executed notebook of ${run.target} (run ${run.id}, ${run.state})`;
    const keep = () => {
      if (widget.title.label !== label) {
        widget.title.label = label;
      }
      if (widget.title.caption !== caption) {
        widget.title.caption = caption;
      }
    };
    if (!widget.hasClass('jp-omega-run-result')) {
      widget.addClass('jp-omega-run-result');
      widget.title.changed.connect(keep);
    }
    keep();
  }

  private async _showRun(run: IRun): Promise<void> {
    const id = `omega-run-${run.id}`;
    const open = Array.from(this.app.shell.widgets('main')).find(w => w.id === id);
    if (open) {
      this.app.shell.activateById(id);
    }
    const content =
      open instanceof MainAreaWidget && open.content instanceof RunView
        ? open.content
        : new RunView(run.id);
    if (!open) {
      const widget = new MainAreaWidget({ content });
      widget.id = id;
      widget.title.label = runTitle(run);
      widget.title.caption = `omega run ${run.id}`;
      widget.title.icon = omegaIcon;
      widget.title.closable = true;
      this.app.shell.add(widget, 'main');
      this.app.shell.activateById(id);
    }
    try {
      const logs = await this.service.runLogs(run.id);
      content.showRun(run, logs.items ?? []);
    } catch (error) {
      content.showRun(run, [], `the log could not be read: ${(error as Error).message}`);
    }
  }

  /** Store the notebook open in `panel` (or at a file path) as a new version of a job. */
  async saveToOmega(source: NotebookPanel | string): Promise<string | null> {
    const path = typeof source === 'string' ? source : source.context.path;
    const local = this.docManager.services.contents.localPath(path);
    const base = local.replace(/\.ipynb$/, '');
    const input = document.createElement('input');
    input.value = base;
    input.setAttribute('aria-label', 'Name in omega');
    const answer = await showDialog({
      title: 'Save to omega',
      body: new Widget({ node: input }),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Save' })],
      focusNodeSelector: 'input'
    });
    const name = input.value.trim();
    if (!answer.button.accept || !name) {
      return null;
    }
    try {
      let content: unknown;
      if (typeof source === 'string') {
        const model: Contents.IModel = await this.docManager.services.contents.get(path, {
          content: true,
          type: 'notebook'
        });
        content = model.content;
      } else {
        content = source.context.model.toJSON();
      }
      const summary = await this.service.putJob(name, content);
      Notification.success(saveMessage(name, summary), { autoClose: 4000 });
      await this.panel
        .section('jobs')
        .model.refresh()
        .catch(() => undefined);
      return name;
    } catch (error) {
      reportError(`Could not save ${name} to omega`, error);
      return null;
    }
  }

  async runNow(store: 'jobs' | 'scripts', name: string): Promise<string | null> {
    try {
      const accepted =
        store === 'jobs' ? await this.service.runJob(name) : await this.service.runScript(name);
      Notification.info(`Started ${name} (run ${accepted.run.slice(0, 8)})`, { autoClose: 3000 });
      this.watch(accepted.run, name);
      this._refreshRuns();
      return accepted.run;
    } catch (error) {
      reportError(`Could not run ${name}`, error);
      return null;
    }
  }

  async schedule(name: string): Promise<void> {
    let existing: ISchedule | null;
    let parameters: IParameter[];
    try {
      existing = await this.service.getSchedule(name).catch(error => {
        if ((error as OmegaApiError).status === 404) {
          return null; // no schedule yet
        }
        throw error;
      });
      parameters = (await this.service.parameters(name)).parameters;
    } catch (error) {
      reportError(`Could not read the schedule of ${name}`, error);
      return;
    }
    const form = new ScheduleForm(this.service, name, existing, parameters);
    form.pausedChanged.connect((_, paused) => {
      Notification.success(
        paused ? `Paused the schedule of ${name}` : `Resumed the schedule of ${name}`,
        { autoClose: 3000 }
      );
      void this._refreshSection('jobs');
    });
    const buttons = [Dialog.cancelButton(), Dialog.okButton({ label: 'Save schedule' })];
    if (existing) {
      buttons.splice(1, 0, Dialog.warnButton({ label: 'Remove schedule' }));
    }
    const dialog = new ScheduleDialog(form, { title: `Schedule ${name}`, buttons });
    const answer = await dialog.launch();
    if (answer.button.label === 'Remove schedule') {
      try {
        await this.service.unschedule(name);
        Notification.success(`Removed the schedule of ${name}`, { autoClose: 3000 });
      } catch (error) {
        reportError(`Could not remove the schedule of ${name}`, error);
      }
      await this._refreshSection('jobs');
      return;
    }
    const saved = dialog.saved;
    if (answer.button.accept && saved) {
      const state = saved.paused ? ' (paused)' : '';
      Notification.success(`Scheduled ${name}: ${saved.description}${state}`, { autoClose: 5000 });
    }
    await this._refreshSection('jobs');
  }

  /** Reload a section (its rows show schedules); a failure shows in the section itself. */
  private async _refreshSection(store: StoreName): Promise<void> {
    await this.panel
      .section(store)
      .model.refresh()
      .catch(() => undefined);
  }

  async cancelRun(runId: string): Promise<void> {
    try {
      const out = await this.service.cancelRun(runId);
      Notification.info(
        out.cancelled ? `Cancelled run ${runId}` : `Run ${runId} had already ended`,
        {
          autoClose: 3000
        }
      );
    } catch (error) {
      reportError(`Could not cancel run ${runId}`, error);
    }
    this._refreshRuns();
  }

  /** Notify when run `id` (started from the panel) ends. */
  watch(id: string, label: string): void {
    this._watched.set(id, label);
    void this._watch.refresh();
  }

  private async _checkRuns(): Promise<void> {
    for (const [id, label] of [...this._watched]) {
      let run: IRun;
      try {
        run = await this.service.run(id);
      } catch (error) {
        if ((error as { status?: number }).status === 404) {
          this._watched.delete(id);
          continue;
        }
        throw error;
      }
      if (!isFinal(run.state)) {
        continue;
      }
      this._watched.delete(id);
      this._refreshRuns();
      const open = { label: 'Open result', callback: () => void this.openRun(id) };
      const actions = [open];
      if (run.state === 'succeeded') {
        Notification.success(`${label} finished (run ${id.slice(0, 8)})`, {
          autoClose: 8000,
          actions
        });
      } else {
        const why = run.error ? `: ${run.error}` : '';
        Notification.error(`${label} ${run.state}${why}`, { autoClose: false, actions });
      }
    }
  }

  private _refreshRuns(): void {
    void this.panel
      .section('runs')
      .model.refresh()
      .catch(() => undefined);
  }

  private _watched = new Map<string, string>();
  private _watch: Poll;
}
