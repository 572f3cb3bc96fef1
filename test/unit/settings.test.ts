import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SETTING_NAMES, loadSettings, projectRoot } from '../../src/settings.ts';

describe('settings', () => {
  it('has defaults for everything, so make dev needs no configuration', () => {
    const settings = loadSettings({});
    assert.equal(settings.PORT, 3000);
    assert.equal(settings.ETL_SCHEDULE_ID, 'etl-ingest');
    assert.equal(settings.ETL_SCHEDULE_INTERVAL, '6h');
    assert.equal(settings.ETL_TASK_QUEUE, 'etl');
    assert.equal(settings.DATABASE_URL, undefined);
  });

  it('rejects a bad value with the variable name, and treats an empty value as unset', () => {
    assert.throws(() => loadSettings({ PORT: 'eighty' }), /Invalid environment settings: PORT/);
    assert.throws(() => loadSettings({ ETL_SCHEDULE_INTERVAL: 'hourly' }), /ETL_SCHEDULE_INTERVAL: a duration/);
    assert.equal(loadSettings({ PORT: '' }).PORT, 3000);
  });

  it('documents every setting in .env.example', () => {
    const example = fs.readFileSync(path.join(projectRoot, '.env.example'), 'utf8');
    const missing = SETTING_NAMES.filter((name) => !new RegExp(`^#? ?${name}=`, 'm').test(example));
    assert.deepEqual(missing, []);
  });
});
