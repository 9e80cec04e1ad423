/**
 * The panel as a place to work (issue 20's defects and issue 19's readability items), in a
 * real JupyterLab against the seeded store (seed.py): the model details' layout and tags, one
 * readable selection in the dark theme, a schedule dialog that keeps its input on a refusal
 * and shows times in its zone, executed notebooks that start no kernel and are never dirty,
 * Ctrl+S of an unchanged notebook that makes no version, a script run's result and log, the
 * runs' action/trigger and filters, and preview values formatted by dtype. Each test keeps
 * screenshots with the results.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator, Page, TestInfo } from '@playwright/test';

const API = 'omega/api/v1';

async function shot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

async function openPanel(page: IJupyterLabPageFixture): Promise<void> {
  const tab = page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="omega-jupyter-panel"]');
  await expect(tab).toHaveAttribute('title', /omega/);
  if (!(await page.locator('#omega-jupyter-panel').isVisible())) {
    await tab.click();
  }
  await expect(page.locator('#omega-jupyter-panel')).toBeVisible();
}

function item(page: Page, store: string, name: string): Locator {
  return page.locator(`.jp-omega-item[data-store="${store}"][data-key="${name}"]`);
}

async function openSection(page: Page, id: string): Promise<void> {
  const section = page.locator(`#jp-omega-section-${id}`);
  if (!(await section.evaluate(node => node.classList.contains('jp-mod-open')))) {
    await section.locator('.jp-omega-section-header').click();
  }
  await expect(section).toHaveClass(/jp-mod-open/);
}

async function contextMenu(page: Page, row: Locator, label: string): Promise<void> {
  await row.click({ button: 'right' });
  await page.locator('.lm-Menu-item', { hasText: label }).first().click();
}

async function api(page: Page, route: string) {
  const response = await page.request.get(`${API}/${route}`);
  return { status: response.status(), body: await response.json() };
}

async function kernelCount(page: Page): Promise<number> {
  const response = await page.request.get('api/kernels');
  return ((await response.json()) as unknown[]).length;
}

/** WCAG contrast ratio of an element's text colour against its (first opaque) background. */
async function contrast(locator: Locator): Promise<number> {
  return locator.evaluate(node => {
    const rgb = (text: string) => (text.match(/[\d.]+/g) ?? []).map(Number);
    const lum = (c: number[]) => {
      const [r, g, b] = c.slice(0, 3).map(v => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const fg = rgb(getComputedStyle(node).color);
    let el: Element | null = node;
    let bg = [255, 255, 255];
    while (el) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) {
        bg = c;
        break;
      }
      el = el.parentElement;
    }
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05);
  });
}

test.describe.configure({ mode: 'serial' });

test('model view: a tab with every value readable, tags of every version', async ({
  page
}, testInfo) => {
  await openPanel(page);
  await openSection(page, 'models');
  await item(page, 'models', 'iris_model').dblclick();
  const view = page.locator('.jp-omega-model-view');
  await expect(view).toBeVisible();
  await expect(page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current')).toContainText(
    'Model iris_model'
  );
  await expect(view.locator('.jp-omega-view-facts')).toContainText('latest v4');
  await expect(view.locator('.jp-omega-view-facts')).toContainText('prod → v2');
  const rows = view.locator('.jp-omega-model-versions-table tbody tr');
  await expect(rows).toHaveCount(4);
  await expect(rows.first()).toHaveAttribute('data-version', '4');
  await expect(view.locator('tr[data-version="2"] .jp-omega-tag')).toHaveText('prod');
  // No value is squeezed: every cell is at least a line tall and shows all of its text.
  for (const cell of await view.locator('.jp-omega-view-table td').all()) {
    const box = await cell.boundingBox();
    expect(box!.height).toBeGreaterThanOrEqual(14);
    const clipped = await cell.evaluate(node => node.scrollHeight > node.clientHeight + 1);
    expect(clipped).toBe(false);
  }
  await shot(page, testInfo, '20-1-model-view');
  await page
    .locator('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabCloseIcon')
    .click();
  await expect(view).toHaveCount(0);
});

