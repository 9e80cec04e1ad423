const jestJupyterLab = require('@jupyterlab/testing/lib/jest-config');

const esModules = [
  '@codemirror',
  '@jupyter/ydoc',
  '@jupyter/react-components',
  '@jupyter/web-components',
  '@jupyterlab/',
  '@microsoft',
  'exenv-es6',
  'lib0',
  'nanoid',
  'vscode-ws-jsonrpc',
  'y-protocols',
  'y-websocket',
  'yjs'
].join('|');

const baseConfig = jestJupyterLab(__dirname);

module.exports = {
  ...baseConfig,
  reporters: ['default'],
  automock: false,
  // Only the sources are crawled: the venv and build output hold other package.json files.
  roots: ['<rootDir>/labextension/src'],
  collectCoverageFrom: ['labextension/src/**/*.{ts,tsx}', '!labextension/src/**/*.d.ts'],
  // The built extension and the UI tests carry their own package.json files.
  modulePathIgnorePatterns: [
    '<rootDir>/omega_jupyter/labextension',
    '<rootDir>/labextension/ui-tests',
    '<rootDir>/.venv'
  ],
  testRegex: 'labextension/src/.*/?__tests__/.*\\.spec\\.ts$',
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`]
};
