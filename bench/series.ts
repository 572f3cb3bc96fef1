// Generated inputs of the time-series benchmark: daily snapshots of many assets (one file per day, the same
// assets repriced), and a long history file of hourly observations. Deterministic, like generate.ts.
import fs from 'node:fs';
import { once } from 'node:events';

export const SNAPSHOT_HEADER = 'id,symbol,name,market_cap_rank,current_price,market_cap,total_volume,last_updated';
export const HISTORY_HEADER = 'id,symbol,name,open,high,low,close,volume,date';

/** A price that moves a little every step, from the asset and the step alone. */
function priceOf(asset: number, step: number): number {
  const base = Math.exp((((asset * 2654435761) % 1000) / 1000) * 12 - 4);
  return base * (1 + 0.2 * Math.sin(step / 17 + asset) + 0.05 * Math.sin(step * 1.7 + asset * 3));
}

async function writeLines(file: string, header: string, rows: number, row: (i: number) => string): Promise<number> {
  const out = fs.createWriteStream(file);
  let chunk = `${header}\n`;
  for (let i = 0; i < rows; i++) {
    chunk += `${row(i)}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return fs.statSync(file).size;
}

/** The snapshot of `assets` assets on day `day` after `firstDay`, each quoted at that day's midnight. */
export function writeDailySnapshot(file: string, assets: number, firstDay: Date, day: number): Promise<number> {
  const at = new Date(firstDay.getTime() + day * 86_400_000).toISOString();
  return writeLines(file, SNAPSHOT_HEADER, assets, (i) => {
    const price = priceOf(i, day);
    return `daily-${i},d${i},Daily ${i},${i + 1},${price.toPrecision(8)},${Math.round(price * 1e7)},${Math.round(price * 1e5)},${at}`;
  });
}

/** `hours` hourly OHLC rows of each of `assets` assets, ending at `end`: the shape of an exchange's candle export. */
export function writeHistory(file: string, assets: number, hours: number, end: Date): Promise<number> {
  const start = end.getTime() - hours * 3_600_000;
  return writeLines(file, HISTORY_HEADER, assets * hours, (i) => {
    const asset = i % assets;
    const hour = Math.floor(i / assets);
    const close = priceOf(asset, hour);
    const open = priceOf(asset, hour - 1);
    return `hist-${asset},h${asset},History ${asset},${open.toPrecision(8)},${(Math.max(open, close) * 1.01).toPrecision(8)},${(Math.min(open, close) * 0.99).toPrecision(8)},${close.toPrecision(8)},${Math.round(close * 1e4)},${new Date(start + hour * 3_600_000).toISOString()}`;
  });
}
