/**
 * Names in the narrow sidebar keep their beginning and their end: `measurements_2024_final`
 * becomes `measurem…_final` rather than `measurements_2…`. Pure functions, no DOM: the row
 * shows the head (which the browser cuts with an ellipsis when there is no room) and the tail
 * (never cut).
 */

/** How many characters of the end of `name` stay visible however narrow the row. */
export function tailLength(name: string): number {
  if (name.length <= 10) {
    return 0;
  }
  // The last path segment's end, at most 10 characters and never more than half the name.
  const slash = name.lastIndexOf('/');
  const last = slash >= 0 ? name.length - slash - 1 : name.length;
  return Math.max(1, Math.min(10, Math.floor(name.length / 2), last));
}

/** `[head, tail]` of a name shown with a middle ellipsis (tail '' for short names). */
export function middleParts(name: string): [string, string] {
  const n = tailLength(name);
  return n ? [name.slice(0, name.length - n), name.slice(name.length - n)] : [name, ''];
}

/** `name` in at most `max` characters, the cut in the middle (`measur…_final`). */
export function middleEllipsis(name: string, max: number): string {
  const chars = Array.from(name);
  if (chars.length <= max) {
    return name;
  }
  if (max <= 1) {
    return '…';
  }
  const keep = max - 1;
  const tail = Math.floor(keep / 2);
  const head = keep - tail;
  return `${chars.slice(0, head).join('')}…${tail ? chars.slice(chars.length - tail).join('') : ''}`;
}
