/**
 * The omega panel in a real JupyterLab with the server extension and a real (SQLite) store,
 * seeded by seed.py: see a dataset, preview it, insert code into a notebook, save a notebook
 * to the store, schedule a stored notebook, run it and watch the run finish.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Page, TestInfo } from '@playwright/test';

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

function item(page: Page, store: string, name: string) {
  return page.locator(`.jp-omega-item[data-store="${store}"][data-key="${name}"]`);
}

async function openSection(page: Page, id: string): Promise<void> {
  const section = page.locator(`#jp-omega-section-${id}`);
  if (!(await section.evaluate(node => node.classList.contains('jp-mod-open')))) {
    await section.locator('.jp-omega-section-header').click();
  }
  await expect(section).toHaveClass(/jp-mod-open/);
}

async function contextMenu(page: Page, row: ReturnType<typeof item>, label: string) {
  await row.click({ button: 'right' });
  await page.locator('.lm-Menu-item', { hasText: label }).first().click();
}

async function api(page: Page, path: string) {
  const response = await page.request.get(`${API}/${path}`);
  return { status: response.status(), body: await response.json() };
}

test.describe.configure({ mode: 'serial' });

test('panel: see, preview, insert and save', async ({ page }, testInfo) => {
  await openPanel(page);
  await expect(item(page, 'datasets', 'sales')).toBeVisible();
  await expect(item(page, 'datasets', "odd name's (1)")).toBeVisible();
  await shot(page, testInfo, '01-panel');

  // Search narrows the list (a server-side glob).
  await page.locator('.jp-omega-search-input').fill('name');
  await expect(item(page, 'datasets', 'sales')).toHaveCount(0);
  await expect(item(page, 'datasets', "odd name's (1)")).toBeVisible();
  await page.locator('.jp-omega-search-input').fill('');
  await expect(item(page, 'datasets', 'sales')).toBeVisible();

  // Preview: first rows, dtypes, row count.
  await item(page, 'datasets', 'sales').dblclick();
  const preview = page.locator('.jp-omega-preview');
  await expect(preview.locator('.jp-omega-preview-table')).toBeVisible();
  await expect(preview).toContainText('3 rows');
  await expect(preview.locator('.jp-omega-dtypes')).toContainText('int64');
  await expect(preview.locator('tbody tr')).toHaveCount(3);
  await expect(preview.locator('tbody')).toContainText('Geneva');
  await shot(page, testInfo, '02-preview');

  // Insert code into a new notebook and run it against the store.
  await page.notebook.createNew('insert.ipynb');
  await openPanel(page);
  await contextMenu(page, item(page, 'datasets', 'sales'), 'Insert code');
  await expect(page.locator('.jp-Notebook .jp-Cell').nth(1)).toContainText(
    "om.datasets.get('sales')"
  );
  await page.notebook.addCell('code', 'print(int(df.amount.sum()))');
  await page.notebook.runCell(1, true);
  await page.notebook.runCell(2, true);
  await expect(
    page.locator('.jp-Notebook .jp-Cell').nth(2).locator('.jp-OutputArea')
  ).toContainText('1020', { timeout: 60000 });
  await shot(page, testInfo, '03-inserted');

  // Save to omega from the notebook toolbar.
  await page.locator('.jp-omega-save-button').first().click();
  const dialog = page.locator('.jp-Dialog');
  await dialog.locator('input').fill('ui/inserted');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await openSection(page, 'jobs');
  await expect(item(page, 'jobs', 'ui/inserted')).toBeVisible();
  const stored = await api(page, 'jobs/ui/inserted');
  expect(stored.status).toBe(200);
  expect(JSON.stringify(stored.body.cells)).toContain('df.amount.sum()');
});

test('notebooks: open from the store, save back, schedule, run', async ({ page }, testInfo) => {
  await openPanel(page);
  await openSection(page, 'jobs');
  const daily = item(page, 'jobs', 'reports/daily');
  await expect(daily).toBeVisible();

  // Open through the omega: drive, edit, save: a new version.
  await daily.dblclick();
  await expect(page.locator('.jp-NotebookPanel .jp-Cell')).toHaveCount(3);
  const before = (await api(page, 'jobs?name=reports/daily')).body.items[0].version;
  await page.notebook.addCell('markdown', 'edited in the UI test');
  await page.notebook.save();
  await expect
    .poll(async () => (await api(page, 'jobs?name=reports/daily')).body.items[0].version)
    .toBe(before + 1);
  await shot(page, testInfo, '04-opened-from-store');

  // Schedule: live description and next 5 times, parameters from the parameters cell.
  await contextMenu(page, daily, 'Schedule…');
  const dialog = page.locator('.jp-Dialog');
  await dialog.locator('.jp-omega-schedule-when').fill('weekdays at 08:30');
  await expect(dialog.locator('.jp-omega-schedule-description')).toContainText('08:30');
  await expect(dialog.locator('.jp-omega-schedule-times li')).toHaveCount(5);
  await expect(dialog.locator('input[data-parameter="n"]')).toHaveValue('3');
  await dialog.locator('input[data-parameter="n"]').fill('2');
  await dialog.locator('.jp-omega-schedule-when').fill('every blue moon');
  await expect(dialog.locator('.jp-omega-schedule-description')).toHaveClass(/jp-omega-error/);
  await dialog.locator('.jp-omega-schedule-when').fill('weekdays at 08:30');
  await expect(dialog.locator('.jp-omega-schedule-times li')).toHaveCount(5);
  await shot(page, testInfo, '05-schedule');
  await dialog.getByRole('button', { name: 'Save schedule' }).click();
  await expect
    .poll(async () => (await api(page, 'jobs/reports/daily/schedule')).body.cron)
    .toBe('30 8 * * 1-5');
  expect((await api(page, 'jobs/reports/daily/schedule')).body.parameters).toEqual({
    n: 2,
    label: 'ui'
  });

  // Run now and watch the run finish in the Runs section.
  await contextMenu(page, daily, 'Run now');
  await openSection(page, 'runs');
  const run = page.locator('.jp-omega-item[data-store="runs"]').first();
  await expect(run).toContainText('reports/daily');
  await expect(run).toHaveAttribute('data-state', 'succeeded', { timeout: 120000 });
  await expect(run).toContainText(/(\d+)\/\1 cells/);
  await expect(page.locator('.jp-toast-message', { hasText: 'finished' }).first()).toBeVisible();
  await shot(page, testInfo, '06-run-finished');

  // The executed notebook opens read-only from the run.
  await run.dblclick();
  await expect(page.locator('.jp-NotebookPanel:visible .jp-OutputArea').last()).toContainText(
    'ui 1020'
  );
  await shot(page, testInfo, '07-executed-notebook');
});
