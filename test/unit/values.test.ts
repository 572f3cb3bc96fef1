import assert from 'node:assert/strict';
import { ValueError, parseDecimal, parseInteger, parseTimestamp } from '../../src/normalize/values.ts';

describe('value cleanup', () => {
  it('reads the number spellings real sources use, exactly', () => {
    const cases: [unknown, string | null][] = [
      ['32797', '32797'],
      ['1913.88', '1913.88'],
      ['$87,000', '87000'],
      ['US$ 1,234.5', '1234.5'],
      ['2,697,970,000', '2697970000'],
      ['1.7T', '1.7e12'],
      ['2e-8', '2e-8'],
      ['-3.15532', '-3.15532'],
      ['  42 ', '42'],
      ['-', null],
      ['', null],
      ['N/A', null],
      [null, null],
      [0.1, '0.1'],
    ];
    for (const [input, expected] of cases) assert.equal(parseDecimal(input), expected, `parseDecimal(${JSON.stringify(input)})`);
  });

  it('refuses what is not a number instead of guessing', () => {
    assert.throws(() => parseDecimal('€ 219,45'), /not in USD/);
    assert.throws(() => parseDecimal('£12'), /not in USD/);
    for (const input of ['12abc', '1,2,3', '1.2.3', '1.913,88', '3,1 Mrd', 'abc', '$', '--5', { x: 1 }, Infinity]) {
      assert.throws(() => parseDecimal(input), ValueError, `parseDecimal(${String(input)})`);
    }
  });

  it('reads integers and rejects fractions', () => {
    assert.equal(parseInteger('12'), 12);
    assert.equal(parseInteger('1,234'), 1234);
    assert.throws(() => parseInteger('1.5'), ValueError);
  });

  it('reads timestamps as UTC: ISO with and without zone, epoch seconds and milliseconds', () => {
    assert.equal(parseTimestamp('2021-06-24T03:32:13.383Z'), '2021-06-24T03:32:13.383Z');
    assert.equal(parseTimestamp('2021-06-24T05:32:13+02:00'), '2021-06-24T03:32:13.000Z');
    assert.equal(parseTimestamp('2021-06-24 03:32:13'), '2021-06-24T03:32:13.000Z');
    assert.equal(parseTimestamp('2021-06-24'), '2021-06-24T00:00:00.000Z');
    assert.equal(parseTimestamp('1624505533'), '2021-06-24T03:32:13.000Z');
    assert.equal(parseTimestamp(1624505533383), '2021-06-24T03:32:13.383Z');
    assert.equal(parseTimestamp(''), null);
    assert.throws(() => parseTimestamp('yesterday'), ValueError);
    assert.throws(() => parseTimestamp('2021-13-45'), ValueError);
    assert.equal(parseTimestamp('2025-12-12T18:39:05.494656'), '2025-12-12T18:39:05.494Z');
  });

  it('reads RFC 822 dates as feeds write them, with zone names, and refuses ambiguous zones', () => {
    const cases: [string, string][] = [
      ['Wed, 02 Oct 2002 13:00:00 GMT', '2002-10-02T13:00:00.000Z'],
      ['Wed, 9 Oct 2019 08:00:00 +0530', '2019-10-09T02:30:00.000Z'],
      ['07 Nov 2015 12:00:00 EST', '2015-11-07T17:00:00.000Z'],
      ['03 Apr 02 1500 GMT', '2002-04-03T15:00:00.000Z'],
      ['\n  Thu, 24 Jun 2021 01:15:00 EDT ', '2021-06-24T05:15:00.000Z'],
      ['Sat, 12 Jun 2021 10:00:00 UT', '2021-06-12T10:00:00.000Z'],
    ];
    for (const [input, expected] of cases) assert.equal(parseTimestamp(input), expected, input);
    assert.throws(() => parseTimestamp('Tue, 22 Jun 2021 10:00:00 IST'), /ambiguous time zone IST/);
    assert.throws(() => parseTimestamp('Tue, 22 Jun 2021 25:61:00 GMT'), /not a valid date/);
  });

  it('reads declared day-month orders, which auto refuses to guess', () => {
    assert.equal(parseTimestamp('05-12-2025 17:43:10', 'dd-mm-yyyy'), '2025-12-05T17:43:10.000Z');
    assert.equal(parseTimestamp('12/05/2025', 'mm/dd/yyyy'), '2025-12-05T00:00:00.000Z');
    assert.equal(parseTimestamp('Sep 05, 2017', 'mon dd, yyyy'), '2017-09-05T00:00:00.000Z');
    assert.equal(parseTimestamp('1624505533', 'dd-mm-yyyy'), '2021-06-24T03:32:13.000Z', 'epoch is never ambiguous');
    assert.throws(() => parseTimestamp('05-12-2025'), ValueError);
    assert.throws(() => parseTimestamp('31-06-2021', 'dd-mm-yyyy'), /not a valid date/);
    assert.throws(() => parseTimestamp('24/06/2021', 'dd-mm-yyyy'), /not a dd-mm-yyyy date/);
  });
});
