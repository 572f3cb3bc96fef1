// A deterministic CSV of asset quotes in the shape of the bundled demo file (CoinGecko's /coins/markets
// columns): the same seed and row count always give the same bytes. `changedEvery` reprices every n-th
// asset (10 → 10 % of the rows), as a market moving between two snapshots would.
import fs from 'node:fs';
import { once } from 'node:events';

export const HEADER =
  'id,symbol,name,market_cap_rank,current_price,market_cap,total_volume,circulating_supply,total_supply,max_supply,price_change_percentage_24h,last_updated';
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const SNAPSHOT = Date.parse('2026-11-01T00:00:00Z');

/** mulberry32: a small, fast PRNG; one per row, seeded by the row, so a changed row leaves the others alone. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function assetRow(i: number, repriced: boolean): string {
  const next = random(i * 2654435761);
  const symbolLength = 3 + Math.floor(next() * 3);
  let symbol = '';
  for (let k = 0; k < symbolLength; k++) symbol += LETTERS[Math.floor(next() * 26)];
  let price = Math.exp(next() * 16 - 6); // 0.0025 .. 22,000
  if (repriced) price *= 1.05;
  const supply = Math.round(1e5 + next() * 1e10);
  const maxSupply = next() < 0.4 ? '' : String(supply * 2);
  const change = (next() * 20 - 10).toFixed(5);
  // one second apart, wrapping after 2M rows (23 days): a larger file must not reach past the day it is loaded,
  // where its rows would be quarantined as observed in the future
  const updated = new Date(SNAPSHOT + (i % 2_000_000) * 1000 + (repriced ? 3_600_000 : 0)).toISOString();
  return [
    `asset-${i}`,
    symbol.toLowerCase(),
    `Asset ${symbol} ${i}`,
    i,
    price.toPrecision(8),
    Math.round(price * supply),
    Math.round(price * supply * next() * 0.2),
    supply,
    supply,
    maxSupply,
    change,
    updated,
  ].join(',');
}

export async function writeAssetsCsv(file: string, rows: number, changedEvery = 0): Promise<number> {
  const out = fs.createWriteStream(file);
  let chunk = `${HEADER}\n`;
  for (let i = 1; i <= rows; i++) {
    chunk += `${assetRow(i, changedEvery > 0 && i % changedEvery === 0)}\n`;
    if (chunk.length > 1 << 20 && !out.write(chunk)) {
      chunk = '';
      await once(out, 'drain');
    } else if (chunk.length > 1 << 20) {
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return fs.statSync(file).size;
}
