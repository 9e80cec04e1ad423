/**
 * Pure helpers: text the panel shows and code it inserts. No DOM, no requests.
 */
import { experimentCode } from './experiments';
import type { IRun } from './service';

/** A Python string literal for `text` (single quotes; backslashes, quotes, control chars escaped). */
export function pyString(text: string): string {
  let out = "'";
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\\') {
      out += '\\\\';
    } else if (ch === "'") {
      out += "\\'";
    } else if (ch === '\n') {
      out += '\\n';
    } else if (ch === '\r') {
      out += '\\r';
    } else if (ch === '\t') {
      out += '\\t';
    } else if (code < 0x20 || code === 0x7f) {
      out += `\\x${code.toString(16).padStart(2, '0')}`;
    } else {
      out += ch;
    }
  }
  return out + "'";
}

/** The code "Insert code" puts into a notebook for an object of `store`. */
export function insertCode(store: string, name: string): string {
  const ref = pyString(name);
  switch (store) {
    case 'datasets':
      return `import omega_jupyter as om\ndf = om.datasets.get(${ref})`;
    case 'models':
      return `import omega_jupyter as om\nmodel = om.models.get(${ref})`;
    case 'jobs':
      return `import omega_jupyter as om\nrun = om.runtime.job(${ref}).run()\nrun.wait().status`;
    case 'scripts':
      return `import omega_jupyter as om\nrun = om.runtime.script(${ref}).run()\nrun.result()`;
    case 'runs':
      return `import omega_jupyter as om\nrun = om.runtime.run(${ref})\nrun.status`;
    case 'experiments':
      return experimentCode(name);
    case 'apps':
      return `import omega_jupyter as om\napp = om.runtime.app(${ref})\napp.status()`;
    default:
      return `import omega_jupyter as om\n# ${name}`;
  }
}

/** `1.5 KB`, `12 MB`: sizes for people. */
export function formatBytes(size: number | null | undefined): string {
  if (size === null || size === undefined || !isFinite(size) || size < 0) {
    return '';
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !isFinite(ms) || ms < 0) {
    return '';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  const s = ms / 1000;
  if (s < 60) {
    return `${s.toFixed(1)} s`;
  }
  const minutes = Math.floor(s / 60);
  if (minutes < 60) {
    return `${minutes} min ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  }
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** How long a run took (or has been running, measured to `now`). */
export function runDuration(run: IRun, now: number = Date.now()): number | null {
  const start = run.started ?? run.submitted;
  if (!start) {
    return null;
  }
  const end = run.finished ? Date.parse(run.finished) : now;
  const begin = Date.parse(start);
  return isNaN(begin) || isNaN(end) ? null : Math.max(0, end - begin);
}

/** `3/7 cells` for a notebook run with progress, '' otherwise. */
export function runProgress(run: IRun): string {
  const p = run.progress;
  if (!p || typeof p !== 'object' || p.cells_total === undefined) {
    return '';
  }
  return `${p.cells_done ?? 0}/${p.cells_total} cells`;
}

export const FINAL_STATES = ['succeeded', 'failed', 'cancelled'];

export function isFinal(state: string): boolean {
  return FINAL_STATES.includes(state);
}

/** `Dec 2, 06:12`: a short time for tab titles and rows. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) {
    return '';
  }
  const t = new Date(iso);
  if (isNaN(t.getTime())) {
    return String(iso);
  }
  return t.toLocaleString(undefined, {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23'
  });
}

/** What a run is in a tab title: `reports/daily · Dec 2, 06:12 · succeeded`. */
export function runTitle(run: IRun): string {
  const when = shortTime(run.started ?? run.submitted);
  return [run.target, when, run.state].filter(Boolean).join(' · ');
}

/** A timestamp in the browser's locale, '' for none. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) {
    return '';
  }
  const t = new Date(iso);
  return isNaN(t.getTime()) ? String(iso) : t.toLocaleString();
}

/**
 * A timestamp in time zone `zone`, the zone named: `Dec 3, 2026, 6:00 AM Europe/Zurich`.
 * An unknown zone falls back to the browser's time (named too).
 */
export function formatTimeIn(iso: string | null | undefined, zone: string): string {
  if (!iso) {
    return '';
  }
  const t = new Date(iso);
  if (isNaN(t.getTime())) {
    return String(iso);
  }
  try {
    const text = new Intl.DateTimeFormat(undefined, {
      timeZone: zone,
      weekday: 'short',
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23'
    }).format(t);
    return `${text} ${zone}`;
  } catch {
    return `${t.toLocaleString()} (${Intl.DateTimeFormat().resolvedOptions().timeZone})`;
  }
}

/** Path in the `omega:` drive of a stored notebook, and back. */
export function notebookPath(name: string): string {
  return name.endsWith('.ipynb') ? name : `${name}.ipynb`;
}

export function notebookName(path: string): string {
  const clean = path.replace(/^omega:/, '').replace(/^\/+/, '');
  return clean.endsWith('.ipynb') ? clean.slice(0, -'.ipynb'.length) : clean;
}
