import assert from 'node:assert/strict';
import {
  ValueError,
  isTimeZone,
  parseDecimal,
  parseInteger,
  parseTimestamp,
  readTimestamp,
} from '../../src/normalize/values.ts';

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
    for (const [input, expected] of cases)
      assert.equal(parseDecimal(input), expected, `parseDecimal(${JSON.stringify(input)})`);
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

  it('reads feed dates in the common feed languages, day names ignored and month names in any spelling', () => {
    const cases: [string, string][] = [
      ['Mi, 02 Okt 2024 13:00:00 +0200', '2024-10-02T11:00:00.000Z'], // German
      ['Di, 05 März 2024 10:00:00 MEZ', '2024-03-05T09:00:00.000Z'],
      ['05 Mrz 2024 10:00:00 +0100', '2024-03-05T09:00:00.000Z'],
      ['Mo, 04 Mär. 2024 10:00:00 +0100', '2024-03-04T09:00:00.000Z'],
      ['mar., 15 oct. 2024 10:00:00 +0200', '2024-10-15T08:00:00.000Z'], // French
      ['lun., 05 févr. 2024 10:00:00 +0100', '2024-02-05T09:00:00.000Z'],
      ['ven., 03 mai 2024 10:00:00 +0200', '2024-05-03T08:00:00.000Z'],
      ['Mié, 02 Oct 2024 13:00:00 +0200', '2024-10-02T11:00:00.000Z'], // Spanish
      ['lun, 23 dic 2024 10:00:00 +0100', '2024-12-23T09:00:00.000Z'],
      ['2 de octubre de 2024', '2024-10-02T00:00:00.000Z'],
      ['Ср, 02 окт 2024 13:00:00 +0300', '2024-10-02T10:00:00.000Z'], // Russian
      ['2 октября 2024 13:00 MSK', '2024-10-02T10:00:00.000Z'],
      ['Śr., 02 paź 2024 13:00:00 +0200', '2024-10-02T11:00:00.000Z'], // Polish
      ['5 maja 2024 10:00:00 +0200', '2024-05-05T08:00:00.000Z'],
      ['Çar, 02 Eki 2024 13:00:00 +0300', '2024-10-02T10:00:00.000Z'], // Turkish
      ['02 EKİM 2024 13:00:00 +0300', '2024-10-02T10:00:00.000Z'],
      ['15 Kasım 2024 13:00:00 +0300', '2024-11-15T10:00:00.000Z'],
      ['ons, 02 okt 2024 13:00:00 +0200', '2024-10-02T11:00:00.000Z'], // Swedish
      ['fre, 03 maj 2024 10:00:00 +0200', '2024-05-03T08:00:00.000Z'],
      ['mer, 02 ott 2024 13:00:00 +0200', '2024-10-02T11:00:00.000Z'], // Italian
      ['sab, 10 ago 2024 10:00:00 +0200', '2024-08-10T08:00:00.000Z'],
      ['qua, 02 out 2024 13:00:00 -0300', '2024-10-02T16:00:00.000Z'], // Portuguese
      ['seg, 04 fev 2024 10:00:00 -0300', '2024-02-04T13:00:00.000Z'],
      ['wo, 02 okt. 2024 13:00:00 +0200', '2024-10-02T11:00:00.000Z'], // Dutch
      ['vr, 05 mrt 2024 10:00:00 +0100', '2024-03-05T09:00:00.000Z'],
      ['do, 09 mei 2024 10:00:00 +0200', '2024-05-09T08:00:00.000Z'],
      ['Thu, 02 October 2024 13:00:00 GMT', '2024-10-02T13:00:00.000Z'], // English full name
    ];
    for (const [input, expected] of cases) assert.equal(parseTimestamp(input), expected, input);
    assert.equal(parseTimestamp('Okt 02, 2024', 'mon dd, yyyy'), '2024-10-02T00:00:00.000Z');
    assert.equal(parseTimestamp('févr. 05, 2024', 'mon dd, yyyy'), '2024-02-05T00:00:00.000Z');
  });

  it('refuses a month word that no language knows', () => {
    for (const input of [
      '02 Brumaire 2024 10:00:00 GMT',
      'Wed, 02 Octopus 2002 13:00:00 GMT',
      '02 jui 2024 10:00:00 GMT',
      '02 Xyz 2024 10:00:00 GMT',
    ]) {
      assert.throws(
        () => parseTimestamp(input),
        (e: unknown) => e instanceof ValueError && e.message.startsWith('not a timestamp: '),
        input,
      );
    }
    assert.throws(() => parseTimestamp('Foo 02, 2024', 'mon dd, yyyy'), /not a mon dd, yyyy date/);
  });

  it('flags a time of day without a zone as read in UTC, when no zone is declared', () => {
    assert.deepEqual(readTimestamp('2024-01-15T12:00:00'), { iso: '2024-01-15T12:00:00.000Z', zoneAssumed: true });
    assert.deepEqual(readTimestamp('2024-01-15 12:00'), { iso: '2024-01-15T12:00:00.000Z', zoneAssumed: true });
    assert.deepEqual(readTimestamp('15-01-2024 12:00', 'dd-mm-yyyy'), {
      iso: '2024-01-15T12:00:00.000Z',
      zoneAssumed: true,
    });
    assert.deepEqual(
      readTimestamp('Mon, 15 Jan 2024 12:00:00'),
      { iso: '2024-01-15T12:00:00.000Z', zoneAssumed: true },
      'rfc822 without zone',
    );
    assert.equal(readTimestamp(''), null);
  });

  it('reads a time of day without a zone in the declared zone, daylight saving time included', () => {
    assert.deepEqual(
      readTimestamp('2024-01-15T12:00:00', 'auto', 'Europe/Berlin'),
      { iso: '2024-01-15T11:00:00.000Z', zoneAssumed: false },
      'winter, +01:00',
    );
    assert.deepEqual(
      readTimestamp('2024-07-15T12:00:00', 'auto', 'Europe/Berlin'),
      { iso: '2024-07-15T10:00:00.000Z', zoneAssumed: false },
      'summer, +02:00',
    );
    assert.equal(
      parseTimestamp('2024-01-15T12:00:00.250', 'auto', 'America/New_York'),
      '2024-01-15T17:00:00.250Z',
      'EST',
    );
    assert.equal(parseTimestamp('2024-07-15 12:00', 'auto', 'America/New_York'), '2024-07-15T16:00:00.000Z', 'EDT');
    assert.equal(parseTimestamp('15/07/2024 12:00', 'dd/mm/yyyy', 'Europe/Berlin'), '2024-07-15T10:00:00.000Z');
    assert.equal(parseTimestamp('Mo, 15 Jul 2024 12:00', 'auto', 'Europe/Berlin'), '2024-07-15T10:00:00.000Z');
  });

  it('reads a wall-clock time that a DST change skips or repeats with the offset before the change', () => {
    // clocks go from 02:00 to 03:00: 02:30 never happens and is read as 03:30 summer time
    assert.equal(parseTimestamp('2024-03-31T02:30:00', 'auto', 'Europe/Berlin'), '2024-03-31T01:30:00.000Z');
    assert.equal(parseTimestamp('2024-03-10T02:30', 'auto', 'America/New_York'), '2024-03-10T07:30:00.000Z');
    // clocks go from 03:00 back to 02:00: 02:30 happens twice and is read as the first time, in summer time
    assert.equal(parseTimestamp('2024-10-27T02:30:00', 'auto', 'Europe/Berlin'), '2024-10-27T00:30:00.000Z');
    assert.equal(parseTimestamp('2024-11-03T01:30', 'auto', 'America/New_York'), '2024-11-03T05:30:00.000Z');
    // either side of a change, in one run: the per-day offset cache must not leak across it
    assert.equal(parseTimestamp('2024-03-31T01:59:00', 'auto', 'Europe/Berlin'), '2024-03-31T00:59:00.000Z');
    assert.equal(parseTimestamp('2024-03-31T03:00:00', 'auto', 'Europe/Berlin'), '2024-03-31T01:00:00.000Z');
    assert.equal(parseTimestamp('2024-03-30T23:00:00', 'auto', 'Europe/Berlin'), '2024-03-30T22:00:00.000Z');
    assert.equal(parseTimestamp('2024-04-01T23:00:00', 'auto', 'Europe/Berlin'), '2024-04-01T21:00:00.000Z');
  });

  it('keeps a date without a time as its UTC day, in any declared zone, and does not flag it', () => {
    assert.deepEqual(readTimestamp('2024-01-02'), { iso: '2024-01-02T00:00:00.000Z', zoneAssumed: false });
    assert.deepEqual(readTimestamp('2024-07-02', 'auto', 'Europe/Berlin'), {
      iso: '2024-07-02T00:00:00.000Z',
      zoneAssumed: false,
    });
    assert.deepEqual(readTimestamp('02/01/2024', 'dd/mm/yyyy', 'America/New_York'), {
      iso: '2024-01-02T00:00:00.000Z',
      zoneAssumed: false,
    });
    assert.deepEqual(readTimestamp('2 de octubre de 2024', 'auto', 'Europe/Madrid'), {
      iso: '2024-10-02T00:00:00.000Z',
      zoneAssumed: false,
    });
  });

  it('reads a value with its own zone or offset, and an epoch, as written: not flagged, whatever zone is declared', () => {
    for (const timeZone of [undefined, 'Europe/Berlin', 'America/New_York']) {
      assert.deepEqual(readTimestamp('2024-07-15T12:00:00Z', 'auto', timeZone), {
        iso: '2024-07-15T12:00:00.000Z',
        zoneAssumed: false,
      });
      assert.deepEqual(readTimestamp('2024-07-15T12:00:00+05:30', 'auto', timeZone), {
        iso: '2024-07-15T06:30:00.000Z',
        zoneAssumed: false,
      });
      assert.deepEqual(readTimestamp('Mon, 15 Jul 2024 12:00:00 GMT', 'auto', timeZone), {
        iso: '2024-07-15T12:00:00.000Z',
        zoneAssumed: false,
      });
      assert.deepEqual(readTimestamp('Mo, 15 Jul 2024 12:00:00 -0400', 'auto', timeZone), {
        iso: '2024-07-15T16:00:00.000Z',
        zoneAssumed: false,
      });
      assert.deepEqual(readTimestamp('1624505533', 'auto', timeZone), {
        iso: '2021-06-24T03:32:13.000Z',
        zoneAssumed: false,
      });
      assert.deepEqual(readTimestamp(1624505533383, 'dd-mm-yyyy', timeZone), {
        iso: '2021-06-24T03:32:13.383Z',
        zoneAssumed: false,
      });
    }
  });

  it('knows IANA time zones and refuses anything else, also when asked to read in it', () => {
    for (const zone of ['Europe/Berlin', 'America/New_York', 'UTC', 'Asia/Kolkata'])
      assert.equal(isTimeZone(zone), true, zone);
    for (const zone of ['', 'Mars/Olympus', '+01:00', 'Europe/Berlin ', 'GMT+1'])
      assert.equal(isTimeZone(zone), false, zone);
    assert.throws(() => readTimestamp('2024-07-15T12:00:00', 'auto', 'Mars/Olympus'), RangeError);
  });

  it("reads an ISO time followed by a zone name, as CoinGecko's CSV export writes it, and refuses an unknown name", () => {
    assert.deepEqual(readTimestamp('2013-04-28 00:00:00 UTC'), { iso: '2013-04-28T00:00:00.000Z', zoneAssumed: false });
    assert.deepEqual(readTimestamp('2024-03-01T09:30:00 CET', 'auto', 'America/New_York'), {
      iso: '2024-03-01T08:30:00.000Z',
      zoneAssumed: false,
    });
    assert.throws(() => readTimestamp('2024-03-01 09:30:00 IST'), /unknown or ambiguous time zone IST/);
  });
});