test('dark theme: one selection in the panel, readable', async ({ page }, testInfo) => {
  await page.theme.setDarkTheme();
  await openPanel(page);
  await openSection(page, 'datasets');
  await openSection(page, 'models');
  await openSection(page, 'jobs');
  await item(page, 'datasets', 'sales').click();
  await item(page, 'jobs', 'reports/daily').click();
  await item(page, 'models', 'iris_model').click();
  const selected = page.locator('#omega-jupyter-panel .jp-omega-item.jp-mod-selected');
  await expect(selected).toHaveCount(1);
  await expect(selected).toHaveAttribute('data-key', 'iris_model');
  const label = selected.locator('.jp-omega-item-label');
  const detail = selected.locator('.jp-omega-item-detail');
  expect(await contrast(label)).toBeGreaterThanOrEqual(4.5);
  expect(await contrast(detail)).toBeGreaterThanOrEqual(4.5);
  // An unselected row stays readable too.
  expect(
    await contrast(item(page, 'datasets', 'sales').locator('.jp-omega-item-label'))
  ).toBeGreaterThanOrEqual(4.5);
  await shot(page, testInfo, '20-2-dark-selection');
  await page.theme.setLightTheme();
  expect(await contrast(label)).toBeGreaterThanOrEqual(4.5);
  await shot(page, testInfo, '20-2-light-selection');
});

test('schedule: a When that does not parse keeps the dialog and every input', async ({
  page
}, testInfo) => {
  await openPanel(page);
  await openSection(page, 'jobs');
  const zurich = item(page, 'jobs', 'reports/zurich');
  await contextMenu(page, zurich, 'Schedule…');
  const dialog = page.locator('.jp-Dialog');
  const when = dialog.locator('.jp-omega-schedule-when');
  const timezone = dialog.locator('.jp-omega-schedule-timezone');
  const n = dialog.locator('input[data-parameter="n"]');
  const missed = dialog.locator('select[aria-label="Missed runs"]');
  await expect(n).toHaveValue('3');
  await when.fill('every blue moon');
  await timezone.fill('Europe/Zurich');
  await n.fill('7');
  await missed.selectOption('skip');
  await dialog.getByRole('button', { name: 'Save schedule' }).click();

  const error = dialog.locator('.jp-omega-schedule-save-error');
  await expect(error).toBeVisible();
  await expect(error).toContainText('Not saved');
  await expect(dialog).toBeVisible();
  await expect(when).toHaveValue('every blue moon');
  await expect(timezone).toHaveValue('Europe/Zurich');
  await expect(n).toHaveValue('7');
  await expect(missed).toHaveValue('skip');
  expect((await api(page, 'jobs/reports/zurich/schedule')).status).toBe(404);
  await shot(page, testInfo, '20-4-schedule-refused');

  // Corrected: the description and the next runs agree, both in the zone.
  await when.fill('daily at 06:00');
  const description = dialog.locator('.jp-omega-schedule-description');
  await expect(description).toContainText('(Europe/Zurich');
  await expect(description).toContainText('06:00');
  const times = dialog.locator('.jp-omega-schedule-times li');
  await expect(times).toHaveCount(5);
  for (const text of await times.allTextContents()) {
    expect(text).toMatch(/06:00 Europe\/Zurich$/);
  }
  await shot(page, testInfo, '20-4-schedule-zone');
  await dialog.getByRole('button', { name: 'Save schedule' }).click();
  await expect(dialog).toHaveCount(0);
  const saved = (await api(page, 'jobs/reports/zurich/schedule')).body;
  expect(saved.parameters).toEqual({ n: 7, label: 'ui' });
  expect(saved.missed).toBe('skip');
  expect(saved.timezone).toBe('Europe/Zurich');
  // Reopened, it shows what was saved.
  await contextMenu(page, zurich, 'Schedule…');
  await expect(n).toHaveValue('7');
  await expect(missed).toHaveValue('skip');
  await dialog.getByRole('button', { name: 'Remove schedule' }).click();
  await expect(dialog).toHaveCount(0);
});

