/**
 * Commands of the Runs view and of run groups: the Runs view (all runs, one target's history,
 * one group's members), *Run for each…* and *Run with parameters…* on notebooks, cancel and
 * restart of a group, and the HTML export of an executed notebook.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, MainAreaWidget, Notification, showDialog } from '@jupyterlab/apputils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';

import { OmegaActions, reportError } from './actions';
import { DRIVE_NAME } from './drive';
import { notebookName } from './format';
import { groupIdOf } from './groups';
import { omegaIcon } from './icon';
import { MapDialog, MapForm } from './mapdialog';
import type { OmegaPanel, SectionId } from './panel';
import { RunParametersForm } from './rundialog';
import { runFileStem } from './runfile';
import { cancelGroup, downloadExport, IRunItem, isGroup, restartGroup } from './runsapi';
import { IRunsFilter, RunsView, runsViewId, runsViewTitle } from './runsview';
import type { IRun, OmegaService } from './service';

export namespace RunCommandIDs {
  export const runsView = 'omega:runs-view';
  export const history = 'omega:run-history';
  export const runForEach = 'omega:run-for-each';
  export const runForEachFile = 'omega:run-for-each-file';
  export const runWithParameters = 'omega:run-with-parameters';
  export const groupMembers = 'omega:group-members';
  export const cancelGroup = 'omega:cancel-group';
  export const restartGroup = 'omega:restart-group';
  export const exportHtml = 'omega:export-run-html';
}

const KIND_OF: Partial<Record<SectionId, string>> = {
  jobs: 'job',
  scripts: 'script',
  models: 'model'
};

export class RunCommands {
  constructor(
    readonly app: JupyterFrontEnd,
    readonly service: OmegaService,
    readonly panel: OmegaPanel,
    readonly actions: OmegaActions
  ) {}

  /** Open (or show again) the Runs view of `filter`. */
  openView(filter: IRunsFilter = {}): RunsView {
    const id = runsViewId(filter);
    const open = Array.from(this.app.shell.widgets('main')).find(w => w.id === id);
    if (open instanceof MainAreaWidget && open.content instanceof RunsView) {
      this.app.shell.activateById(id);
      void open.content.refresh().catch(() => undefined);
      return open.content;
    }
    const content = new RunsView(this.service, filter, {
      open: run => this.actions.openRun(run.id),
      rerun: run => this.rerun(run),
      cancel: run => this.actions.cancelRun(run.id),
      exportHtml: run => this.exportHtml(run),
      runNow: (kind, target) => this.runWithParameters(kind, target)
    });
    const widget = new MainAreaWidget({ content });
    widget.id = id;
    widget.addClass('jp-omega-runs-view-tab');
    widget.title.label = runsViewTitle(filter);
    widget.title.caption = filter.target
      ? `omega: the runs of ${filter.target}`
      : filter.group
        ? `omega: the members of run group ${filter.group}`
        : 'omega: every run';
    widget.title.icon = omegaIcon;
    widget.title.closable = true;
    this.app.shell.add(widget, 'main');
    this.app.shell.activateById(id);
    return content;
  }

  /** The members of run group `id` in the Runs view. */
  async openGroup(id: string): Promise<RunsView> {
    const item = this.panel
      .section('runs')
      .model.items.find(i => isGroup(i as IRunItem) && (i as { id: string }).id === id) as
      { target: string } | undefined;
    return this.openView({ group: id, groupLabel: item?.target });
  }

  /** Run a notebook or script again with the parameters of `run`. */
  async rerun(run: IRun): Promise<string | null> {
    const parameters = (run.parameters ?? {}) as Record<string, unknown>;
    try {
      const accepted =
        run.kind === 'script'
          ? await this.service.runScript(run.target, parameters)
          : await this.service.runJob(run.target, parameters);
      Notification.info(`Started ${run.target} again (run ${accepted.run.slice(0, 8)})`, {
        autoClose: 3000
      });
      this.actions.watch(accepted.run, run.target);
      this._refreshRuns();
      return accepted.run;
    } catch (error) {
      reportError(`Could not run ${run.target} again`, error);
      return null;
    }
  }

  /** *Run now…* with the parameters typed in a dialog (the notebook's parameters cell). */
  async runWithParameters(kind: string, target: string): Promise<string | null> {
    let declared: { name: string; type: string; default: string; help: string }[] = [];
    if (kind === 'job') {
      try {
        declared = (await this.service.parameters(target)).parameters;
      } catch (error) {
        reportError(`Could not read the parameters of ${target}`, error);
        return null;
      }
    }
    const form = new RunParametersForm(declared);
    const answer = await showDialog({
      title: `Run ${target}`,
      body: form,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Run now' })]
    });
    if (!answer.button.accept) {
      return null;
    }
    const parameters = form.getValue();
    try {
      const accepted =
        kind === 'script'
          ? await this.service.runScript(target, parameters)
          : await this.service.runJob(target, parameters);
      Notification.info(`Started ${target} (run ${accepted.run.slice(0, 8)})`, { autoClose: 3000 });
      this.actions.watch(accepted.run, target);
      this._refreshRuns();
      return accepted.run;
    } catch (error) {
      reportError(`Could not run ${target}`, error);
      return null;
    }
  }

  /** *Run for each…*: the map dialog of stored notebook `name`. */
  async runForEach(name: string): Promise<string | null> {
    let parameters;
    try {
      parameters = (await this.service.parameters(name)).parameters;
    } catch (error) {
      reportError(`Could not read the parameters of ${name}`, error);
      return null;
    }
    const dialog = new MapDialog(new MapForm(this.service, name, parameters));
    const answer = await dialog.launch();
    const accepted = dialog.accepted;
    if (!answer.button.accept || !accepted) {
      return null;
    }
    Notification.info(`Started ${name} for each of ${accepted.members} parameter sets`, {
      autoClose: 5000,
      actions: [
        {
          label: 'Show members',
          callback: () => void this.openView({ group: accepted.group, groupLabel: name })
        }
      ]
    });
    const runs = this.panel.section('runs');
    if (!runs.isOpen) {
      runs.setOpen(true);
    }
    this._refreshRuns();
    return accepted.group;
  }

  async cancelGroup(id: string): Promise<void> {
    try {
      const out = await cancelGroup(this.service, id);
      Notification.info(`Cancelled the run group: ${out.cancelled} runs stopped, no more sent`, {
        autoClose: 4000
      });
    } catch (error) {
      reportError('Could not cancel the run group', error);
    }
    this._refreshRuns();
  }

  async restartGroup(id: string): Promise<void> {
    try {
      const out = await restartGroup(this.service, id);
      Notification.info(`Running ${out.pending.length} members again`, { autoClose: 4000 });
    } catch (error) {
      reportError('Could not restart the run group', error);
    }
    this._refreshRuns();
  }

  /** Download the executed notebook of `run` as HTML. */
  async exportHtml(run: IRun | string): Promise<void> {
    try {
      const record = typeof run === 'string' ? await this.service.run(run) : run;
      const file = `${runFileStem(record)}.html`;
      await downloadExport(this.service, record.id, file);
      Notification.success(`Exported ${file}`, { autoClose: 3000 });
    } catch (error) {
      reportError('Could not export the executed notebook', error);
    }
  }

  private _refreshRuns(): void {
    void this.panel
      .section('runs')
      .model.refresh()
      .catch(() => undefined);
  }
}

