/**
 * Values of a dataset preview formatted by their column's dtype, the way pandas' repr shows
 * them: floats of a column with the same number of decimals (70.0 and 1.25 → `70.00`,
 * `1.25`), datetimes as `2026-05-22 06:31:34` in the column's zone (the zone is said once,
 * in the dtype header, not in every cell), dates alone when every time is midnight, missing
 * values as NaN / NaT / <NA> / None by dtype. Pure functions, no DOM.
 */

export type CellFormatter = (value: unknown) => string;

/** pandas' display.precision. */
const PRECISION = 6;

/** The zone of a tz-aware datetime dtype (`datetime64[us, Europe/Zurich]` → Europe/Zurich). */
export function dtypeZone(dtype: string): string | null {
  const m = /^datetime64\[[a-z]+,\s*(.+)\]$/i.exec(dtype.trim());
  return m ? m[1].trim() : null;
}

function isFloat(dtype: string): boolean {
  return /^(float|Float)\d*$/.test(dtype);
}

function isInt(dtype: string): boolean {
  return /^u?int\d*$/i.test(dtype);
}

function isDatetime(dtype: string): boolean {
  return /^datetime64/.test(dtype);
}

/** What pandas shows for a missing value of `dtype`. */
export function missingText(dtype: string): string {
  if (isDatetime(dtype)) {
    return 'NaT';
  }
  if (/^(Int|UInt|Float)\d+$/.test(dtype) || dtype === 'boolean' || dtype === 'string') {
    return '<NA>';
  }
  if (isFloat(dtype) || dtype === 'str') {
    return 'NaN';
  }
  return 'None';
}

/** Floats of one column, with the decimals they need in common (at least one). */
export function formatFloats(values: readonly (number | null)[]): string[] {
  const finite = values.filter((v): v is number => typeof v === 'number' && isFinite(v));
  const big = finite.some(v => Math.abs(v) >= 1e16);
  const tiny = finite.some(v => v !== 0 && Math.abs(v) < 10 ** -PRECISION);
  const special = (v: number | null): string | null => {
    if (v === null || (typeof v === 'number' && isNaN(v))) {
      return 'NaN';
    }
    if (v === Infinity) {
      return 'inf';
    }
    if (v === -Infinity) {
      return '-inf';
    }
    return null;
  };
  if (big || tiny) {
    // Scientific, the mantissas trimmed alike: 1.5e+20 → 1.500000e+20 → 1.5e+20.
    const texts = values.map(v => special(v) ?? (v as number).toExponential(PRECISION));
    return trimCommon(texts, t => t.split('e')[0]).map(t => t.replace(/e([+-])(\d)$/, 'e$10$2'));
  }
  const texts = values.map(v => special(v) ?? (v as number).toFixed(PRECISION));
  return trimCommon(texts, t => t);
}

/** Drop trailing zeros from every number while all of them have one, keeping one decimal. */
function trimCommon(texts: string[], mantissa: (t: string) => string): string[] {
  let out = texts;
  const numeric = (t: string) => /^-?\d/.test(t);
  for (;;) {
    const nums = out.filter(numeric);
    if (
      !nums.length ||
      !nums.every(t => {
        const m = mantissa(t);
        return m.endsWith('0') && !/\.\d$/.test(m);
      })
    ) {
      return out;
    }
    out = out.map(t => {
      if (!numeric(t)) {
        return t;
      }
      const m = mantissa(t);
      return m.slice(0, -1) + t.slice(m.length);
    });
  }
}

interface IParts {
  date: string;
  time: string;
  fraction: string;
}

function datetimeParts(value: unknown, zone: string | null): IParts | null {
  let t: Date;
  if (typeof value === 'number') {
    t = new Date(value);
  } else if (typeof value === 'string') {
    // A naive datetime comes without a zone: read it as UTC, show it as it is.
    const text = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`;
    t = new Date(text);
  } else {
    return null;
  }
  if (isNaN(t.getTime())) {
    return null;
  }
  const ms = t.getUTCMilliseconds();
  let fields: Record<string, string>;
  try {
    const format = new Intl.DateTimeFormat('en-CA', {
      timeZone: zone ?? 'UTC',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23'
    });
    fields = Object.fromEntries(format.formatToParts(t).map(p => [p.type, p.value]));
  } catch {
    return datetimeParts(value, null); // a zone this browser does not know: UTC
  }
  return {
    date: `${fields.year}-${fields.month}-${fields.day}`,
    time: `${fields.hour}:${fields.minute}:${fields.second}`,
    fraction: ms ? `.${String(ms).padStart(3, '0')}` : ''
  };
}

/** Datetimes of one column: dates alone when every time is midnight, else date and time. */
export function formatDatetimes(values: readonly unknown[], dtype: string): string[] {
  const zone = dtypeZone(dtype);
  const parts = values.map(v => (v === null || v === undefined ? null : datetimeParts(v, zone)));
  const present = parts.filter((p): p is IParts => p !== null);
  const dateOnly = present.length > 0 && present.every(p => p.time === '00:00:00' && !p.fraction);
  const fraction = present.some(p => p.fraction);
  return parts.map((p, i) => {
    if (p === null) {
      const v = values[i];
      return v === null || v === undefined ? 'NaT' : String(v);
    }
    if (dateOnly) {
      return p.date;
    }
    return `${p.date} ${p.time}${fraction ? p.fraction || '.000' : ''}`;
  });
}

/** Every value of one column as text, formatted by the column's dtype. */
export function formatColumn(dtype: string, values: readonly unknown[]): string[] {
  const missing = missingText(dtype);
  if (isFloat(dtype)) {
    const floats = values.map(v => (typeof v === 'number' ? v : null));
    const texts = formatFloats(floats);
    return texts.map((t, i) => (values[i] === null || values[i] === undefined ? missing : t));
  }
  if (isDatetime(dtype)) {
    return formatDatetimes(values, dtype);
  }
  return values.map(v => {
    if (v === null || v === undefined) {
      return missing;
    }
    if (typeof v === 'boolean') {
      return v ? 'True' : 'False';
    }
    if (typeof v === 'object') {
      return JSON.stringify(v);
    }
    if (isInt(dtype) && typeof v === 'number') {
      return String(v);
    }
    return String(v);
  });
}

/** The preview's rows as text: `rows[i][column]` formatted by the column's dtype. */
export function formatRows(
  columns: readonly { name: string; dtype: string }[],
  rows: readonly Record<string, unknown>[]
): string[][] {
  const byColumn = columns.map(c =>
    formatColumn(
      c.dtype,
      rows.map(r => r[c.name])
    )
  );
  return rows.map((_, i) => byColumn.map(col => col[i]));
}
