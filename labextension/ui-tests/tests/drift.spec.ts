/**
 * A model's drift tab, in a real JupyterLab against the seeded store (seed.py: credit/scorer,
 * tracked in credit-prod, a baseline snapshot of its training data, a comparison without drift
 * and one where `income` moved): the model's context menu opens "Drift · credit/scorer" with
 * each feature's drift over time drawn by JupyterLab's Vega-Lite renderer (SVG marks counted),
 * a measure picker, and the latest comparison's verdicts; an untracked model says so.
 * Screenshots in the light and the dark theme are kept with the results.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator, Page, TestInfo } from '@playwright/test';

async function shot(target: Page | Locator, testInfo: TestInfo, name: string): Promise<void> {
  const path = testInfo.outputPath(`${name}.png`);
  await target.screenshot({ path });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

async function openModels(page: IJupyterLabPageFixture): Promise<void> {
  const tab = page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="omega-jupyter-panel"]');
  await expect(tab).toHaveAttribute('title', /omega/);
  if (!(await page.locator('#omega-jupyter-panel').isVisible())) {
    await tab.click();
  }
  const section = page.locator('#jp-omega-section-models');
  if (!(await section.evaluate(node => node.classList.contains('jp-mod-open')))) {
    await section.locator('.jp-omega-section-header').click();
  }
  await expect(section).toHaveClass(/jp-mod-open/);
}

async function openDrift(page: IJupyterLabPageFixture, model: string): Promise<Locator> {
  await openModels(page);
  const row = page.locator(`.jp-omega-item[data-store="models"][data-key="${model}"]`);
  await row.click({ button: 'right' });
  await page.locator('.lm-Menu-item', { hasText: 'Drift…' }).first().click();
  const chart = page.locator('.jp-omega-chart-tab:not(.lm-mod-hidden) .jp-omega-driftchart');
  await expect(chart).toHaveAttribute('data-model', model);
  return chart;
}

test.describe.configure({ mode: 'serial' });

test('a tracked model’s drift tab charts each feature and lists the latest verdicts', async ({
  page
}, testInfo) => {
  await page.theme.setLightTheme();
  const chart = await openDrift(page, 'credit/scorer');
  await expect(page.locator('#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current')).toHaveText(
    'Drift · credit/scorer'
  );
  const svg = chart.locator('.jp-omega-chartview-chart .vega-embed svg.marks');
  await expect(svg).toBeVisible({ timeout: 30000 });
  // Two features, a line each over the two comparisons.
  await expect(svg.locator('g.mark-line.role-mark path')).toHaveCount(2);
  await expect(svg.locator('g.mark-symbol.role-mark path')).toHaveCount(4);
  await expect(chart.locator('.jp-omega-chartview-status')).toHaveText(
    '2 comparisons · 2 features'
  );
  await expect(chart.locator('.jp-omega-drift-summary')).toContainText(
    'tracked in credit-prod · 3 snapshots · baseline'
  );
  // The latest comparison: income drifted, age did not.
  const table = chart.locator('table.jp-omega-drift-table');
  await expect(table.locator('tbody tr')).toHaveCount(2);
  const income = table.locator('tr[data-feature="income"]');
  await expect(income.locator('td')).toHaveText([
    'income',
    'ks',
    /^0\.\d+$/,
    /e-/,
    /^\d/,
    'drifted'
  ]);
  await expect(table.locator('tr[data-feature="age"] .jp-omega-drift-verdict')).toHaveText('no');
  await expect(chart.locator('.jp-omega-drift-latest h3')).toContainText('drift in income');
  await shot(page, testInfo, 'drift-1-statistic-light');

  // Another measure: the chart is drawn again from the server's spec.
  await chart.locator('select.jp-omega-drift-measure').selectOption('psi');
  await expect(svg).toContainText('psi');
  await expect(svg.locator('g.mark-line.role-mark path')).toHaveCount(2);

  await page.theme.setDarkTheme();
  await expect(chart.locator('g.mark-line.role-mark path')).toHaveCount(2);
  await page.waitForTimeout(500); // the redraw in the dark theme settles
  await shot(page, testInfo, 'drift-2-psi-dark');
  await page.theme.setLightTheme();
});

test('an untracked model’s drift tab says it is not tracked', async ({ page }, testInfo) => {
  const chart = await openDrift(page, 'protected/model');
  await expect(chart.locator('.jp-omega-chartview-empty')).toContainText('is not tracked');
  await expect(chart.locator('svg.marks')).toHaveCount(0);
  await expect(chart.locator('table')).toHaveCount(0);
  await shot(page, testInfo, 'drift-3-untracked');
});
