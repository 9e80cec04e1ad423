import { LabIcon } from '@jupyterlab/ui-components';

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" d="M12 3a7.5 7.5 0 0 0-4.6 13.4V18H4v2.5h6v-5.2A5 5 0 0 1 7 10.6a5 5 0 0 1 10 0 5 5 0 0 1-3 4.7v5.2h6V18h-3.4v-1.6A7.5 7.5 0 0 0 12 3z"/>
</svg>`;

export const omegaIcon = new LabIcon({ name: 'omega-jupyter:omega', svgstr: svg });
