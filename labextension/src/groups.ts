/**
 * Run groups in the Runs section: one expandable row per group with a progress bar of its
 * members by state, and its failed members listed when expanded.
 */
import { formatTime, shortTime } from './format';
import type { IItemView } from './section';
import type { IGroupItem } from './runsapi';

/** States in the order the progress bar shows them (ended first, then those to come). */
export const GROUP_STATES = [
  'succeeded',
  'failed',
  'cancelled',
  'running',
  'queued',
  'pending'
] as const;

export interface ISegment {
  state: string;
  count: number;
  /** Share of the bar, 0–100. */
  percent: number;
}

/** The bar's segments: one per state with members, in GROUP_STATES order. */
export function groupSegments(counts: Record<string, number>, total: number): ISegment[] {
  const all = Math.max(
    total,
    GROUP_STATES.reduce((n, s) => n + (counts[s] ?? 0), 0)
  );
  if (!all) {
    return [];
  }
  return GROUP_STATES.filter(s => (counts[s] ?? 0) > 0).map(state => ({
    state,
    count: counts[state],
    percent: (100 * counts[state]) / all
  }));
}

/** How many members ended (succeeded, failed or cancelled). */
export function groupEnded(counts: Record<string, number>): number {
  return (counts.succeeded ?? 0) + (counts.failed ?? 0) + (counts.cancelled ?? 0);
}

/** One word for the whole group: running until done, then failed/cancelled/succeeded. */
export function groupState(group: IGroupItem): string {
  if (!group.done) {
    return group.cancelled ? 'cancelling' : 'running';
  }
  if (group.counts.failed) {
    return 'failed';
  }
  if (group.cancelled || group.counts.cancelled) {
    return 'cancelled';
  }
  return 'succeeded';
}

/** `2/3 ended · 1 failed · 1 running`: the group's counts in words. */
export function groupSummary(group: IGroupItem): string {
  const parts = [`${groupEnded(group.counts)}/${group.total} ended`];
  for (const state of ['failed', 'cancelled', 'running', 'queued', 'pending']) {
    const n = group.counts[state] ?? 0;
    if (n) {
      parts.push(`${n} ${state}`);
    }
  }
  if (group.cancelled) {
    parts.push('group cancelled');
  }
  return parts.join(' · ');
}

/** `store=a, n=2`: parameters for a row (JSON values, strings bare). */
export function parametersText(parameters: Record<string, unknown> | null | undefined): string {
  if (!parameters) {
    return '';
  }
  return Object.entries(parameters)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}

/** The key of a group's row in the Runs section (run ids never start with it). */
export const GROUP_PREFIX = 'group:';

export function groupKey(id: string): string {
  return `${GROUP_PREFIX}${id}`;
}

/** The group id of a Runs section key, null for a run's key. */
export function groupIdOf(key: string): string | null {
  return key.startsWith(GROUP_PREFIX) ? key.slice(GROUP_PREFIX.length) : null;
}

export interface IGroupRowOptions {
  expanded: boolean;
  onToggle: (id: string) => void;
  onOpenMember: (runId: string) => void;
}

/** The progress bar of a group: a segment per state, with the counts as its text. */
export function progressBar(group: IGroupItem): HTMLElement {
  const bar = document.createElement('div');
  bar.className = 'jp-omega-group-bar';
  bar.setAttribute('role', 'progressbar');
  bar.setAttribute('aria-valuemin', '0');
  bar.setAttribute('aria-valuemax', String(group.total));
  bar.setAttribute('aria-valuenow', String(groupEnded(group.counts)));
  bar.setAttribute('aria-label', `${group.target}: ${groupSummary(group)}`);
  bar.title = GROUP_STATES.filter(s => group.counts[s])
    .map(s => `${s}: ${group.counts[s]}`)
    .join('\n');
  for (const segment of groupSegments(group.counts, group.total)) {
    const part = document.createElement('span');
    part.className = 'jp-omega-group-segment';
    part.dataset.state = segment.state;
    part.style.width = `${segment.percent}%`;
    bar.append(part);
  }
  return bar;
}

/** The Runs section's row of a run group. */
export function groupView(group: IGroupItem, options: IGroupRowOptions): IItemView {
  const version = group.target_version ? ` v${group.target_version}` : '';
  const state = groupState(group);
  const extra = document.createElement('div');
  extra.className = 'jp-omega-group-extra';
  const line = document.createElement('div');
  line.className = 'jp-omega-group-line';
  const toggle = document.createElement('button');
  toggle.className = 'jp-omega-group-toggle jp-Button jp-mod-minimal';
  toggle.textContent = options.expanded ? '▾' : '▸';
  toggle.title = options.expanded ? 'Hide the failed members' : 'Show the failed members';
  toggle.setAttribute('aria-expanded', String(options.expanded));
  toggle.setAttribute('aria-label', toggle.title);
  toggle.addEventListener('mousedown', event => event.stopPropagation());
  toggle.addEventListener('click', event => {
    event.stopPropagation();
    options.onToggle(group.id);
  });
  const counts = document.createElement('span');
  counts.className = 'jp-omega-group-counts';
  counts.textContent = `${groupEnded(group.counts)}/${group.total}`;
  line.append(toggle, progressBar(group), counts);
  extra.append(line);
  if (options.expanded) {
    const list = document.createElement('ul');
    list.className = 'jp-omega-group-failed';
    if (!group.failed.length) {
      const none = document.createElement('li');
      none.className = 'jp-omega-empty';
      none.textContent = group.done ? 'no member failed' : 'no member failed so far';
      list.append(none);
    }
    for (const member of group.failed) {
      const li = document.createElement('li');
      li.className = 'jp-omega-group-member';
      li.dataset.run = member.run_id ?? '';
      const what = document.createElement('span');
      what.className = 'jp-omega-group-member-params';
      what.textContent = `#${member.index} ${parametersText(member.parameters) || '(no parameters)'}`;
      const error = document.createElement('span');
      error.className = 'jp-omega-group-member-error';
      error.textContent = (member.error ?? 'failed').split('\n')[0];
      li.title = `${member.error ?? 'failed'}\nrun ${member.run_id ?? '—'} (double-click opens it)`;
      li.append(what, error);
      li.addEventListener('dblclick', event => {
        event.stopPropagation();
        if (member.run_id) {
          options.onOpenMember(member.run_id);
        }
      });
      list.append(li);
    }
    extra.append(list);
  }
  const lines = [
    `${group.target}${version}: run for each of ${group.total} parameter sets`,
    groupSummary(group),
    `at most ${group.max_parallel} at once`,
    `submitted ${formatTime(group.submitted)}`,
    `group ${group.id}`
  ];
  return {
    key: groupKey(group.id),
    label: `${group.target}${version} ×${group.total}`,
    detail: ['map', state, shortTime(group.submitted)].filter(Boolean).join(' · '),
    title: lines.join('\n'),
    state,
    kind: 'group',
    extra
  };
}