/** Register the commands and their context-menu entries. */
export function addRunCommands(
  app: JupyterFrontEnd,
  runs: RunCommands,
  browsers: IFileBrowserFactory | null
): void {
  const { commands } = app;
  const target = (args: { store?: string; name?: string }) => runs.actions.target(args);
  const group = (args: { store?: string; name?: string }) => {
    const t = target(args);
    return t && t.store === 'runs' ? groupIdOf(t.name) : null;
  };
  commands.addCommand(RunCommandIDs.runsView, {
    label: 'Open the Runs view',
    caption: 'Every run in a table: sort, filter, open, rerun, cancel',
    icon: omegaIcon,
    execute: () => runs.openView({})
  });
  commands.addCommand(RunCommandIDs.history, {
    label: 'Run history',
    caption: 'The runs of this object in the Runs view',
    isEnabled: args => {
      const t = target(args as { store?: string; name?: string });
      return t !== null && KIND_OF[t.store] !== undefined;
    },
    execute: args => {
      const t = target(args as { store?: string; name?: string });
      return t ? runs.openView({ target: t.name, kind: KIND_OF[t.store] }) : undefined;
    }
  });
  commands.addCommand(RunCommandIDs.runForEach, {
    label: 'Run for each…',
    caption: 'Run this notebook once per parameter set, as one run group',
    isEnabled: args => target(args as { store?: string })?.store === 'jobs',
    execute: args => {
      const t = target(args as { store?: string; name?: string });
      return t && t.store === 'jobs' ? runs.runForEach(t.name) : undefined;
    }
  });
  commands.addCommand(RunCommandIDs.runWithParameters, {
    label: 'Run with parameters…',
    isEnabled: args => {
      const store = target(args as { store?: string })?.store;
      return store === 'jobs' || store === 'scripts';
    },
    execute: args => {
      const t = target(args as { store?: string; name?: string });
      return t ? runs.runWithParameters(KIND_OF[t.store] ?? 'job', t.name) : undefined;
    }
  });
  // A stored notebook opened from the omega: drive in the file browser.
  const storedItem = () => {
    const item = browsers?.tracker.currentWidget?.selectedItems().next();
    return item && !item.done && item.value.path.startsWith(`${DRIVE_NAME}:`)
      ? notebookName(item.value.path)
      : null;
  };
  commands.addCommand(RunCommandIDs.runForEachFile, {
    label: 'Run for each… (omega)',
    icon: omegaIcon,
    isVisible: () => storedItem() !== null,
    execute: () => {
      const name = storedItem();
      return name ? runs.runForEach(name) : undefined;
    }
  });
  commands.addCommand(RunCommandIDs.groupMembers, {
    label: 'Show the members in the Runs view',
    isEnabled: args => group(args as { store?: string; name?: string }) !== null,
    execute: args => {
      const id = group(args as { store?: string; name?: string });
      return id ? runs.openGroup(id) : undefined;
    }
  });
  commands.addCommand(RunCommandIDs.cancelGroup, {
    label: 'Cancel the run group',
    isEnabled: args => group(args as { store?: string; name?: string }) !== null,
    execute: args => {
      const id = group(args as { store?: string; name?: string });
      return id ? runs.cancelGroup(id) : undefined;
    }
  });
  commands.addCommand(RunCommandIDs.restartGroup, {
    label: 'Run the failed members again',
    isEnabled: args => group(args as { store?: string; name?: string }) !== null,
    execute: args => {
      const id = group(args as { store?: string; name?: string });
      return id ? runs.restartGroup(id) : undefined;
    }
  });
  commands.addCommand(RunCommandIDs.exportHtml, {
    label: 'Export as HTML',
    caption: 'Download the executed notebook of this run as HTML',
    isEnabled: args => {
      const t = target(args as { store?: string; name?: string });
      return t !== null && t.store === 'runs' && groupIdOf(t.name) === null;
    },
    execute: args => {
      const t = target(args as { store?: string; name?: string });
      return t ? runs.exportHtml(t.name) : undefined;
    }
  });

  const single = '.jp-omega-item[data-store="runs"]:not([data-kind="group"])';
  const groupRow = '.jp-omega-item[data-store="runs"][data-kind="group"]';
  const menu: [string, string, number][] = [
    [RunCommandIDs.runWithParameters, '.jp-omega-item[data-store="jobs"]', 2.5],
    [RunCommandIDs.runForEach, '.jp-omega-item[data-store="jobs"]', 2.6],
    [RunCommandIDs.history, '.jp-omega-item[data-store="jobs"]', 3.5],
    [RunCommandIDs.runWithParameters, '.jp-omega-item[data-store="scripts"]', 1.5],
    [RunCommandIDs.history, '.jp-omega-item[data-store="scripts"]', 2.5],
    [RunCommandIDs.history, '.jp-omega-item[data-store="models"]', 3.5],
    [RunCommandIDs.exportHtml, single, 1.5],
    [RunCommandIDs.runsView, '.jp-omega-item[data-store="runs"]', 8],
    [RunCommandIDs.groupMembers, groupRow, 1],
    [RunCommandIDs.restartGroup, groupRow, 2],
    [RunCommandIDs.cancelGroup, groupRow, 3]
  ];
  for (const [command, selector, rank] of menu) {
    app.contextMenu.addItem({ command, selector, rank });
  }
  app.contextMenu.addItem({
    command: RunCommandIDs.runForEachFile,
    selector: '.jp-DirListing-item[data-file-type="notebook"]',
    rank: 21
  });
}
