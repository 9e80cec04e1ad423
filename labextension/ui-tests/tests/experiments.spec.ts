/**
 * The Experiments section and its chart tabs, in a real JupyterLab against the seeded store
 * (seed.py: experiment iris-exp with two runs logging accuracy and loss over 8 steps and f1
 * once, and team/churn-exp): the section lists experiments with their run counts, the panel's
 * search filters them, an experiment expands to its runs with params and last metrics, and a
 * metric or run opens a chart drawn by JupyterLab's own Vega-Lite renderer (SVG marks counted),
 * in the light and the dark theme. Each test keeps screenshots with the results.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator, Page, TestInfo } from '@playwright/test';

async function shot(target: Page | Locator, testInfo: TestInfo, name: string): Promise<void> {
  const path = testInfo.outputPath(`${name}.png`);
  await target.screenshot({ path });
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

async function openExperiments(page: IJupyterLabPageFixture): Promise<Locator> {
  await openPanel(page);
  const section = page.locator('#jp-omega-section-experiments');
  if (!(await section.evaluate(node => node.classList.contains('jp-mod-open')))) {
    await section.locator('.jp-omega-section-header').click();
  }
  await expect(section).toHaveClass(/jp-mod-open/);
  return section;
}

function row(page: Page, key: string): Locator {
  return page.locator(`.jp-omega-item[data-store="experiments"][data-key="${key}"]`);
}

async function expand(page: Page, name: string): Promise<void> {
  const experiment = row(page, name);
  if ((await experiment.getAttribute('aria-expanded')) !== 'true') {
    await experiment.locator('.jp-omega-twisty').click();
  }
  await expect(experiment).toHaveAttribute('aria-expanded', 'true');
}

/** The chart tab in front, its chart drawn (SVG with marks). */
function chartTab(page: Page): Locator {
  return page.locator('.jp-omega-chart-tab:not(.lm-mod-hidden) .jp-omega-expchart');
}

async function waitForChart(chart: Locator): Promise<Locator> {
  const svg = chart.locator('.jp-omega-chartview-chart .vega-embed svg.marks');
  await expect(svg).toBeVisible({ timeout: 30000 });
  return svg;
}

/** The tab in front in the main area. */
const CURRENT_TAB = '#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current';

test.describe.configure({ mode: 'serial' });

test('the Experiments section lists, searches and expands experiments', async ({
  page
}, testInfo) => {
  await page.theme.setLightTheme();
  const section = await openExperiments(page);
  // Four: credit-prod is the experiment of the drift tab's tracked model (tests/drift.spec.ts),
  // iris-model-exp the one the model view's metrics come from (tests/views.spec.ts).
  await expect(section.locator('.jp-omega-count')).toHaveText('4');
  await expect(row(page, 'iris-exp').locator('.jp-omega-item-detail')).toHaveText('2 runs');
  await expect(row(page, 'team/churn-exp').locator('.jp-omega-item-detail')).toHaveText('1 run');

  // The panel's search filters experiments too (on the server).
  const search = page.locator('.jp-omega-search-input');
  await search.fill('churn');
  await expect(section.locator('.jp-omega-count')).toHaveText('1');
  await expect(row(page, 'iris-exp')).toHaveCount(0);
  await expect(row(page, 'team/churn-exp')).toBeVisible();
  await search.fill('');
  await expect(section.locator('.jp-omega-count')).toHaveText('4');

  await expand(page, 'iris-exp');
  const run2 = row(page, 'iris-exp@2');
  const run1 = row(page, 'iris-exp@1');
  await expect(run2).toBeVisible();
  await expect(run1).toBeVisible();
  await expect(run2.locator('.jp-omega-item-detail')).toContainText('succeeded');
  await expect(run2.locator('.jp-omega-exp-params')).toHaveText('C=1 · penalty=l2');
  await expect(run1.locator('.jp-omega-exp-params')).toHaveText('C=0.1 · penalty=l2');
  // The last value of each metric (step 7 of accuracy: 0.8 + 0.175 - 0.098).
  await expect(run2.locator('.jp-omega-exp-metrics')).toHaveText(
    'accuracy 0.877 · f1 0.9 · loss 0.475'
  );
  const metrics = section.locator('.jp-omega-item[data-kind="metric"]');
  await expect(metrics).toHaveText([/accuracy/, /f1/, /loss/]);
  // Runs are listed latest first, above the metrics.
  const keys = await section
    .locator('.jp-omega-item')
    .evaluateAll(rows => rows.map(r => (r as HTMLElement).dataset.key));
  expect(keys).toEqual([
    'credit-prod',
    'iris-exp',
    'iris-exp@2',
    'iris-exp@1',
    'iris-exp@*:accuracy',
    'iris-exp@*:f1',
    'iris-exp@*:loss',
    'iris-model-exp',
    'team/churn-exp'
  ]);
  await run2.click();
  await shot(page.locator('#omega-jupyter-panel'), testInfo, 'exp-1-section-light');
  await page.theme.setDarkTheme();
  await shot(page.locator('#omega-jupyter-panel'), testInfo, 'exp-1-section-dark');
  await page.theme.setLightTheme();
});

