/**
 * The Apps section, in a real JupyterLab against the seeded store (seed.py: the script package
 * hello-app whose `app` is a plain WSGI app): "Serve as app" on the script starts it, its row
 * in the Apps section goes to serving, Open shows what the app serves in a new browser tab at
 * the Jupyter mount, Logs shows its log lines, Stop ends it. Screenshots in the light and the
 * dark theme are kept with the results.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator, Page, TestInfo } from '@playwright/test';

async function shot(target: Page | Locator, testInfo: TestInfo, name: string): Promise<void> {
  const path = testInfo.outputPath(`${name}.png`);
  await target.screenshot({ path });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

async function openSection(page: IJupyterLabPageFixture, id: string): Promise<Locator> {
  const tab = page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="omega-jupyter-panel"]');
  await expect(tab).toHaveAttribute('title', /omega/);
  if (!(await page.locator('#omega-jupyter-panel').isVisible())) {
    await tab.click();
  }
  const section = page.locator(`#jp-omega-section-${id}`);
  if (!(await section.evaluate(node => node.classList.contains('jp-mod-open')))) {
    await section.locator('.jp-omega-section-header').click();
  }
  await expect(section).toHaveClass(/jp-mod-open/);
  return section;
}

const APP = 'hello-app';

test('serve a script as an app, open it in a new tab, read its logs, stop it', async ({
  page
}, testInfo) => {
  test.setTimeout(300000);
  await page.theme.setLightTheme();
  const scripts = await openSection(page, 'scripts');
  const script = scripts.locator(`.jp-omega-item[data-key="${APP}"]`);
  await script.click({ button: 'right' });
  await page.locator('.lm-Menu-item', { hasText: 'Serve as app' }).first().click();

  const apps = await openSection(page, 'apps');
  const row = apps.locator(`.jp-omega-item[data-store="apps"][data-key="${APP}"]`);
  await expect(row).toBeVisible({ timeout: 30000 });
  await expect(row).toHaveAttribute('data-state', 'serving', { timeout: 180000 });
  await expect(row.locator('.jp-omega-item-detail')).toHaveText('script · serving');
  await expect(row.locator('.jp-omega-app-start')).toBeDisabled();
  await expect(row.locator('.jp-omega-app-stop')).toBeEnabled();
  await shot(page.locator('#omega-jupyter-panel'), testInfo, 'apps-serving-light');
  await page.theme.setDarkTheme();
  await shot(page.locator('#omega-jupyter-panel'), testInfo, 'apps-serving-dark');
  await page.theme.setLightTheme();

  // Open: a new browser tab at {base_url}omega/apps/hello-app/, showing what the app serves.
  const [tab] = await Promise.all([
    page.context().waitForEvent('page'),
    row.locator('.jp-omega-app-open').click()
  ]);
  await tab.waitForLoadState();
  expect(new URL(tab.url()).pathname).toMatch(/\/omega\/apps\/hello-app\/$/);
  await expect(tab.locator('h1')).toHaveText('hello from the omega app');
  await expect(tab.locator('p')).toContainText('/omega/apps/hello-app');
  await shot(tab, testInfo, 'apps-opened');
  await tab.close();

  // Logs: a dialog with the lines the app logged.
  await row.locator('.jp-omega-app-logs').click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.locator('.jp-omega-app-logs')).toBeVisible();
  await expect(dialog.locator('.jp-Dialog-header')).toContainText(`Logs of ${APP}`);
  await shot(dialog.locator('.jp-Dialog-content'), testInfo, 'apps-logs');
  await dialog.getByRole('button', { name: 'Ok' }).click();

  // Stop: the process ends; Start is offered again.
  await row.locator('.jp-omega-app-stop').click();
  await expect(row).toHaveAttribute('data-state', 'stopped', { timeout: 60000 });
  await expect(row.locator('.jp-omega-item-detail')).toHaveText('script · stopped');
  await expect(row.locator('.jp-omega-app-start')).toBeEnabled();
  await expect(row.locator('.jp-omega-app-open')).toBeDisabled();
  await shot(page.locator('#omega-jupyter-panel'), testInfo, 'apps-stopped');
});
