/**
 * Galata's Playwright config, run in Debian's Chromium (Playwright's own browser downloads are
 * not used). The port is chosen once by scripts/ui-test.sh and passed in OMEGA_UI_PORT:
 * this file is evaluated again in every worker.
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const port = process.env.OMEGA_UI_PORT || '8888';
const chromium = process.env.OMEGA_UI_CHROMIUM || '/usr/bin/chromium';

module.exports = {
  ...baseConfig,
  timeout: 240 * 1000,
  expect: { timeout: 30 * 1000 },
  workers: 1,
  retries: 0,
  reporter: [['list'], ['html', { open: 'never' }]],
  use: {
    ...baseConfig.use,
    baseURL: `http://localhost:${port}`,
    video: 'off',
    trace: 'off',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: chromium,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-dev-shm-usage'
      ]
    }
  },
  webServer: {
    command: 'jupyter lab --config jupyter_server_test_config.py',
    url: `http://localhost:${port}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe'
  }
};
