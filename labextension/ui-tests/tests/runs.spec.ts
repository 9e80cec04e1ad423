/**
 * Run groups and the Runs view in a real JupyterLab against the seeded store (seed.py):
 * *Run for each…* on a notebook makes one group row in the Runs section with a progress bar
 * and its failed member; the Runs view sorts, filters, opens, reruns and exports runs; the
 * executed notebook's status bar reads like a name; a schedule refusal is said once. Each
 * test keeps screenshots with the results (light and dark theme).
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator, Page, TestInfo } from '@playwright/test';
import * as fs from 'fs';

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

test('Run for each: one group row with its progress and the failed member', async ({
  page
}, testInfo) => {
  await openPanel(page);
  await openSection(page, 'jobs');
  await contextMenu(page, item(page, 'jobs', 'reports/stores'), 'Run for each…');
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText('Parameters of reports/stores: store');
  const members = dialog.locator('.jp-omega-map-members');
  // A line that is not a parameter set is refused in the dialog, which stays open.
  await members.fill('store=a\n{"store": "b"}');
  await expect(dialog.locator('.jp-omega-map-preview')).toContainText('not both');
  await members.fill('store=a,bad,c');
  await dialog.locator('.jp-omega-map-parallel').fill('2');
  await expect(dialog.locator('.jp-omega-map-preview')).toContainText('3 runs: store=a');
  await shot(page, testInfo, '18-map-dialog');
  await dialog.getByRole('button', { name: 'Run for each' }).click();
  await expect(dialog).toHaveCount(0);

  await openSection(page, 'runs');
  const group = page.locator('.jp-omega-item[data-store="runs"][data-kind="group"]', {
    hasText: 'reports/stores'
  });
  await expect(group).toHaveCount(1);
  await expect(group.locator('.jp-omega-item-label')).toHaveText('reports/stores v1 ×3');
  await expect(group).toHaveAttribute('data-state', 'failed', { timeout: 240000 });
  await expect(group.locator('.jp-omega-group-counts')).toHaveText('3/3');
  const bar = group.locator('.jp-omega-group-bar');
  await expect(bar).toHaveAttribute('aria-valuenow', '3');
  await expect(bar.locator('[data-state="succeeded"]')).toHaveCount(1);
  await expect(bar.locator('[data-state="failed"]')).toHaveCount(1);
  const width = await bar
    .locator('[data-state="failed"]')
    .evaluate(n => n.getBoundingClientRect().width);
  const whole = await bar.evaluate(n => n.getBoundingClientRect().width);
  expect(Math.abs(width / whole - 1 / 3)).toBeLessThan(0.05);
  // The members are not listed one by one beside their group.
  await expect(
    page.locator('.jp-omega-item[data-store="runs"]:not([data-kind="group"])', {
      hasText: 'reports/stores'
    })
  ).toHaveCount(0);

  await group.locator('.jp-omega-group-toggle').click();
  const failed = group.locator('.jp-omega-group-member');
  await expect(failed).toHaveCount(1);
  await expect(failed).toContainText('store=bad');
  await expect(failed.locator('.jp-omega-group-member-error')).toContainText(
    'no data for store bad'
  );
  // Expanded stays expanded over the section's refreshes.
  await page.locator('#jp-omega-section-runs .jp-omega-refresh, .jp-omega-refresh').first().click();
  await expect(group.locator('.jp-omega-group-member')).toHaveCount(1);
  await shot(page, testInfo, '18-group-row');

  await page.theme.setDarkTheme();
  await expect(group.locator('.jp-omega-group-member')).toHaveCount(1);
  await shot(page, testInfo, '18-group-row-dark');
  await page.theme.setLightTheme();

  // Double-clicking the failed member opens its executed notebook, with the error.
  await failed.dblclick();
  await expect(page.locator('.jp-NotebookPanel:visible .jp-OutputArea').last()).toContainText(
    'no data for store bad',
    { timeout: 60000 }
  );
  // The status bar names the notebook and time, not the run's id.
  const runId = (await failed.getAttribute('data-run'))!;
  const status = page.locator('#jp-main-statusbar');
  await expect(status).toContainText('stores (reports)');
  await expect(status).not.toContainText(runId);
  await shot(page, testInfo, '18-failed-member-notebook');

  // The group's context menu shows its members in the Runs view.
  await contextMenu(page, group, 'Show the members in the Runs view');
  const view = page.locator('.jp-omega-runs-view:visible');
  await expect(view.locator('tbody tr')).toHaveCount(3);
  await expect(page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current')).toContainText(
    'Runs · reports/stores (group)'
  );
  for (const trigger of await view.locator('td[data-column="trigger"]').allTextContents()) {
    expect(trigger).toBe('map');
  }
  await shot(page, testInfo, '18-group-members-view');
});

test('Runs view: run history, run now with parameters, rerun, sort, filter, open, HTML', async ({
  page
}, testInfo) => {
  // A laptop's screen: the whole table in view beside the panel.
  await page.setViewportSize({ width: 1366, height: 768 });
  await openPanel(page);
  await openSection(page, 'jobs');
  await contextMenu(page, item(page, 'jobs', 'reports/history'), 'Run history');
  const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current');
  await expect(tab).toContainText('Runs · reports/history');
  const view = page.locator('.jp-omega-runs-view:visible');
  await expect(view.locator('.jp-omega-runs-status')).toContainText('no runs match');

  // Run now with parameters: the parameters cell's default, changed.
  await view.getByRole('button', { name: 'Run now…' }).click();
  const dialog = page.locator('.jp-Dialog');
  const store = dialog.locator('input[data-parameter="store"]');
  await expect(store).toHaveValue("'a'");
  await store.fill('"zz"');
  await dialog.getByRole('button', { name: 'Run now' }).click();
  const rows = view.locator('tbody tr');
  await expect(rows).toHaveCount(1, { timeout: 30000 });
  await expect(rows.first().locator('td[data-column="parameters"]')).toHaveText('store=zz');
  await expect(rows.first()).toHaveAttribute('data-state', 'succeeded', { timeout: 180000 });

  // Rerun with the same parameters, and a run that fails.
  await rows.first().getByRole('button', { name: 'Rerun' }).click();
  await expect(rows).toHaveCount(2, { timeout: 30000 });
  await view.getByRole('button', { name: 'Run now…' }).click();
  await dialog.locator('input[data-parameter="store"]').fill('bad');
  await dialog.getByRole('button', { name: 'Run now' }).click();
  await expect(rows).toHaveCount(3, { timeout: 30000 });
  await expect(view.locator('tbody tr[data-state="succeeded"]')).toHaveCount(2, {
    timeout: 180000
  });
  await expect(view.locator('tbody tr[data-state="failed"]')).toHaveCount(1, { timeout: 180000 });
  const params = await view.locator('td[data-column="parameters"]').allTextContents();
  expect(params.sort()).toEqual(['store=bad', 'store=zz', 'store=zz']);
  for (const text of await view.locator('td[data-column="action"]').allTextContents()) {
    expect(text).toBe('notebook');
  }

  // Sort by state: ascending, then descending.
  const stateHeader = view.locator('th[data-column="state"]');
  await stateHeader.getByRole('button').click();
  await expect(stateHeader).toHaveAttribute('aria-sort', 'ascending');
  await expect(view.locator('td[data-column="state"]')).toHaveText([
    'failed',
    'succeeded',
    'succeeded'
  ]);
  await stateHeader.getByRole('button').click();
  await expect(stateHeader).toHaveAttribute('aria-sort', 'descending');
  await expect(view.locator('td[data-column="state"]')).toHaveText([
    'succeeded',
    'succeeded',
    'failed'
  ]);
  await shot(page, testInfo, '20-7-runs-view');

  // Filter by state.
  await view.locator('select[aria-label="Show runs in this state"]').selectOption('failed');
  await expect(rows).toHaveCount(1);
  await expect(rows.first().locator('td[data-column="parameters"]')).toHaveText('store=bad');
  await view.locator('select[aria-label="Show runs in this state"]').selectOption('');
  await expect(rows).toHaveCount(3);

  // Export the executed notebook as HTML.
  const ok = view.locator('tbody tr[data-state="succeeded"]').first();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    ok.getByRole('button', { name: 'HTML' }).click()
  ]);
  expect(download.suggestedFilename()).toMatch(/^history \(reports\) .*\.html$/);
  const html = fs.readFileSync((await download.path())!, 'utf-8');
  expect(html).toContain('<html');
  expect(html).toContain('store zz');

  await page.theme.setDarkTheme();
  await expect(rows).toHaveCount(3);
  await shot(page, testInfo, '20-7-runs-view-dark');
  await page.theme.setLightTheme();

  // Open: the executed notebook, titled and named readably.
  await ok.dblclick();
  await expect(page.locator('.jp-NotebookPanel:visible .jp-OutputArea').last()).toContainText(
    'store zz'
  );
  await expect(tab).toContainText('reports/history');
  await expect(page.locator('#jp-main-statusbar')).toContainText('history (reports)');

  // Every run, from the Runs section's button: the trigger filter shows only manual ones.
  await openSection(page, 'runs');
  await page.locator('.jp-omega-open-runs-view').click();
  await expect(tab).toHaveText(/^Runs$/);
  const all = page.locator('.jp-omega-runs-view:visible');
  await all.locator('select[aria-label="Show runs started this way"]').selectOption('manual');
  await all.locator('.jp-omega-runs-target').fill('reports/history');
  await expect(all.locator('tbody tr')).toHaveCount(3);
  await shot(page, testInfo, '20-7-runs-view-all');
});

test('schedule: a When that does not parse is said once', async ({ page }) => {
  await openPanel(page);
  await openSection(page, 'jobs');
  await contextMenu(page, item(page, 'jobs', 'reports/history'), 'Schedule…');
  const dialog = page.locator('.jp-Dialog');
  await dialog.locator('.jp-omega-schedule-when').fill('every blue moon');
  await dialog.getByRole('button', { name: 'Save schedule' }).click();
  await expect(dialog.locator('.jp-omega-schedule-save-error')).toHaveText(
    'Not saved: When does not parse (see above).'
  );
  const text = (await dialog.textContent()) ?? '';
  expect(text.split('every blue moon').length - 1).toBeLessThanOrEqual(1);
  await expect(dialog.locator('.jp-omega-schedule-description')).toBeVisible();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
});
