/**
 * The path an executed notebook of a run opens under in the `omega:` drive:
 * `.runs/<run id>/<readable name>.ipynb`, so that what JupyterLab shows of the path (the status
 * bar, the document's name) reads `daily (reports) 2026-12-02 06.12.ipynb`, not the run's id.
 * `.runs/<run id>.ipynb` still opens too.
 */
import type { IRun } from './service';

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** `daily (reports) 2026-12-02 06.12`: the notebook's name, its folder, when the run started. */
export function runFileStem(run: Pick<IRun, 'target' | 'started' | 'submitted'>): string {
  const parts = run.target.split('/').filter(Boolean);
  const name = parts.pop() ?? run.target;
  const folder = parts.length ? ` (${parts.join('/').replace(/\//g, ' ')})` : '';
  const iso = run.started ?? run.submitted;
  const t = iso ? new Date(iso) : null;
  const when =
    t && !isNaN(t.getTime())
      ? ` ${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ` +
        `${pad(t.getHours())}.${pad(t.getMinutes())}`
      : '';
  // Only characters every contents path takes: no slashes, colons or control characters.
  const stem = `${name}${folder}${when}`;
  return Array.from(stem, ch => (ch < ' ' || '\\/:?*"<>|'.includes(ch) ? '_' : ch)).join('');
}

/** The run id in a path under `.runs/` (`<id>.ipynb` or `<id>/<name>.ipynb`). */
export function runIdOfPath(rest: string): string {
  const first = rest.split('/')[0];
  return first.endsWith('.ipynb') ? first.slice(0, -'.ipynb'.length) : first;
}
