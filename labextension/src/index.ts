/**
 * omega_jupyter in JupyterLab: the side panel, its commands and context menus, the `omega:`
 * contents drive and "Save to omega".
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  Notification,
  ToolbarButton,
  showDialog
} from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookPanel, NotebookWidgetFactory } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Widget } from '@lumino/widgets';

import { OmegaActions, RUN_VIEWER, reportError } from './actions';
import { OmegaApiError } from './api';
import { addAppCommands, APP_BUTTON_COMMANDS, AppCommandIDs, AppsSection } from './appsection';
import { AppsApi } from './appsapi';
import { startItemDrag } from './drag';
import { OmegaDrive, saveMessage } from './drive';
import { DriftApi } from './drift';
import { openDriftChart } from './driftchart';
import { openExperimentChart } from './expchart';
import { ExperimentApi, parseExperimentKey } from './experiments';
import { omegaIcon } from './icon';
import { groupIdOf } from './groups';
import { OmegaPanel, SectionId } from './panel';
import { addRunCommands, RunCommandIDs, RunCommands } from './runcommands';
import { OmegaService, StoreName } from './service';

const PLUGIN_ID = 'omega-jupyter:plugin';

export namespace CommandIDs {
  export const open = 'omega:open-panel';
  export const refresh = 'omega:refresh';
  export const preview = 'omega:preview-dataset';
  export const insert = 'omega:insert-code';
  export const drop = 'omega:delete';
  export const describeModel = 'omega:describe-model';
  export const predict = 'omega:predict';
  export const openNotebook = 'omega:open-notebook';
  export const runNow = 'omega:run-now';
  export const schedule = 'omega:schedule';
  export const saveCurrent = 'omega:save-to-omega';
  export const saveFile = 'omega:save-file-to-omega';
  export const openRun = 'omega:open-run';
  export const cancelRun = 'omega:cancel-run';
  export const saveRunResult = 'omega:save-run-result';
  export const experimentChart = 'omega:experiment-chart';
  export const history = 'omega:notebook-history';
  export const saveVersion = 'omega:save-version';
  export const drift = 'omega:model-drift';
}

type Args = { store?: string; name?: string };

/** Check that the server extension answers; a clear dialog when it does not. */
async function checkServer(service: OmegaService): Promise<void> {
  try {
    await service.ping();
  } catch (error) {
    const missing = error instanceof OmegaApiError && error.serverMissing;
    const body = new Widget();
    body.node.textContent = (error as Error).message;
    await showDialog({
      title: missing ? 'omega server extension not found' : 'omega: the server does not answer',
      body,
      buttons: [Dialog.okButton()]
    });
  }
}

