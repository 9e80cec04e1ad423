/**
 * The omega panel in a real JupyterLab with the server extension and a real store (a
 * PostgreSQL database, or SQLite), seeded by seed.py: see a dataset, preview it, insert code
 * into a notebook, save a notebook to the store, schedule a stored notebook, run it and watch
 * the run finish; pause and resume a schedule; delete a model; meet the 403s of the server's
 * Authorizer (jupyter_server_test_config.py) and a database that goes down and comes back
 * (database.py). Nothing of the server is mocked or intercepted.
 */
import { execFileSync } from 'child_process';
import * as path from 'path';

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

async function api(page: Page, route: string) {
  const response = await page.request.get(`${API}/${route}`);
  return { status: response.status(), body: await response.json() };
}

/** An object name as a URL path (folders kept): `a/b c` → `a/b%20c`. */
function enc(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

/** Switch the store's PostgreSQL database off (`down`) or on (`up`): see database.py. */
function database(action: 'down' | 'up'): void {
  execFileSync('python', [path.resolve(__dirname, '..', 'database.py'), action], {
    stdio: 'inherit',
    timeout: 60000
  });
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

test('preview: the Profile view charts every row with JupyterLab’s Vega-Lite renderer', async ({
  page
}, testInfo) => {
  await openPanel(page);
  await item(page, 'datasets', 'measurements').dblclick();
  const preview = page.locator('.jp-omega-preview').last();
  await expect(preview.locator('.jp-omega-preview-table')).toBeVisible();
  await preview.locator('.jp-omega-preview-view', { hasText: 'Profile' }).click();
  const profile = preview.locator('.jp-omega-profile');
  await expect(profile).toContainText('5,000 rows · 5 columns');
  await expect(preview.locator('.jp-omega-preview-table')).toBeHidden();
  const cards = profile.locator('.jp-omega-profile-card');
  await expect(cards).toHaveCount(5);
  const amount = profile.locator('.jp-omega-profile-card[data-column=\'amount "usd"\']');
  await expect(amount.locator('.jp-omega-profile-stats')).toContainText('count5,000');
  const city = profile.locator('.jp-omega-profile-card[data-column="city name"]');
  await expect(city.locator('.jp-omega-profile-stats')).toContainText('topZurich');
  const empty = profile.locator('.jp-omega-profile-card[data-column="empty"]');
  await expect(empty).toContainText('nulls5,000');
  await expect(empty).toContainText('no values');
  // The charts are drawn by JupyterLab's own Vega renderer (vega-embed, canvas or svg).
  for (const card of [
    amount,
    city,
    profile.locator('.jp-omega-profile-card[data-column="paid"]')
  ]) {
    await expect(card.locator('.vega-embed').first()).toBeVisible({ timeout: 30000 });
    await expect(card.locator('.vega-embed canvas, .vega-embed svg').first()).toBeVisible();
  }
  await shot(page, testInfo, '07-profile');
  // Back to the table; the profile is kept.
  await preview.locator('.jp-omega-preview-view', { hasText: 'Table' }).click();
  await expect(preview.locator('.jp-omega-preview-table')).toBeVisible();
  await expect(profile).toBeHidden();
  const { status, body } = await api(page, 'datasets/nope/profile');
  expect(status).toBe(404);
  expect(body.error).toBe('not_found');
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

test('schedules: pause and resume from the schedule dialog', async ({ page }, testInfo) => {
  await openPanel(page);
  await openSection(page, 'jobs');
  const weekly = item(page, 'jobs', 'reports/weekly');
  await expect(weekly).toBeVisible();
  const rowBadge = weekly.locator('.jp-omega-item-badge');
  await expect(rowBadge).toHaveText('scheduled');
  const dialog = page.locator('.jp-Dialog');
  const badge = dialog.locator('.jp-omega-badge');
  const toggle = dialog.locator('.jp-omega-schedule-pause');

  // The seeded schedule is active; Pause applies at once, the dialog stays open.
  await contextMenu(page, weekly, 'Schedule…');
  await expect(badge).toHaveText('active');
  await expect(toggle).toHaveText('Pause');
  await toggle.click();
  await expect(badge).toHaveText('paused');
  await expect(toggle).toHaveText('Resume');
  await expect(page.locator('.jp-toast-message', { hasText: 'Paused the schedule' })).toBeVisible();
  expect((await api(page, 'jobs/reports/weekly/schedule')).body.paused).toBe(true);
  await expect(rowBadge).toHaveText('paused'); // the list behind the dialog follows
  await expect(dialog.locator('.jp-omega-schedule-times li')).toHaveCount(5);
  await shot(page, testInfo, '08-schedule-paused');

  // Saving a changed time keeps it paused.
  await dialog.locator('.jp-omega-schedule-when').fill('mondays at 07:30');
  await expect(dialog.locator('.jp-omega-schedule-description')).toContainText('07:30');
  await dialog.getByRole('button', { name: 'Save schedule' }).click();
  await expect(dialog).toHaveCount(0);
  await expect
    .poll(async () => (await api(page, 'jobs/reports/weekly/schedule')).body.cron)
    .toBe('30 7 * * 1');
  expect((await api(page, 'jobs/reports/weekly/schedule')).body.paused).toBe(true);

  // Opened again it shows paused; Resume.
  await contextMenu(page, weekly, 'Schedule…');
  await expect(badge).toHaveText('paused');
  await toggle.click();
  await expect(badge).toHaveText('active');
  await expect(toggle).toHaveText('Pause');
  expect((await api(page, 'jobs/reports/weekly/schedule')).body.paused).toBe(false);
  await expect(rowBadge).toHaveText('scheduled');
  await shot(page, testInfo, '09-schedule-resumed');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toHaveCount(0);
});

test('models: delete one; a delete the server refuses (403) leaves it there', async ({
  page
}, testInfo) => {
  await openPanel(page);
  await openSection(page, 'models');
  const churn = item(page, 'models', "ui/churn model's (2)");
  const guarded = item(page, 'models', 'protected/model');
  await expect(churn).toBeVisible();
  await expect(guarded).toBeVisible();

  // Delete: a confirmation, then the model is gone from the panel and the store.
  await contextMenu(page, churn, 'Delete…');
  const confirm = page.locator('.jp-Dialog', { hasText: 'Delete model' });
  await expect(confirm).toContainText(`"ui/churn model's (2)"`);
  await shot(page, testInfo, '10-delete-model');
  await confirm.getByRole('button', { name: 'Delete' }).click();
  await expect(churn).toHaveCount(0);
  expect((await api(page, `models/${enc("ui/churn model's (2)")}`)).status).toBe(404);
  await expect(guarded).toBeVisible();

  // The server's Authorizer refuses writes under protected/: its message is shown.
  await contextMenu(page, guarded, 'Delete…');
  await page
    .locator('.jp-Dialog', { hasText: 'Delete model' })
    .getByRole('button', { name: 'Delete' })
    .click();
  const refused = page.locator('.jp-Dialog', { hasText: 'Could not delete protected/model' });
  await expect(refused).toContainText(
    'User is not authorized to write on resource: omega_jupyter:models.'
  );
  await shot(page, testInfo, '11-delete-refused-403');
  await refused.getByRole('button', { name: 'Close' }).click();
  await expect(refused).toHaveCount(0);

  // Nothing changed and the panel keeps working: the model is listed and opens.
  expect((await api(page, `models/${enc('protected/model')}`)).status).toBe(200);
  await expect(guarded).toBeVisible();
  await guarded.dblclick();
  const view = page.locator('.jp-omega-model-view');
  await expect(page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current')).toContainText(
    'Model protected/model'
  );
  await expect(view).toContainText('LogisticRegression');
  await page
    .locator('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabCloseIcon')
    .click();
  await expect(view).toHaveCount(0);

  // A listing the Authorizer refuses (a search for "secret"): each section shows the 403
  // message; clearing the search brings the lists back.
  const search = page.locator('.jp-omega-search-input');
  await search.fill('secret');
  const datasetsError = page.locator('#jp-omega-section-datasets .jp-omega-error');
  await expect(datasetsError).toHaveText(
    'User is not authorized to read on resource: omega_jupyter:datasets.'
  );
  await expect(page.locator('#jp-omega-section-models .jp-omega-error')).toContainText(
    'not authorized to read'
  );
  // No list seems to answer the refused search.
  await expect(item(page, 'datasets', 'sales')).toHaveCount(0);
  await expect(guarded).toHaveCount(0);
  await shot(page, testInfo, '12-search-refused-403');
  await search.fill('');
  await expect(datasetsError).toBeHidden();
  await expect(item(page, 'datasets', 'sales')).toBeVisible();
  await expect(guarded).toBeVisible();
});

test('database down: the panel says so, keeps what it showed, and recovers', async ({
  page
}, testInfo) => {
  test.skip(
    !!process.env.OMEGA_UI_NO_POSTGRES,
    `needs a PostgreSQL store: ${process.env.OMEGA_UI_NO_POSTGRES}`
  );
  await openPanel(page);
  await openSection(page, 'jobs');
  const sales = item(page, 'datasets', 'sales');
  await expect(sales).toBeVisible();
  await expect(item(page, 'jobs', 'reports/daily')).toBeVisible();
  const datasetsError = page.locator('#jp-omega-section-datasets .jp-omega-error');
  const jobsError = page.locator('#jp-omega-section-jobs .jp-omega-error');
  const refresh = page.locator('.jp-omega-refresh');
  const banner = page.locator('#omega-jupyter-panel .jp-omega-banner');
  await expect(banner).toBeHidden();

  database('down');
  try {
    await refresh.click();
    // Said once, above the sections (every section has the same error).
    await expect(banner).toBeVisible();
    await expect(banner).toContainText('The omega database is unavailable');
    await expect(datasetsError).toContainText('The omega database is unavailable');
    await expect(datasetsError).toBeHidden();
    await expect(jobsError).toBeHidden();
    // What the sections showed stays listed.
    await expect(sales).toBeVisible();
    await expect(item(page, 'jobs', 'reports/daily')).toBeVisible();
    // An action on an object says so too.
    await sales.dblclick();
    await expect(page.locator('.jp-omega-preview .jp-omega-error').last()).toContainText(
      'The omega database is unavailable'
    );
    await openPanel(page);
    await shot(page, testInfo, '13-database-down');
  } finally {
    database('up');
  }

  // Back: a refresh clears the messages and everything works again.
  await refresh.click();
  await expect(banner).toBeHidden();
  await expect(datasetsError).toBeHidden();
  await expect(datasetsError).toHaveText('');
  await expect(jobsError).toHaveText('');
  await expect(sales).toBeVisible();
  await sales.dblclick();
  const preview = page.locator('.jp-omega-preview').last();
  await expect(preview.locator('tbody tr')).toHaveCount(3);
  await expect(preview.locator('tbody')).toContainText('Geneva');
  await openPanel(page);
  await shot(page, testInfo, '14-database-back');
});
