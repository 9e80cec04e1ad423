import { dtypeZone, formatColumn, formatFloats, formatRows } from '../dtypes';

describe('preview values by dtype, as pandas shows them', () => {
  it('gives the floats of a column the decimals they need in common', () => {
    expect(formatFloats([70, 1.25])).toEqual(['70.00', '1.25']);
    expect(formatFloats([70])).toEqual(['70.0']);
    expect(formatFloats([0.1, 2, null])).toEqual(['0.1', '2.0', 'NaN']);
    expect(formatFloats([1.5e20, 2])).toEqual(['1.5e+20', '2.0e+00']);
    expect(formatColumn('float64', [70, null])).toEqual(['70.0', 'NaN']);
  });

  it('shows tz-aware datetimes in their zone without repeating it', () => {
    const dtype = 'datetime64[us, Europe/Zurich]';
    expect(dtypeZone(dtype)).toBe('Europe/Zurich');
    expect(dtypeZone('datetime64[us]')).toBeNull();
    expect(formatColumn(dtype, ['2026-05-22T04:31:34.000Z', '2026-05-22T05:00:00.000Z'])).toEqual([
      '2026-05-22 06:31:34',
      '2026-05-22 07:00:00'
    ]);
    expect(formatColumn('datetime64[us, UTC]', ['2026-05-22T04:31:34.000Z', null])).toEqual([
      '2026-05-22 04:31:34',
      'NaT'
    ]);
    // Milliseconds when any value has them.
    expect(
      formatColumn('datetime64[ns, UTC]', ['2026-05-22T04:31:34.250Z', '2026-05-22T04:31:35Z'])
    ).toEqual(['2026-05-22 04:31:34.250', '2026-05-22 04:31:35.000']);
  });

  it('shows dates alone when every time of a naive column is midnight', () => {
    expect(
      formatColumn('datetime64[us]', ['2024-01-01T00:00:00.000', '2024-01-02T00:00:00.000'])
    ).toEqual(['2024-01-01', '2024-01-02']);
    expect(
      formatColumn('datetime64[us]', ['2024-01-01T00:00:00.000', '2024-01-02T08:30:00.000'])
    ).toEqual(['2024-01-01 00:00:00', '2024-01-02 08:30:00']);
  });

  it('says None, NaN or <NA> for missing values by dtype; ints and bools as pandas does', () => {
    expect(formatColumn('object', ['x', null])).toEqual(['x', 'None']);
    expect(formatColumn('str', ['x', null])).toEqual(['x', 'NaN']);
    expect(formatColumn('Int64', [1, null])).toEqual(['1', '<NA>']);
    expect(formatColumn('int64', [120, 340])).toEqual(['120', '340']);
    expect(formatColumn('bool', [true, false])).toEqual(['True', 'False']);
  });

  it('formats rows column by column', () => {
    const columns = [
      { name: 'city', dtype: 'object' },
      { name: 'amount', dtype: 'float64' }
    ];
    const rows = [
      { city: 'Zurich', amount: 70 },
      { city: 'Basel', amount: 1.25 }
    ];
    expect(formatRows(columns, rows)).toEqual([
      ['Zurich', '70.00'],
      ['Basel', '1.25']
    ]);
  });
});