test('a metric opens a chart of every run over steps; the pickers change it', async ({
  page
}, testInfo) => {
  await openExperiments(page);
  await expand(page, 'iris-exp');
  await row(page, 'iris-exp@*:accuracy').dblclick();
  const chart = chartTab(page);
  await expect(chart.locator('.jp-omega-chartview-title')).toHaveText(
    'iris-exp · accuracy · runs 1, 2'
  );
  const tab = page.locator(CURRENT_TAB, { hasText: 'iris-exp · accuracy' });
  await expect(tab).toBeVisible();
  await expect(tab).toHaveAttribute('title', /iris-exp · accuracy · runs 1, 2/);
  const svg = await waitForChart(chart);
  // Two runs overlaid: a line each, a point per step.
  await expect(svg.locator('g.mark-line.role-mark path')).toHaveCount(2);
  await expect(svg.locator('g.mark-symbol.role-mark path')).toHaveCount(16);
  await expect(chart.locator('.jp-omega-chartview-status')).toHaveText('16 values');
  await expect(svg).toContainText('step');
  await shot(page, testInfo, 'exp-2-accuracy-light');

  // Another metric from the picker: the title and tab follow.
  await chart.locator('select.jp-omega-expchart-metric').selectOption('loss');
  await expect(chart.locator('.jp-omega-chartview-title')).toHaveText(
    'iris-exp · loss · runs 1, 2'
  );
  await expect(page.locator(CURRENT_TAB)).toHaveText('iris-exp · loss');
  await expect(svg.locator('g.mark-line.role-mark path')).toHaveCount(2);

  // One run left: one line.
  await chart.locator('input[data-run="1"]').uncheck();
  await expect(chart.locator('.jp-omega-chartview-title')).toHaveText('iris-exp · loss · run 2');
  await expect(chart.locator('g.mark-line.role-mark path')).toHaveCount(1);
  await expect(chart.locator('g.mark-symbol.role-mark path')).toHaveCount(8);
  await chart.locator('input[data-run="1"]').check();
  await expect(chart.locator('g.mark-line.role-mark path')).toHaveCount(2);

  // A metric logged once per run: a bar per run.
  await chart.locator('select.jp-omega-expchart-metric').selectOption('f1');
  await expect(chart.locator('g.mark-rect.role-mark path')).toHaveCount(2);
  await expect(chart.locator('g.mark-line.role-mark')).toHaveCount(0);
  await shot(page, testInfo, 'exp-3-f1-bars-light');

  // The dark theme: the chart is drawn again in it.
  await chart.locator('select.jp-omega-expchart-metric').selectOption('accuracy');
  await expect(chart.locator('g.mark-line.role-mark path')).toHaveCount(2);
  await page.theme.setDarkTheme();
  await expect(chart.locator('g.mark-line.role-mark path')).toHaveCount(2);
  await page.waitForTimeout(500); // the redraw in the dark theme settles
  await shot(page, testInfo, 'exp-4-accuracy-dark');
  await page.theme.setLightTheme();
});

test('a run opens its own chart; opening it again brings its tab forward', async ({
  page
}, testInfo) => {
  await openExperiments(page);
  await expand(page, 'iris-exp');
  await row(page, 'iris-exp@1').dblclick();
  const chart = chartTab(page);
  await expect(chart.locator('.jp-omega-chartview-title')).toHaveText(
    'iris-exp · accuracy · run 1'
  );
  const svg = await waitForChart(chart);
  await expect(page.locator(CURRENT_TAB)).toHaveText('iris-exp run 1 · accuracy');
  await expect(svg.locator('g.mark-line.role-mark path')).toHaveCount(1);
  await expect(chart.locator('input[data-run="1"]')).toBeChecked();
  await expect(chart.locator('input[data-run="2"]')).not.toBeChecked();
  await shot(page, testInfo, 'exp-5-run-chart');
  const tabs = page.locator('.jp-omega-chart-tab');
  const before = await tabs.count();
  // From the context menu this time: the same tab comes forward, no second one.
  await row(page, 'iris-exp@1').click({ button: 'right' });
  await page.locator('.lm-Menu-item', { hasText: 'Open chart' }).first().click();
  await expect(chart.locator('.jp-omega-chartview-title')).toHaveText(
    'iris-exp · accuracy · run 1'
  );
  expect(await tabs.count()).toBe(before);
});
