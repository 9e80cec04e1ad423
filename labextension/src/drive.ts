/**
 * The `omega:` contents drive: stored notebooks (jobs) as files, so a notebook from the store
 * opens in JupyterLab's own notebook editor and Save writes a new version back.
 * `omega:reports/daily.ipynb` is the job `reports/daily`; folders come from `/` in names.
 */
import { Contents, ServerConnection } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';

import { runIdOfPath } from './runfile';
import { OmegaApiError } from './api';
import { notebookName, notebookPath } from './format';
import { versionRef } from './history';
import type { IObjectSummary, OmegaService } from './service';

export const DRIVE_NAME = 'omega';
/** Executed notebooks of runs appear read-only under this folder: `.runs/<run id>.ipynb`. */
export const RUNS_DIR = '.runs';

const NOTEBOOK_MIME = 'application/x-ipynb+json';
const EPOCH = new Date(0).toISOString();

function readOnly(what: string): Error {
  return new OmegaApiError(`the omega drive cannot ${what}`, 400, 'unsupported');
}

/** The directory listing at `dir` ('' = top) of stored notebook names. */
export function listing(items: readonly IObjectSummary[], dir: string): Contents.IModel[] {
  const prefix = dir ? `${dir.replace(/\/+$/, '')}/` : '';
  const files: Contents.IModel[] = [];
  const folders = new Map<string, string>();
  for (const item of items) {
    const name = item.name;
    if (!name.startsWith(prefix)) {
      continue;
    }
    const rest = name.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash >= 0) {
      const folder = rest.slice(0, slash);
      const seen = folders.get(folder);
      if (!seen || seen < item.modified) {
        folders.set(folder, item.modified);
      }
      continue;
    }
    files.push(fileModel(item, null));
  }
  const dirs = [...folders.entries()].map(([folder, modified]) =>
    directoryModel(`${prefix}${folder}`, null, modified)
  );
  return [...dirs, ...files];
}

export function fileModel(item: IObjectSummary, content: unknown): Contents.IModel {
  const path = notebookPath(item.name);
  return {
    name: path.split('/').pop() ?? path,
    path,
    type: 'notebook',
    format: content === null ? null : 'json',
    mimetype: NOTEBOOK_MIME,
    writable: true,
    created: item.modified ?? EPOCH,
    last_modified: item.modified ?? EPOCH,
    content,
    size: item.size ?? undefined
  } as Contents.IModel;
}

function directoryModel(
  path: string,
  content: Contents.IModel[] | null,
  modified: string = EPOCH
): Contents.IModel {
  return {
    name: path.split('/').pop() ?? '',
    path,
    type: 'directory',
    format: content === null ? null : 'json',
    mimetype: '',
    writable: false,
    created: modified,
    last_modified: modified,
    content
  } as Contents.IModel;
}

/** What a save made: the version, and whether it is new (false: the content was unchanged). */
export function saveMessage(name: string, summary: IObjectSummary): string {
  return summary.created === false
    ? `${name}: no changes, still version ${summary.version}`
    : `Saved ${name} as version ${summary.version}`;
}

export class OmegaDrive implements Contents.IDrive {
  /** `onSaved` hears of every save with the version it made (or kept). */
  constructor(
    private readonly service: OmegaService,
    private readonly onSaved?: (name: string, summary: IObjectSummary) => void
  ) {}

  readonly name = DRIVE_NAME;

  get serverSettings(): ServerConnection.ISettings {
    return this.service.settings;
  }

  get fileChanged(): Signal<this, Contents.IChangedArgs> {
    return this._fileChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    this._isDisposed = true;
    Signal.clearData(this);
  }

  async get(localPath: string, options?: Contents.IFetchOptions): Promise<Contents.IModel> {
    const path = localPath.replace(/^\/+|\/+$/g, '');
    if (path.startsWith(`${RUNS_DIR}/`) && path.endsWith('.ipynb')) {
      return this._runResult(path, options?.content !== false);
    }
    const version = versionRef(path);
    if (version) {
      return this._version(path, version, options?.content !== false);
    }
    if (!path || !path.endsWith('.ipynb')) {
      const page = await this.service.list('jobs', { limit: 1000 });
      const prefix = path ? `${path}/` : '';
      if (path && !page.items.some(i => i.name.startsWith(prefix))) {
        throw new OmegaApiError(`no stored notebook or folder ${path}`, 404, 'not_found');
      }
      return directoryModel(path, listing(page.items, path));
    }
    const name = notebookName(path);
    const summary = await this._summary(name);
    if (options?.content === false) {
      return fileModel(summary, null);
    }
    const notebook = await this.service.getJob(name);
    return fileModel(summary, notebook);
  }

