// Container health probe: exits 0 when HEALTHCHECK_URL (default: the API's /health) answers 2xx.
const url = process.env.HEALTHCHECK_URL ?? `http://127.0.0.1:${process.env.PORT ?? 3000}/health`;
const ok = await fetch(url, { signal: AbortSignal.timeout(4000) }).then(
  (r) => r.ok,
  () => false,
);
process.exit(ok ? 0 : 1);