test('Ctrl+S on an unchanged stored notebook makes no version and says so', async ({
  page
}, testInfo) => {
  await openPanel(page);
  await openSection(page, 'jobs');
  const version = async () =>
    (await api(page, 'jobs?name=reports/unchanged')).body.items[0].version as number;
  expect(await version()).toBe(1);
  await item(page, 'jobs', 'reports/unchanged').dblclick();
  await expect(page.locator('.jp-NotebookPanel:visible .jp-Cell')).toHaveCount(3);
  await page.locator('.jp-NotebookPanel:visible .jp-Cell').first().click();
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+s');
  await expect(
    page.locator('.jp-toast-message', { hasText: 'no changes, still version 1' }).first()
  ).toBeVisible();
  await page.keyboard.press('Control+s');
  expect(await version()).toBe(1);
  await page.waitForTimeout(800); // the toast slides in: let the screenshot show it
  await shot(page, testInfo, '20-6-unchanged-save');

  // An edit is a new version (galata may save the new cell before and after its text: one or
  // two versions), and the toast names it; saving again without a change adds none.
  await page.notebook.addCell('markdown', 'a real change');
  await page.notebook.save();
  await expect.poll(version).toBeGreaterThan(1);
  const edited = await version();
  await expect(
    page
      .locator('.jp-toast-message', { hasText: `Saved reports/unchanged as version ${edited}` })
      .first()
  ).toBeVisible();
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+s');
  await expect(
    page.locator('.jp-toast-message', { hasText: `no changes, still version ${edited}` }).first()
  ).toBeVisible();
  expect(await version()).toBe(edited);
  await page.notebook.close(true);
});

test('executed notebook: no kernel, never dirty, titled by notebook and time', async ({
  page
}, testInfo) => {
  await openPanel(page);
  await openSection(page, 'jobs');
  await contextMenu(page, item(page, 'jobs', 'reports/zurich'), 'Run now');
  await openSection(page, 'runs');
  const run = page
    .locator('.jp-omega-item[data-store="runs"]', { hasText: 'reports/zurich' })
    .first();
  await expect(run).toHaveAttribute('data-state', 'succeeded', { timeout: 120000 });
  const runId = (await run.getAttribute('data-key'))!;

  const before = await kernelCount(page);
  for (let i = 0; i < 3; i++) {
    await run.dblclick();
    await expect(page.locator('.jp-NotebookPanel:visible .jp-OutputArea').last()).toContainText(
      'ui 1020'
    );
  }
  const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current');
  await expect(tab).toContainText('reports/zurich');
  await expect(tab).toContainText('succeeded');
  await expect(tab).not.toContainText(runId);
  await page.waitForTimeout(2000); // a kernel would have started by now
  expect(await kernelCount(page)).toBe(before);
  await expect(tab).not.toHaveClass(/jp-mod-dirty/);
  // Ctrl+S offers no "Save As" into .runs/ (there is nothing to save).
  await page.locator('.jp-NotebookPanel:visible .jp-Cell').first().click();
  await page.keyboard.press('Control+s');
  await page.waitForTimeout(1000);
  await expect(page.locator('.jp-Dialog', { hasText: '.runs' })).toHaveCount(0);
  await expect(page.locator('.jp-Dialog', { hasText: 'Save File As' })).toHaveCount(0);
  await expect(
    page.locator('.jp-toast-message', { hasText: 'nothing to save' }).first()
  ).toBeVisible();
  await expect(page.locator('.jp-toast-message', { hasText: '.runs/' })).toHaveCount(0);
  // Typing changes nothing: the cells are read-only.
  await page.keyboard.type('xyz');
  await expect(page.locator('.jp-NotebookPanel:visible .jp-Cell').first()).not.toContainText('xyz');
  await expect(tab).not.toHaveClass(/jp-mod-dirty/);
  await shot(page, testInfo, '20-5-executed-notebook');
  // Closing asks nothing (nothing to save).
  await tab.locator('.lm-TabBar-tabCloseIcon').click();
  await expect(page.locator('.jp-Dialog')).toHaveCount(0);
  expect(await kernelCount(page)).toBe(before);
});

