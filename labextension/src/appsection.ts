/**
 * The Apps section of the panel: the apps that ran (name, source, state, serving), each row with
 * Open (a new browser tab at the app's Jupyter mount), Start, Stop, Restart and Logs; and the
 * commands behind them, with "Serve as app" on a stored notebook or script.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { Widget } from '@lumino/widgets';

import { reportError } from './actions';
import { AppAction, AppsApi, IAppStatus, appActions, appSettling, appUrl } from './appsapi';
import { ISectionOptions, Section } from './section';

export namespace AppCommandIDs {
  export const open = 'omega:open-app';
  export const start = 'omega:start-app';
  export const stop = 'omega:stop-app';
  export const restart = 'omega:restart-app';
  export const logs = 'omega:app-logs';
  export const serve = 'omega:serve-as-app';
}

/** The command behind each button of an app's row. */
export const APP_BUTTON_COMMANDS: Record<string, string> = {
  open: AppCommandIDs.open,
  start: AppCommandIDs.start,
  stop: AppCommandIDs.stop,
  restart: AppCommandIDs.restart,
  logs: AppCommandIDs.logs
};

/** The buttons of an app's row: [what, label, tooltip]. */
const BUTTONS: [AppAction | 'open' | 'logs', string, string][] = [
  ['open', 'Open', 'Open the app in a new browser tab'],
  ['start', 'Start', 'Start the app'],
  ['stop', 'Stop', 'Stop the app (its process ends)'],
  ['restart', 'Restart', 'Restart the app (a new process)'],
  ['logs', 'Logs', 'Show the lines the app logged']
];

/** How often the section looks again while an app starts or stops, and for how long. */
export const FOLLOW_INTERVAL = 1000;
export const FOLLOW_LIMIT = 180;

export class AppsSection extends Section<IAppStatus> {
  constructor(
    options: ISectionOptions<IAppStatus>,
    private readonly onButton: (what: string, name: string) => void
  ) {
    super(options);
    this._ready = true;
    this.render();
  }

  /** Refresh every second while an app is on its way up or down (at most FOLLOW_LIMIT times). */
  follow(): void {
    this._followLeft = FOLLOW_LIMIT;
    if (!this._followTimer) {
      this._followStep();
    }
  }

  dispose(): void {
    window.clearTimeout(this._followTimer);
    super.dispose();
  }

  render(): void {
    super.render();
    if (!this._ready) {
      return; // called by Section's constructor, before this one's fields exist
    }
    const byName = new Map(this.model.items.map(app => [app.name, app]));
    for (const row of Array.from(this.node.querySelectorAll<HTMLElement>('.jp-omega-item'))) {
      const app = byName.get(row.dataset.key ?? '');
      if (app) {
        row.append(this._buttons(app));
      }
    }
  }

  private _buttons(app: IAppStatus): HTMLElement {
    const bar = document.createElement('span');
    bar.className = 'jp-omega-app-actions';
    const allowed: Record<string, boolean> = { ...appActions(app), logs: !!app.run_id };
    for (const [what, label, tip] of BUTTONS) {
      const button = document.createElement('button');
      button.className = `jp-omega-app-${what} jp-Button jp-mod-minimal`;
      button.textContent = label;
      button.title = tip;
      button.disabled = !allowed[what];
      // A press on a button neither selects nor drags the row.
      button.addEventListener('mousedown', event => event.stopPropagation());
      button.addEventListener('dblclick', event => event.stopPropagation());
      button.addEventListener('click', event => {
        event.stopPropagation();
        this.onButton(what, app.name);
      });
      bar.append(button);
    }
    return bar;
  }

  private _followStep(): void {
    this._followTimer = 0;
    if (this.isDisposed || this._followLeft-- <= 0) {
      return;
    }
    this._followTimer = window.setTimeout(() => {
      this.model
        .refresh()
        .catch(() => undefined)
        .then(() => {
          this._followTimer = 0;
          if (this.model.items.some(appSettling)) {
            this._followStep();
          }
        });
    }, FOLLOW_INTERVAL);
  }

  private _ready = false;
  private _followTimer = 0;
  private _followLeft = 0;
}

/** Open app `name` in a new browser tab, at its mount under Jupyter's base URL. */
export function openApp(name: string): void {
  window.open(appUrl(PageConfig.getBaseUrl(), name), '_blank', 'noopener');
}

/** The app's latest log lines in a dialog. */
export async function showAppLogs(api: AppsApi, name: string): Promise<void> {
  const lines = await api.logs(name);
  const body = new Widget({ node: document.createElement('pre') });
  body.addClass('jp-omega-app-logs');
  body.node.textContent = lines.length ? lines.join('\n') : '(no lines logged yet)';
  await showDialog({ title: `Logs of ${name}`, body, buttons: [Dialog.okButton()] });
}

/**
 * The apps commands. `target` answers the item a command acts on in `stores` (the panel's
 * selection or the command's args); `section` is the Apps section, refreshed after each action.
 */
export function addAppCommands(
  app: JupyterFrontEnd,
  api: AppsApi,
  section: () => AppsSection,
  target: (args: { store?: string; name?: string }, stores: string[]) => string | null
): void {
  const act = async (name: string, action: AppAction) => {
    try {
      await api.act(name, action);
    } catch (error) {
      reportError(`Could not ${action} the app ${name}`, error);
    }
    const apps = section();
    if (!apps.isOpen) {
      apps.setOpen(true);
    }
    apps.follow();
  };
  type Args = { store?: string; name?: string };
  const onApp = (args: Args) => target(args, ['apps']);
  const commands: [string, string, (name: string) => unknown][] = [
    [AppCommandIDs.open, 'Open app in a new tab', name => openApp(name)],
    [AppCommandIDs.start, 'Start app', name => act(name, 'start')],
    [AppCommandIDs.stop, 'Stop app', name => act(name, 'stop')],
    [AppCommandIDs.restart, 'Restart app', name => act(name, 'restart')],
    [
      AppCommandIDs.logs,
      'Show app logs',
      name => showAppLogs(api, name).catch(error => reportError('Could not read the logs', error))
    ]
  ];
  for (const [id, label, run] of commands) {
    app.commands.addCommand(id, {
      label,
      isEnabled: args => onApp(args as Args) !== null,
      execute: args => {
        const name = onApp(args as Args);
        return name ? run(name) : undefined;
      }
    });
  }
  const stored = (args: Args) => target(args, ['jobs', 'scripts']);
  app.commands.addCommand(AppCommandIDs.serve, {
    label: 'Serve as app',
    caption: 'Start this notebook (with Voilà) or script package (its app) as a web app',
    isEnabled: args => stored(args as Args) !== null,
    execute: async args => {
      const name = stored(args as Args);
      if (name) {
        await act(name, 'start');
        Notification.info(`Starting the app ${name}: see the Apps section`, {
          autoClose: 4000
        });
      }
    }
  });
  const menu: [string, string, number][] = [
    [AppCommandIDs.open, 'apps', 1],
    [AppCommandIDs.start, 'apps', 2],
    [AppCommandIDs.stop, 'apps', 3],
    [AppCommandIDs.restart, 'apps', 4],
    [AppCommandIDs.logs, 'apps', 5],
    [AppCommandIDs.serve, 'jobs', 6],
    [AppCommandIDs.serve, 'scripts', 3]
  ];
  for (const [command, store, rank] of menu) {
    app.contextMenu.addItem({ command, selector: `.jp-omega-item[data-store="${store}"]`, rank });
  }
}