function addCommands(
  app: JupyterFrontEnd,
  actions: OmegaActions,
  panel: OmegaPanel,
  notebooks: INotebookTracker,
  browsers: IFileBrowserFactory | null,
  rendermime: IRenderMimeRegistry | null
): void {
  const { commands } = app;
  const target = (args: Args, store?: SectionId) =>
    actions.target({ store: store ?? args.store, name: args.name });
  const has = (store?: SectionId) => (args: Args) => target(args, store) !== null;
  const experiments = new ExperimentApi(actions.service.settings);
  const drift = new DriftApi(actions.service.settings);

  commands.addCommand(CommandIDs.open, {
    label: 'Show the omega panel',
    execute: () => app.shell.activateById(panel.id)
  });
  commands.addCommand(CommandIDs.refresh, {
    label: 'Refresh omega',
    icon: undefined,
    execute: () => panel.refresh(true).catch(error => reportError('omega refresh failed', error))
  });
  // Commands on one item of one section: (id, label, section, action on the item's name).
  const onItem: [string, string, SectionId, (name: string) => unknown][] = [
    [CommandIDs.preview, 'Preview', 'datasets', name => actions.previewDataset(name)],
    [CommandIDs.describeModel, 'Open model view', 'models', name => actions.describeModel(name)],
    [CommandIDs.predict, 'Predict on a dataset…', 'models', name => actions.predict(name)],
    [
      CommandIDs.drift,
      'Drift…',
      'models',
      name =>
        openDriftChart(app, drift, rendermime, name).catch(error =>
          reportError('Could not open the drift chart', error)
        )
    ],
    [CommandIDs.openNotebook, 'Open', 'jobs', name => actions.openNotebook(name)],
    [CommandIDs.schedule, 'Schedule…', 'jobs', name => actions.schedule(name)],
    [CommandIDs.history, 'Version history', 'jobs', name => actions.showHistory(name)],
    [CommandIDs.openRun, 'Open executed notebook', 'runs', name => actions.openRun(name)],
    [CommandIDs.cancelRun, 'Cancel run', 'runs', name => actions.cancelRun(name)],
    [
      CommandIDs.experimentChart,
      'Open chart',
      'experiments',
      name =>
        openExperimentChart(app, experiments, rendermime, parseExperimentKey(name)).catch(error =>
          reportError('Could not open the chart', error)
        )
    ]
  ];
  for (const [id, label, store, act] of onItem) {
    commands.addCommand(id, {
      label,
      isEnabled: has(store),
      execute: args => {
        const t = target(args as Args, store);
        return t ? act(t.name) : undefined;
      }
    });
  }
  commands.addCommand(CommandIDs.insert, {
    label: 'Insert code',
    caption: 'Insert the code that loads this object into the active notebook',
    isEnabled: has(),
    execute: args => {
      const t = target(args as Args);
      return t ? actions.insertCode(t.store, t.name) : undefined;
    }
  });
  // Ctrl+S in an executed notebook: say what it is instead of JupyterLab's "read-only, use
  // Save As" about a `.runs/<uuid>` path (the binding's selector is more specific than Save's).
  commands.addCommand(CommandIDs.saveRunResult, {
    label: 'Nothing to save: an executed notebook of a run',
    execute: () => {
      const current = app.shell.currentWidget;
      const what = current?.title.label ?? 'this run';
      Notification.info(
        `${what}: the executed notebook is kept with its run and is read-only; nothing to save.`,
        { autoClose: 4000 }
      );
    }
  });
  app.commands.addKeyBinding({
    command: CommandIDs.saveRunResult,
    keys: ['Accel S'],
    selector: '.jp-omega-run-result'
  });
  // The same for an older version of a stored notebook (opened from its history).
  commands.addCommand(CommandIDs.saveVersion, {
    label: 'Nothing to save: an older version of a stored notebook',
    execute: () => {
      const what = app.shell.currentWidget?.title.label ?? 'this version';
      Notification.info(
        `${what}: older versions are read-only; nothing to save. Restore it from the version history to make it the newest.`,
        { autoClose: 5000 }
      );
    }
  });
  app.commands.addKeyBinding({
    command: CommandIDs.saveVersion,
    keys: ['Accel S'],
    selector: '.jp-omega-version'
  });
  commands.addCommand(CommandIDs.drop, {
    label: 'Delete…',
    isEnabled: args => {
      const t = target(args as Args);
      return t !== null && t.store !== 'runs' && t.store !== 'experiments';
    },
    execute: args => {
      const t = target(args as Args);
      return t ? actions.drop(t.store as StoreName, t.name) : undefined;
    }
  });
  commands.addCommand(CommandIDs.runNow, {
    label: 'Run now',
    isEnabled: args => {
      const t = target(args as Args);
      return t !== null && (t.store === 'jobs' || t.store === 'scripts');
    },
    execute: args => {
      const t = target(args as Args);
      return t ? actions.runNow(t.store as 'jobs' | 'scripts', t.name) : undefined;
    }
  });
  commands.addCommand(CommandIDs.saveCurrent, {
    label: 'Save to omega',
    caption: 'Store this notebook in omega (a new version)',
    icon: omegaIcon,
    isEnabled: () => notebooks.currentWidget !== null,
    execute: () => {
      const current = notebooks.currentWidget;
      return current ? actions.saveToOmega(current) : undefined;
    }
  });
  commands.addCommand(CommandIDs.saveFile, {
    label: 'Save to omega',
    icon: omegaIcon,
    isVisible: () => {
      const item = browsers?.tracker.currentWidget?.selectedItems().next();
      return !!item && !item.done && item.value.path.endsWith('.ipynb');
    },
    execute: () => {
      const item = browsers?.tracker.currentWidget?.selectedItems().next();
      return item && !item.done ? actions.saveToOmega(item.value.path) : undefined;
    }
  });

  const menu: [string, string, number][] = [
    [CommandIDs.preview, 'datasets', 1],
    [CommandIDs.insert, 'datasets', 2],
    [CommandIDs.drop, 'datasets', 9],
    [CommandIDs.describeModel, 'models', 1],
    [CommandIDs.insert, 'models', 2],
    [CommandIDs.predict, 'models', 3],
    [CommandIDs.drift, 'models', 4],
    [CommandIDs.drop, 'models', 9],
    [CommandIDs.openNotebook, 'jobs', 1],
    [CommandIDs.runNow, 'jobs', 2],
    [CommandIDs.schedule, 'jobs', 3],
    [CommandIDs.history, 'jobs', 4],
    [CommandIDs.insert, 'jobs', 5],
    [CommandIDs.drop, 'jobs', 9],
    [CommandIDs.runNow, 'scripts', 1],
    [CommandIDs.insert, 'scripts', 2],
    [CommandIDs.drop, 'scripts', 9],
    [CommandIDs.openRun, 'runs', 1],
    [CommandIDs.cancelRun, 'runs', 2],
    [CommandIDs.insert, 'runs', 3],
    [CommandIDs.experimentChart, 'experiments', 1],
    [CommandIDs.insert, 'experiments', 2]
  ];
  for (const [command, store, rank] of menu) {
    // A run group's row (groups.ts) has commands of its own (runcommands.ts).
    const notGroup = store === 'runs' ? ':not([data-kind="group"])' : '';
    app.contextMenu.addItem({
      command,
      selector: `.jp-omega-item[data-store="${store}"]${notGroup}`,
      rank
    });
  }
  app.contextMenu.addItem({
    command: CommandIDs.saveFile,
    selector: '.jp-DirListing-item[data-file-type="notebook"]',
    rank: 20
  });
}

