import { middleEllipsis, middleParts, tailLength } from '../ellipsis';

describe('middle ellipsis', () => {
  it('cuts in the middle, keeping the beginning and the end', () => {
    expect(middleEllipsis('measurements_2024_final', 12)).toBe('measur…final');
    expect(middleEllipsis('measurements_2024_final', 12)).toHaveLength(12);
    expect(middleEllipsis('sales', 12)).toBe('sales');
    expect(middleEllipsis('abcdef', 2)).toBe('a…');
    expect(middleEllipsis('abcdef', 1)).toBe('…');
  });

  it('counts characters, not UTF-16 units', () => {
    expect(middleEllipsis('😀😀😀😀😀😀', 5)).toBe('😀😀…😀😀');
  });

  it('splits names into a head that may be cut and a tail that stays', () => {
    expect(middleParts('sales')).toEqual(['sales', '']);
    expect(middleParts('measurements')).toEqual(['measur', 'ements']);
    expect(middleParts('reports/a_very_long_notebook_name')).toEqual([
      'reports/a_very_long_not',
      'ebook_name'
    ]);
    expect(middleParts("odd name's (1)")).toEqual(['odd nam', "e's (1)"]);
    // the tail never reaches past the last folder
    expect(tailLength('a_long_folder_name/x')).toBe(1);
  });
});
