/**
 * The model details dialog's body: a grid of label and value (each value at its own height,
 * never squeezed by the dialog), the tags of every version and a table of the versions.
 */
import { formatTime } from './format';

export interface IModelVersion {
  version: number;
  created?: string;
  tags?: string[];
}

/** `prod → v2, staging → v4`: each tag with the version it points at ('—' when none). */
export function tagSummary(details: Record<string, unknown>): string {
  const versions = (details.versions as IModelVersion[] | undefined) ?? [];
  const parts: string[] = [];
  for (const v of versions) {
    for (const tag of v.tags ?? []) {
      parts.push(`${tag} → v${v.version}`);
    }
  }
  if (!parts.length) {
    // Older servers: the tags of the described version only.
    const own = (details.tags as string[] | undefined) ?? [];
    parts.push(...own.map(tag => `${tag} → v${details.version}`));
  }
  return parts.length ? parts.join(', ') : '—';
}

function text(value: unknown): string {
  if (value === null || value === undefined || value === '') {
    return '—';
  }
  if (typeof value === 'string') {
    return value;
  }
  if (typeof value === 'object' && !Object.keys(value as object).length) {
    return '—';
  }
  return JSON.stringify(value, null, 1);
}

/** The dialog body for the answer of `panel/models/{name}`. */
export function modelDetailsNode(details: Record<string, unknown>): HTMLElement {
  const root = document.createElement('div');
  root.className = 'jp-omega-model-grid';
  const add = (label: string, value: HTMLElement | string, block = false) => {
    const dt = document.createElement('div');
    dt.className = 'jp-omega-model-label';
    dt.textContent = label;
    let dd: HTMLElement;
    if (typeof value === 'string') {
      dd = document.createElement(block ? 'pre' : 'div');
      dd.textContent = value;
    } else {
      dd = value;
    }
    dd.classList.add('jp-omega-model-value');
    dd.dataset.field = label.toLowerCase();
    root.append(dt, dd);
  };
  add('Version', `v${details.version}`);
  add('Class', text(details.class));
  add('Format', text(details.format));
  add('Tags', tagSummary(details));
  add('Versions', versionsTable((details.versions as IModelVersion[] | undefined) ?? []));
  add('Signature', text(details.signature), typeof details.signature === 'object');
  add('Lineage', text(details.lineage), true);
  add('Libraries', text(details.libraries), true);
  return root;
}

function versionsTable(versions: IModelVersion[]): HTMLElement {
  const table = document.createElement('table');
  table.className = 'jp-omega-model-versions';
  const head = table.createTHead().insertRow();
  for (const h of ['Version', 'Created', 'Tags']) {
    const th = document.createElement('th');
    th.textContent = h;
    head.append(th);
  }
  const body = table.createTBody();
  for (const v of [...versions].sort((a, b) => b.version - a.version)) {
    const tr = body.insertRow();
    tr.insertCell().textContent = `v${v.version}`;
    tr.insertCell().textContent = formatTime(v.created);
    tr.insertCell().textContent = (v.tags ?? []).join(', ');
  }
  return table;
}
