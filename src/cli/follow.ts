// Follows a started run until it ends: finds its row (GET /runs, where it appears once its first activity
// ran), then polls GET /runs/:id and shows each source's stage, records so far and rate. On a terminal the
// display is redrawn in place; otherwise a line is printed when a source moves to another stage. Ctrl-C
// detaches: the run is not cancelled.
import type { Invocation } from './command.ts';
import { count, duration, plural, table } from './format.ts';
import type { RunDetail, RunPage } from './types.ts';

const POLL_MS = 500;

export interface Followed {
  /** The run as it ended; null when detached before its row appeared. */
  detail: RunDetail | null;
  /** The run's id, once its row appeared. */
  runId: number | null;
  detached: boolean;
}

interface Row {
  source: string;
  stage: string;
  records: number | null;
  attempt: number | null;
}

export async function followRun(inv: Invocation, workflowId: string): Promise<Followed> {
  const live = inv.out.isTerminal && !inv.json;
  const log = !inv.out.isTerminal && !inv.json;
  let detach!: () => void;
  const detached = new Promise<'detached'>((resolve) => (detach = () => resolve('detached')));
  let isDetached = false;
  const onSigint = () => {
    isDetached = true;
    detach();
  };
  process.on('SIGINT', onSigint);
  const display = new Display(live);
  const startedAt = Date.now();
  let runId: number | null = null;
  try {
    while (runId === null) {
      const { body } = await inv.api.get<RunPage>('/runs', { limit: 20 });
      runId = body.data.find((r) => r.workflow_id === workflowId)?.id ?? null;
      if (runId !== null) break;
      display.show([`workflow ${workflowId}: waiting for a worker to start it (${duration(Date.now() - startedAt)})`]);
      if ((await Promise.race([sleep(POLL_MS), detached])) === 'detached')
        return { detail: null, runId, detached: true };
    }
    const rates = new Rates();
    const stages = new Map<string, string>();
    for (;;) {
      const { body } = await inv.api.get<RunDetail>(`/runs/${runId}`);
      if (isDetached) return { detail: body, runId, detached: true };
      if (body.data.status !== 'running') {
        display.clear();
        return { detail: body, runId, detached: false };
      }
      const rows: Row[] =
        body.progress ??
        body.data.sources.map((s) => ({ source: s.source, stage: s.status, records: s.parsed || null, attempt: null }));
      if (log) {
        for (const r of rows) if (stages.get(r.source) !== r.stage) inv.out.line(`${r.source}: ${r.stage}`);
      }
      for (const r of rows) stages.set(r.source, r.stage);
      display.show([
        `run ${runId} running for ${duration(Date.now() - Date.parse(body.data.started_at))}   (Ctrl-C detaches; the run goes on)`,
        '',
        ...table(
          ['source', 'stage', 'records', 'rate'],
          rows.map((r) => [
            r.source,
            r.stage + (r.attempt && r.attempt > 1 ? ` (attempt ${r.attempt})` : ''),
            r.records === null ? '-' : r.stage === 'fetch' ? plural(r.records, 'page') : count(r.records),
            rates.of(r),
          ]),
        ).split('\n'),
      ]);
      if ((await Promise.race([sleep(POLL_MS), detached])) === 'detached')
        return { detail: body, runId, detached: true };
    }
  } finally {
    process.off('SIGINT', onSigint);
    display.done();
  }
}

/** Records per second of each source's current stage, measured since the stage was first seen. */
class Rates {
  readonly #first = new Map<string, { stage: string; records: number; at: number }>();
  of(row: Row): string {
    const first = this.#first.get(row.source);
    // while fetching the count is of pages: a rate of those says little
    if (row.records === null || row.stage === 'fetch') return '-';
    if (!first || first.stage !== row.stage || row.records < first.records) {
      this.#first.set(row.source, { stage: row.stage, records: row.records, at: Date.now() });
      return '-';
    }
    const seconds = (Date.now() - first.at) / 1000;
    const rate = Math.round((row.records - first.records) / seconds);
    return seconds >= 1 && rate > 0 ? `${count(rate)}/s` : '-';
  }
}

/** A block of lines redrawn in place on a terminal (the cursor moved up over the last frame, which is cleared). */
class Display {
  readonly #live: boolean;
  #lines = 0;
  constructor(live: boolean) {
    this.#live = live;
    if (live) process.stdout.write('\x1b[?25l'); // no cursor blinking across the frame
  }
  show(lines: string[]): void {
    if (!this.#live) return;
    const width = process.stdout.columns || 120;
    this.clear();
    process.stdout.write(`${lines.map((l) => l.slice(0, width - 1)).join('\n')}\n`);
    this.#lines = lines.length;
  }
  clear(): void {
    if (this.#live && this.#lines) process.stdout.write(`\x1b[${this.#lines}F\x1b[J`);
    this.#lines = 0;
  }
  done(): void {
    if (this.#live) process.stdout.write('\x1b[?25h');
  }
}

const sleep = (ms: number) => new Promise<'slept'>((resolve) => setTimeout(() => resolve('slept'), ms));
