/**
 * Drag an item from the panel into a notebook: the drop inserts a code cell that loads it
 * (the notebook accepts cells dragged from anywhere under the cells MIME type).
 */
import { Drag } from '@lumino/dragdrop';
import { MimeData } from '@lumino/coreutils';

import { insertCode } from './format';

export const JUPYTER_CELL_MIME = 'application/vnd.jupyter.cells';
const THRESHOLD = 5;

/** The cells a drop of `name` (from `store`) inserts. */
export function cellsFor(store: string, name: string): Record<string, unknown>[] {
  return [
    {
      cell_type: 'code',
      source: insertCode(store, name),
      metadata: {},
      outputs: [],
      execution_count: null
    }
  ];
}

/** Begin watching a press on an item; a drag starts once the pointer moves a few pixels. */
export function startItemDrag(
  store: string,
  name: string,
  press: MouseEvent,
  source: unknown
): void {
  const x0 = press.clientX;
  const y0 = press.clientY;
  const move = (event: MouseEvent) => {
    if (Math.abs(event.clientX - x0) + Math.abs(event.clientY - y0) < THRESHOLD) {
      return;
    }
    stop();
    const mimeData = new MimeData();
    mimeData.setData(JUPYTER_CELL_MIME, cellsFor(store, name));
    mimeData.setData('text/plain', insertCode(store, name));
    const image = document.createElement('div');
    image.className = 'jp-omega-drag-image';
    image.textContent = name;
    const drag = new Drag({
      mimeData,
      dragImage: image,
      proposedAction: 'copy',
      supportedActions: 'copy',
      source
    });
    void drag.start(event.clientX, event.clientY);
  };
  const stop = () => {
    document.removeEventListener('mousemove', move, true);
    document.removeEventListener('mouseup', stop, true);
  };
  document.addEventListener('mousemove', move, true);
  document.addEventListener('mouseup', stop, true);
}
