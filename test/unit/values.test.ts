import assert from 'node:assert/strict';
import { ValueError, parseDecimal, parseInteger, parseTimestamp } from '../../src/normalize/values.ts';

describe('value cleanup', () => {
  it('reads the number spellings real sources use, exactly', () => {
    const cases: [unknown, string | null][] = [
      ['32797', '32797'],
      ['1913.88', '1913.88'],
      ['$87,000', '87000'],
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
    for (const input of ['12abc', '1,2,3', '1.2.3', 'abc', '$', '--5', { x: 1 }, Infinity]) {
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
  });
});
