/**
 * The tab of a run that has no executed notebook (a script, a model action): what ran, when,
 * how it ended, its result, its error and its log lines.
 */
import { Widget } from '@lumino/widgets';

import { formatDuration, formatTime, runDuration, runTitle } from './format';
import type { ILogLine, IRun } from './service';

function json(value: unknown): string {
  if (value === null || value === undefined) {
    return '—';
  }
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

export class RunView extends Widget {
  constructor(readonly runId: string) {
    super();
    this.addClass('jp-omega-runview');
    this.node.textContent = `Loading run ${runId} …`;
  }

  showError(message: string): void {
    const box = document.createElement('div');
    box.className = 'jp-omega-error';
    box.textContent = message;
    this.node.replaceChildren(box);
  }

  showRun(run: IRun, logs: readonly ILogLine[], logError = ''): void {
    const title = document.createElement('h2');
    title.textContent = runTitle(run);
    const facts = document.createElement('div');
    facts.className = 'jp-omega-model-grid jp-omega-runview-facts';
    const add = (label: string, value: string, block = false) => {
      const dt = document.createElement('div');
      dt.className = 'jp-omega-model-label';
      dt.textContent = label;
      const dd = document.createElement(block ? 'pre' : 'div');
      dd.className = 'jp-omega-model-value';
      dd.dataset.field = label.toLowerCase();
      dd.textContent = value;
      facts.append(dt, dd);
    };
    const version = run.target_version ? ` v${run.target_version}` : '';
    add('Run', run.id);
    add('What', `${run.kind} ${run.target}${version} (${run.action})`);
    add('State', run.state);
    add('Trigger', run.trigger);
    add('Submitted', formatTime(run.submitted));
    add('Started', formatTime(run.started) || '—');
    add('Finished', formatTime(run.finished) || '—');
    add('Duration', formatDuration(runDuration(run)) || '—');
    if (run.parameters && Object.keys(run.parameters as object).length) {
      add('Parameters', json(run.parameters), true);
    }
    add('Result', json(run.result), true);
    if (run.error) {
      add('Error', run.error, true);
    }
    if (run.traceback) {
      add('Traceback', String(run.traceback), true);
    }
    const logTitle = document.createElement('h3');
    logTitle.textContent = `Log (${logs.length} lines)`;
    const log = document.createElement('pre');
    log.className = 'jp-omega-runview-log';
    log.textContent = logError
      ? logError
      : logs.length
        ? logs.map(l => `${l.created}  ${l.levelname.padEnd(7)} ${l.message}`).join('\n')
        : 'no log lines';
    this.node.replaceChildren(title, facts, logTitle, log);
  }
}
