/**
 * The panel's main-area views in a real JupyterLab against the seeded store (seed.py): the
 * model view (versions, lineage links, metrics, predict with a version picker and Save as
 * dataset), a notebook's version history (list, open read-only, compare, restore), the
 * dataset preview's pages and sticky header, and the sidebar (names first, counts, keyboard).
 * Screenshots of each view, in the light and the dark theme, are kept with the results.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator, Page, TestInfo } from '@playwright/test';

const API = 'omega/api/v1';

async function shot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

/** A screenshot in the light theme, then one in the dark theme (back to light after). */
async function shotsBothThemes(
  page: IJupyterLabPageFixture,
  testInfo: TestInfo,
  name: string
): Promise<void> {
  await shot(page, testInfo, `${name}-light`);
  await page.theme.setDarkTheme();
  await shot(page, testInfo, `${name}-dark`);
  await page.theme.setLightTheme();
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

const currentTab = (page: Page) =>
  page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current');

async function closeCurrentTab(page: Page): Promise<void> {
  await currentTab(page).locator('.lm-TabBar-tabCloseIcon').click();
}

test.describe.configure({ mode: 'serial' });

test('model view: lineage links, metrics, predict with a version and save as dataset', async ({
  page
}, testInfo) => {
  await openPanel(page);
  await openSection(page, 'models');
  await item(page, 'models', 'iris_model').dblclick();
  const view = page.locator('.jp-omega-model-view');
  await expect(view.locator('.jp-omega-model-versions-table tbody tr')).toHaveCount(4);
  // v4 was fitted on iris_input: its lineage links to the dataset's preview.
  const latest = view.locator('tr[data-version="4"]');
  await expect(latest).toContainText('fit on iris_input@1 (X)');
  await expect(view.locator('tr[data-version="1"]')).toContainText('stored with put');
  // The tracked experiment's metrics.
  const metrics = view.locator('.jp-omega-metrics-table');
  await expect(metrics.locator('thead')).toContainText('accuracy');
  await expect(metrics.locator('tbody tr')).toHaveCount(1);
  await expect(metrics.locator('tbody tr')).toContainText('iris-model-exp');
  await expect(metrics.locator('tbody tr')).toContainText('0.8125');
  await expect(view.locator('.jp-omega-signature-table tbody')).toContainText('float64');
  await shotsBothThemes(page, testInfo, 'views-model');

  // Predict with v2 (tagged prod) on iris_input.
  await view.locator('.jp-omega-predict-version').selectOption({ label: 'v2 (prod)' });
  await view.locator('.jp-omega-predict-dataset').fill('iris_input');
  await view.locator('.jp-omega-predict-run').click();
  const result = view.locator('.jp-omega-predict-result');
  await expect(result.locator('.jp-omega-predict-summary')).toContainText(
    '250 predictions of iris_model v2 on iris_input'
  );
  await expect(result.locator('.jp-omega-predict-summary')).toContainText('showing the first 200');
  await expect(result.locator('.jp-omega-predict-table tbody tr')).toHaveCount(200);
  await expect(view.locator('.jp-omega-predict-progress')).toBeHidden();
  const firstValue = result
    .locator('.jp-omega-predict-table tbody tr')
    .first()
    .locator('td')
    .nth(1);
  await expect(firstValue).toHaveText('0');
  const box = await firstValue.boundingBox();
  expect(box!.height).toBeGreaterThanOrEqual(14);
  await result.locator('.jp-omega-predict-save input').fill('ui/iris_predictions');
  await result.locator('.jp-omega-predict-save-button').click();
  await expect(result.locator('.jp-omega-predict-saved')).toContainText(
    'Saved ui/iris_predictions (version 1, 250 rows)'
  );
  const saved = await api(page, 'datasets/ui/iris_predictions/metadata');
  expect(saved.status).toBe(200);
  expect(saved.body.kind_meta.rows).toBe(250);
  await view.locator('.jp-omega-predict-table').scrollIntoViewIfNeeded();
  await shotsBothThemes(page, testInfo, 'views-model-predict');

  // The lineage link opens the dataset's preview.
  await latest.locator('.jp-omega-link', { hasText: 'iris_input@1' }).click();
  await expect(currentTab(page)).toContainText('iris_input');
  await expect(page.locator('.jp-omega-preview:visible .jp-omega-preview-table')).toBeVisible();
  await closeCurrentTab(page);
  await closeCurrentTab(page);
});

test('version history: list, open read-only, compare, restore as a new version', async ({
  page
}, testInfo) => {
  await openPanel(page);
  await openSection(page, 'jobs');
  await contextMenu(page, item(page, 'jobs', 'reports/revised'), 'Version history');
  const view = page.locator('.jp-omega-history');
  await expect(currentTab(page)).toContainText('History reports/revised');
  const rows = view.locator('.jp-omega-history-table tbody tr');
  await expect(rows).toHaveCount(3);
  await expect(rows.first()).toContainText('v3 (latest)');

  // Compare v1 and v3: the first cell changed (n = 1 → n = 3), a markdown cell added.
  await view.locator('tr[data-version="1"] .jp-omega-history-pick').check();
  await view.locator('tr[data-version="3"] .jp-omega-history-pick').check();
  await view.locator('.jp-omega-history-compare').click();
  const diff = view.locator('.jp-omega-diff');
  await expect(diff.locator('h3')).toHaveText(
    'v1 → v3: 1 changed, 1 added, 0 removed, 1 unchanged'
  );
  await expect(diff.locator('.jp-omega-diff-cell[data-op="changed"]')).toContainText('- n = 1');
  await expect(diff.locator('.jp-omega-diff-cell[data-op="changed"]')).toContainText('+ n = 3');
  await expect(diff.locator('.jp-omega-diff-cell[data-op="added"]')).toContainText('third version');
  await shotsBothThemes(page, testInfo, 'views-history-diff');

  // Open v2 read-only: no kernel, never dirty, a readable title, nothing to save.
  const kernels = await kernelCount(page);
  await view.locator('tr[data-version="2"] button', { hasText: 'Open' }).click();
  const nb = page.locator('.jp-NotebookPanel:visible');
  await expect(nb.locator('.jp-Cell').first()).toContainText('n = 2');
  await expect(currentTab(page)).toContainText('reports/revised · v2 (read-only)');
  await page.waitForTimeout(2000); // a kernel would have started by now
  expect(await kernelCount(page)).toBe(kernels);
  await expect(currentTab(page)).not.toHaveClass(/jp-mod-dirty/);
  await nb.locator('.jp-Cell').first().click();
  await page.keyboard.press('Control+s');
  await expect(
    page.locator('.jp-toast-message', { hasText: 'older versions are read-only' }).first()
  ).toBeVisible();
  await expect(page.locator('.jp-Dialog', { hasText: 'Save File As' })).toHaveCount(0);
  await shot(page, testInfo, 'views-history-open-version');
  await closeCurrentTab(page);
  await expect(page.locator('.jp-Dialog')).toHaveCount(0);

  // Restore v1: a new version v4 with v1's content; v2 and v3 stay.
  await expect(currentTab(page)).toContainText('History reports/revised');
  await view.locator('tr[data-version="1"] button', { hasText: 'Restore' }).click();
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Restore' }).click();
  await expect(view.locator('.jp-omega-history-status')).toHaveText('Restored v1 as v4');
  await expect(rows).toHaveCount(4);
  await expect(rows.first()).toContainText('v4 (latest)');
  await expect(rows.first()).toContainText('restored from v1');
  const versions = await api(page, 'jobs/reports/revised/versions');
  expect(versions.body.items.map((v: { version: number }) => v.version)).toEqual([4, 3, 2, 1]);
  const latest = await api(page, 'jobs/reports/revised');
  expect(latest.body.cells[0].source).toBe('n = 1');
  await shot(page, testInfo, 'views-history-restored');
  await closeCurrentTab(page);
});

test('preview: more than the first 100 rows, page by page, under a sticky header', async ({
  page
}, testInfo) => {
  await openPanel(page);
  await openSection(page, 'datasets');
  await item(page, 'datasets', 'paged').dblclick();
  const preview = page.locator('.jp-omega-preview:visible');
  const text = preview.locator('.jp-omega-preview-pagetext');
  await expect(text).toHaveText('rows 1–100 of 250');
  const rows = preview.locator('.jp-omega-preview-table tbody tr');
  await expect(rows).toHaveCount(100);
  // None is shown as such (row 0 has no label).
  await expect(rows.first().locator('td').nth(1)).toHaveText('None');

  // Page 2 reads rows 101–200 from the server.
  const reads: string[] = [];
  page.on('request', request => {
    if (request.url().includes(`${API}/datasets/paged`) && request.url().includes('offset')) {
      reads.push(request.url());
    }
  });
  await preview.getByRole('button', { name: 'Next ›' }).click();
  await expect(text).toHaveText('rows 101–200 of 250');
  await expect(rows.first().locator('td').nth(0)).toHaveText('100');
  await expect(rows.nth(5).locator('td').nth(1)).toHaveText('None'); // row 105 = 7 × 15
  expect(reads.some(url => /offset=100/.test(url) && /limit=100/.test(url))).toBe(true);

  // The header stays in view while the rows scroll under it.
  const scroller = preview.locator('.jp-omega-preview-scroll');
  const header = preview.locator('.jp-omega-preview-table thead th').first();
  const before = (await header.boundingBox())!;
  await scroller.evaluate(node => node.scrollTo({ top: 1200 }));
  await page.waitForTimeout(200);
  const after = (await header.boundingBox())!;
  expect(Math.abs(after.y - before.y)).toBeLessThan(2);
  expect(await scroller.evaluate(node => node.scrollTop)).toBeGreaterThan(500);
  await shotsBothThemes(page, testInfo, 'views-preview-page2');

  await preview.getByRole('button', { name: '»' }).click();
  await expect(text).toHaveText('rows 201–250 of 250');
  await expect(rows).toHaveCount(50);
  await expect(preview.getByRole('button', { name: 'Next ›' })).toBeDisabled();
  await closeCurrentTab(page);
});

test('sidebar: names first, real counts, sticky search, runs searched, arrow keys', async ({
  page
}, testInfo) => {
  await openPanel(page);
  const panel = page.locator('#omega-jupyter-panel');
  // A closed section says how many it holds.
  const jobs = await api(page, 'jobs');
  const notebooks = page.locator('#jp-omega-section-jobs');
  await expect(notebooks).not.toHaveClass(/jp-mod-open/);
  await expect(notebooks.locator('.jp-omega-count')).toHaveText(String(jobs.body.total));
  expect(jobs.body.total).toBeGreaterThanOrEqual(5);

  // Names first, cut in the middle: the end of "measurements" stays, the whole name is in the
  // tooltip, and the name and its details do not overlap.
  await openSection(page, 'datasets');
  const row = item(page, 'datasets', 'measurements');
  await expect(row).toHaveAttribute('title', /^measurements\n/);
  await expect(row.locator('.jp-omega-item-tail')).toBeVisible();
  await expect(row.locator('.jp-omega-item-tail')).toHaveText('ements');
  const label = (await row.locator('.jp-omega-item-label').boundingBox())!;
  const detail = (await row.locator('.jp-omega-item-detail').boundingBox())!;
  expect(label.x + label.width).toBeLessThanOrEqual(detail.x + 1);
  expect(label.width).toBeGreaterThan(detail.width * 0.5);

  // Arrow keys move the selection through the open sections, one row selected in the panel.
  await openSection(page, 'models');
  const lastDataset = page.locator('.jp-omega-item[data-store="datasets"]').last();
  const lastKey = (await lastDataset.getAttribute('data-key'))!;
  await lastDataset.click();
  const selected = panel.locator('.jp-omega-item.jp-mod-selected');
  await page.keyboard.press('ArrowDown'); // past the last dataset: the first model
  await expect(selected).toHaveCount(1);
  await expect(selected).toHaveAttribute('data-store', 'models');
  await expect(selected).toBeFocused();
  await page.keyboard.press('ArrowUp');
  await expect(selected).toHaveAttribute('data-key', lastKey);
  await page.keyboard.press('Home');
  await expect(selected).toHaveAttribute('data-key', 'iris_input');
  await page.keyboard.press('Enter');
  await expect(currentTab(page)).toContainText('iris_input');
  await closeCurrentTab(page);

  // The search box and the open section's header stay in view while the list scrolls.
  await openSection(page, 'jobs');
  await openSection(page, 'runs');
  const viewport = page.viewportSize()!;
  await page.setViewportSize({ width: viewport.width, height: 420 }); // a list longer than it
  await page.waitForTimeout(300);
  const search = panel.locator('.jp-omega-search-input');
  const before = (await search.boundingBox())!;
  await panel.evaluate(node => node.scrollTo({ top: node.scrollHeight }));
  await page.waitForTimeout(200);
  expect(await panel.evaluate(node => node.scrollTop)).toBeGreaterThan(0);
  const after = (await search.boundingBox())!;
  expect(Math.abs(after.y - before.y)).toBeLessThan(2);
  // The header of the section being scrolled sticks below the search box.
  const header = panel.locator('#jp-omega-section-runs .jp-omega-section-header');
  const toolbar = (await panel.locator('.jp-omega-toolbar').boundingBox())!;
  const headerBox = (await header.boundingBox())!;
  expect(headerBox.y).toBeGreaterThanOrEqual(toolbar.y + toolbar.height - 1);
  await shot(page, testInfo, 'views-sidebar-scrolled');
  await page.setViewportSize(viewport);

  // The search filters the runs too (by their target, in the server).
  const started = await page.request.post(`${API}/jobs/reports/revised/run`, { data: {} });
  expect(started.status()).toBe(202);
  await panel.locator('.jp-omega-refresh').click();
  const runs = page.locator('.jp-omega-item[data-store="runs"]');
  await expect(runs.filter({ hasText: 'reports/revised' }).first()).toBeVisible();
  await search.fill('revised');
  await expect(panel.locator('#jp-omega-section-datasets .jp-omega-count')).toHaveText('0');
  await expect(runs.first()).toContainText('reports/revised');
  await expect(runs.first().locator('.jp-omega-item-detail')).toBeVisible();
  for (const text of await runs.allTextContents()) {
    expect(text).toContain('reports/revised');
  }
  await expect(item(page, 'jobs', 'reports/revised')).toBeVisible();
  await shotsBothThemes(page, testInfo, 'views-sidebar-search');
  await search.fill('');

  // Page buttons are big enough to hit.
  const size = await panel.evaluate(node => {
    const b = document.createElement('button');
    b.className = 'jp-omega-page-button';
    b.textContent = '›';
    node.querySelector('.jp-omega-pager')!.append(b);
    const box = b.getBoundingClientRect();
    b.remove();
    return { width: box.width, height: box.height };
  });
  expect(size.width).toBeGreaterThanOrEqual(24);
  expect(size.height).toBeGreaterThanOrEqual(24);
});