  async save(localPath: string, options: Partial<Contents.IModel> = {}): Promise<Contents.IModel> {
    if (options.type && options.type !== 'notebook') {
      throw readOnly(`store ${options.type} files: only notebooks (.ipynb)`);
    }
    if (localPath.replace(/^\/+/, '').startsWith(`${RUNS_DIR}/`)) {
      throw readOnly('change the executed notebook of a run: save it under another name');
    }
    if (versionRef(localPath)) {
      throw readOnly('change an older version: restore it from the version history first');
    }
    const name = notebookName(localPath);
    const summary = await this.service.putJob(name, options.content);
    const model = fileModel(summary, null);
    this._fileChanged.emit({ type: 'save', oldValue: null, newValue: model });
    this.onSaved?.(name, summary);
    return model;
  }

  async delete(localPath: string): Promise<void> {
    await this.service.dropJob(notebookName(localPath));
    this._fileChanged.emit({ type: 'delete', oldValue: { path: localPath }, newValue: null });
  }

  async rename(oldLocalPath: string, newLocalPath: string): Promise<Contents.IModel> {
    if (!newLocalPath.endsWith('.ipynb')) {
      throw readOnly('rename a notebook to a name without .ipynb');
    }
    const content = await this.service.getJob(notebookName(oldLocalPath));
    const summary = await this.service.putJob(notebookName(newLocalPath), content);
    await this.service.dropJob(notebookName(oldLocalPath));
    const model = fileModel(summary, null);
    this._fileChanged.emit({ type: 'rename', oldValue: { path: oldLocalPath }, newValue: model });
    return model;
  }

  async copy(localPath: string, toLocalDir: string): Promise<Contents.IModel> {
    const name = notebookName(localPath);
    const base = name.split('/').pop() ?? name;
    const dir = toLocalDir.replace(/^\/+|\/+$/g, '');
    const target = `${dir ? `${dir}/` : ''}${base}-copy`;
    const summary = await this.service.putJob(target, await this.service.getJob(name));
    const model = fileModel(summary, null);
    this._fileChanged.emit({ type: 'new', oldValue: null, newValue: model });
    return model;
  }

  async newUntitled(options: Contents.ICreateOptions = {}): Promise<Contents.IModel> {
    if (options.type && options.type !== 'notebook') {
      throw readOnly(`create ${options.type}s: only notebooks`);
    }
    const dir = (options.path ?? '').replace(/^\/+|\/+$/g, '');
    const name = `${dir ? `${dir}/` : ''}Untitled-${Date.now()}`;
    const empty = { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 };
    const model = fileModel(await this.service.putJob(name, empty), null);
    this._fileChanged.emit({ type: 'new', oldValue: null, newValue: model });
    return model;
  }

  async getDownloadUrl(localPath: string): Promise<string> {
    throw readOnly(`offer a download link for ${localPath}; use "Download" on an open notebook`);
  }

  // Every save is a new version in the store: versions are the checkpoints, kept server-side.
  async createCheckpoint(localPath: string): Promise<Contents.ICheckpointModel> {
    const summary = await this._summary(notebookName(localPath));
    return { id: String(summary.version), last_modified: summary.modified };
  }

  async listCheckpoints(): Promise<Contents.ICheckpointModel[]> {
    return [];
  }

  async restoreCheckpoint(): Promise<void> {
    throw readOnly('restore checkpoints; read an older version with om.jobs.get("name@N")');
  }

  async deleteCheckpoint(): Promise<void> {
    return;
  }

  private async _runResult(path: string, content: boolean): Promise<Contents.IModel> {
    const rest = path.slice(RUNS_DIR.length + 1);
    const id = runIdOfPath(rest);
    const run = await this.service.run(id);
    const when = run.finished ?? run.started ?? run.submitted ?? EPOCH;
    const model = fileModel(
      {
        name: `${RUNS_DIR}/${notebookName(rest)}`,
        kind: 'notebook',
        version: 1,
        modified: when,
        size: null
      },
      content ? await this.service.runResult(id) : null
    );
    return { ...model, writable: false };
  }

  /** An older version of a stored notebook, read-only (`.versions/<name>@<n>.ipynb`). */
  private async _version(
    path: string,
    ref: { name: string; version: number },
    content: boolean
  ): Promise<Contents.IModel> {
    const model = fileModel(
      {
        name: path.replace(/\.ipynb$/, ''),
        kind: 'notebook',
        version: ref.version,
        modified: EPOCH,
        size: null
      },
      content ? await this.service.getJob(`${ref.name}@${ref.version}`) : null
    );
    return { ...model, writable: false };
  }

  private async _summary(name: string): Promise<IObjectSummary> {
    const escaped = name.replace(/[[*?]/g, ch => `[${ch}]`);
    const page = await this.service.list('jobs', { pattern: escaped, limit: 1 });
    const found = page.items.find(i => i.name === name);
    if (!found) {
      throw new OmegaApiError(`no stored notebook ${name}`, 404, 'not_found');
    }
    return found;
  }

  private _isDisposed = false;
  private _fileChanged = new Signal<this, Contents.IChangedArgs>(this);
}