test('script run: result and log in a tab; runs show action, trigger and filter', async ({
  page
}, testInfo) => {
  await openPanel(page);
  await openSection(page, 'scripts');
  await contextMenu(page, item(page, 'scripts', 'etl'), 'Run now');
  await openSection(page, 'runs');
  const run = page.locator('.jp-omega-item[data-store="runs"]', { hasText: 'etl' }).first();
  await expect(run).toHaveAttribute('data-state', 'succeeded', { timeout: 180000 });
  await expect(run.locator('.jp-omega-item-detail')).toContainText('script · manual · succeeded');
  // The name is shown in full above the details, not cut to make room for them.
  const label = run.locator('.jp-omega-item-label');
  await expect(label).toHaveText('etl v1');
  expect(await label.evaluate(node => node.scrollWidth <= node.clientWidth)).toBe(true);
  expect((await label.boundingBox())!.width).toBeGreaterThan(10);
  const title = (await run.getAttribute('title'))!;
  expect(title).toContain('etl v1');
  expect(title).toMatch(/started .+/);
  expect(title).toMatch(/duration .+/);

  // Filters: by kind and by state (server-side).
  const runs = page.locator('.jp-omega-item[data-store="runs"]');
  await page.locator('select[aria-label="Show runs of this kind"]').selectOption('script');
  await expect(runs.filter({ hasText: 'reports/' })).toHaveCount(0);
  await expect(run).toBeVisible();
  await page.locator('select[aria-label="Show runs of this kind"]').selectOption('job');
  await expect(runs.filter({ hasText: 'etl' })).toHaveCount(0);
  await expect(runs.filter({ hasText: 'reports/zurich' }).first()).toBeVisible();
  await page.locator('select[aria-label="Show runs in this state"]').selectOption('failed');
  await expect(page.locator('#jp-omega-section-runs .jp-omega-empty')).toHaveText(
    'nothing matches'
  );
  await page.locator('select[aria-label="Show runs in this state"]').selectOption('');
  await page.locator('select[aria-label="Show runs of this kind"]').selectOption('');
  await expect(run).toBeVisible();
  await expect(runs.filter({ hasText: 'reports/zurich' }).first()).toBeVisible();
  await shot(page, testInfo, '19-8-runs');

  await run.dblclick();
  const view = page.locator('.jp-omega-runview:visible');
  await expect(view).toBeVisible();
  await expect(page.locator('.jp-Dialog', { hasText: 'File Load Error' })).toHaveCount(0);
  await expect(view.locator('[data-field="result"]')).toContainText('"rows": 3');
  await expect(view.locator('[data-field="state"]')).toHaveText('succeeded');
  await expect(view.locator('.jp-omega-runview-log')).toBeVisible();
  const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current');
  await expect(tab).toContainText('etl');
  await shot(page, testInfo, '20-3-script-run');
});

test('preview: values formatted by dtype', async ({ page }, testInfo) => {
  await openPanel(page);
  await openSection(page, 'datasets');
  await item(page, 'datasets', 'readings').dblclick();
  const preview = page.locator('.jp-omega-preview:visible');
  await expect(preview.locator('tbody tr')).toHaveCount(2);
  const column = async (i: number) =>
    preview.locator(`tbody tr td:nth-child(${i + 1})`).allTextContents();
  const names = await preview.locator('thead tr').first().locator('th').allTextContents();
  const at = names.indexOf('at');
  expect(await column(at)).toEqual(['2026-05-22 04:31:34', '2026-05-22 05:00:00']);
  expect(await column(names.indexOf('local'))).toEqual([
    '2026-05-22 06:31:34',
    '2026-05-22 07:00:00'
  ]);
  expect(await column(names.indexOf('value'))).toEqual(['70.00', '1.25']);
  expect(await column(names.indexOf('day'))).toEqual(['2024-01-01', '2024-01-02']);
  await expect(preview.locator('.jp-omega-dtypes')).toContainText('Europe/Zurich');
  await shot(page, testInfo, '19-9-preview-dtypes');
});
