// The physical reference for GET /data in `make bench`: node:http and pg, nothing else, serving the first
// page the API serves (the same SQL, the same columns, 50 rows plus the one that says another page exists)
// from the same database. No validation, routing, logging, metrics or problem documents: what is left is
// what Node and PostgreSQL cost on this machine, so the API's figures can be read as ratios to it.
//   DATABASE_URL=... PORT=... node bench/bare-handler.ts
import http from 'node:http';
import pg from 'pg';
import { RECORD_ROW } from '../src/db/queries/records.ts';

const LIMIT = 50;
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const sql = `SELECT ${RECORD_ROW} FROM record WHERE deleted_at IS NULL ORDER BY record.id ASC LIMIT ${LIMIT + 1}`;

const server = http.createServer((_req, res) => {
  pool.query(sql).then(
    ({ rows }) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: rows.slice(0, LIMIT), has_more: rows.length > LIMIT }));
    },
    (error: Error) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end(error.message);
    },
  );
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
process.once('SIGTERM', () => {
  server.close();
  void pool.end().then(() => process.exit(0));
});