/**
 * A notebook widget factory for executed notebooks of runs: read-only, it never starts or
 * asks for a kernel (opening six results must not start six kernels) and the document is
 * never dirty (nothing to save: Save would only offer "Save As" into `.runs/`).
 */
function addRunViewer(app: JupyterFrontEnd): void {
  const registry = app.docRegistry;
  const base = registry.getWidgetFactory('Notebook') as NotebookWidgetFactory | undefined;
  if (!base || registry.getWidgetFactory(RUN_VIEWER)) {
    return;
  }
  const factory = new NotebookWidgetFactory({
    name: RUN_VIEWER,
    label: 'Executed notebook (omega run, read-only)',
    fileTypes: ['notebook'],
    modelName: 'notebook',
    readOnly: true,
    preferKernel: false,
    canStartKernel: false,
    shutdownOnClose: false,
    autoStartDefault: false,
    rendermime: base.rendermime,
    contentFactory: base.contentFactory,
    mimeTypeService: base.mimeTypeService,
    editorConfig: base.editorConfig,
    notebookConfig: base.notebookConfig,
    toolbarFactory: () => []
  });
  factory.widgetCreated.connect((_, widget) => {
    void widget.context.ready.then(() => {
      const model = widget.context.model;
      // Whatever the view changes on load (cell ids, trust, the cells' read-only flags below)
      // is no edit of a result: the document is never dirty.
      model.stateChanged.connect((m, change) => {
        if (change.name === 'dirty' && change.newValue) {
          m.dirty = false;
        }
      });
      model.readOnly = true;
      // Its cells cannot be edited either: a result is kept as it ran.
      for (const cell of widget.content.widgets) {
        cell.readOnly = true;
      }
      model.dirty = false;
    });
  });
  registry.addWidgetFactory(factory);
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'The omega side panel: datasets, models, notebooks, scripts and runs.',
  autoStart: true,
  requires: [INotebookTracker, IDocumentManager],
  optional: [
    ILayoutRestorer,
    ICommandPalette,
    ISettingRegistry,
    IFileBrowserFactory,
    IRenderMimeRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker,
    docManager: IDocumentManager,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    browsers: IFileBrowserFactory | null,
    rendermime: IRenderMimeRegistry | null
  ) => {
    const service = new OmegaService(app.serviceManager.serverSettings);
    app.serviceManager.contents.addDrive(
      new OmegaDrive(service, (name, summary) => {
        Notification.info(saveMessage(name, summary), { autoClose: 4000 });
      })
    );

    const panel = new OmegaPanel({
      service,
      refreshInterval: 10,
      onActivate: (store, key) => {
        const commands: Record<SectionId, string> = {
          datasets: CommandIDs.preview,
          models: CommandIDs.describeModel,
          jobs: CommandIDs.openNotebook,
          scripts: CommandIDs.insert,
          runs: CommandIDs.openRun,
          experiments: CommandIDs.experimentChart,
          apps: AppCommandIDs.open
        };
        const group = store === 'runs' ? groupIdOf(key) : null;
        if (group) {
          void runCommands.openGroup(group);
          return;
        }
        void app.commands.execute(commands[store], { store, name: key });
      },
      onOpenRunsView: () => void app.commands.execute(RunCommandIDs.runsView),
      onAppButton: (what, name) =>
        void app.commands.execute(APP_BUTTON_COMMANDS[what], { store: 'apps', name }),
      onDragStart: (store, key, event) => startItemDrag(store, key, event, panel)
    });
    panel.title.icon = omegaIcon;
    panel.title.caption = 'omega: datasets, models, notebooks, scripts, runs and experiments';
    app.shell.add(panel, 'left', { rank: 600 });
    if (restorer) {
      restorer.add(panel, 'omega-jupyter-panel');
    }
    addRunViewer(app);
    const actions = new OmegaActions(app, service, panel, notebooks, docManager, rendermime);
    addCommands(app, actions, panel, notebooks, browsers, rendermime);
    const runCommands = new RunCommands(app, service, panel, actions);
    addRunCommands(app, runCommands, browsers);
    addAppCommands(
      app,
      new AppsApi(service.settings),
      () => panel.section('apps') as AppsSection,
      (args, stores) => {
        const t = actions.target(args);
        return t && stores.includes(t.store) ? t.name : null;
      }
    );

    if (palette) {
      for (const command of [
        CommandIDs.saveCurrent,
        CommandIDs.refresh,
        CommandIDs.open,
        RunCommandIDs.runsView
      ]) {
        palette.addItem({ command, category: 'omega' });
      }
    }
    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (nbPanel: NotebookPanel) => {
        const button = new ToolbarButton({
          icon: omegaIcon,
          tooltip: 'Save to omega',
          label: '',
          onClick: () => void actions.saveToOmega(nbPanel)
        });
        button.addClass('jp-omega-save-button');
        nbPanel.toolbar.insertAfter('save', 'omega-save', button);
        return button;
      }
    });

    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const apply = () => {
            panel.setRefreshInterval(settings.get('refreshInterval').composite as number);
          };
          apply();
          settings.changed.connect(apply);
        })
        .catch(() => undefined); // defaults apply
    }
    void app.restored.then(() => checkServer(service));
  }
};

export default plugin;
