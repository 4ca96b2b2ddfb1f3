// The dashboard in Debian's headless Chromium against a running daemon fed with real data (the
// first 30 hours of the LBNL FLEXLAB AHU, SZVAV.csv): the page loads without console errors, the
// AHU's view charts its supply air temperature with the forecast line and interval band, an alert
// raised by observations posted to the API appears on the open page through the live event
// stream, it is acknowledged from the page, and the API shows the ack. Screenshots go to
// $BRICKCAST_ARTIFACTS. Run by ctest (browser.dashboard); exits 77 (skipped) only when
// ../shared/data is absent.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync, existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const binary = process.env.BRICKCAST_BINARY;
const source = process.env.BRICKCAST_SOURCE_DIR;
const data = join(process.env.BRICKCAST_SHARED_DATA, 'hvac-faults', 'SZVAV.csv');
const artifacts = process.env.BRICKCAST_ARTIFACTS || join(tmpdir(), 'brickcast-browser');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

if (!existsSync(data)) {
  console.log(`SKIP: ${data} is absent (a clone without ../shared/data)`);
  process.exit(77);
}
mkdirSync(artifacts, { recursive: true });

function fail(message) {
  console.error('FAIL: ' + message);
  process.exitCode = 1;
  throw new Error(message);
}
function check(ok, message) {
  if (!ok) fail(message);
  console.log('ok - ' + message);
}

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function until(what, fn, timeoutMs) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 250));
  }
  fail(`timed out waiting for ${what} (${last})`);
}

// The daemon: real data converted by `brickcast convert`, replayed into the store at full speed,
// the shipped model and rules plus one rule this test triggers, tokens for read and operate.
const dir = mkdtempSync(join(tmpdir(), 'brickcast-browser-'));
const csv = readFileSync(data, 'utf8').split('\n').slice(0, 1 + 30 * 60).join('\n') + '\n';
writeFileSync(join(dir, 'szvav.csv'), csv);
const convert = spawnSync(binary, ['convert', '--mapping', join(source, 'config/mappings/lbnl-szvav.json'),
  join(dir, 'szvav.csv'), '-o', join(dir, 'szvav.ttl')], { encoding: 'utf8' });
check(convert.status === 0, 'brickcast convert turned the CSV into Turtle messages ' + convert.stderr.slice(-300));
mkdirSync(join(dir, 'rules'));
writeFileSync(join(dir, 'rules', 'browser.json'), JSON.stringify([{
  id: 'browser-sat-very-high', kind: 'threshold', applies_to: 'Air_Handling_Unit', severity: 'critical',
  inputs: { SAT: 'Supply_Air_Temperature_Sensor' }, direction: 'above', limit: '45 degC',
  description: 'supply air far above any set point', action: 'Check the heating valve.',
}]));
const port = await freePort();
writeFileSync(join(dir, 'brickcast.json'), JSON.stringify({
  site: { name: 'browser test', timezone: 'America/Los_Angeles' },
  brick: { models: [join(source, 'models/brick/lbnl-szvav-ahu.ttl')] },
  replay: { files: [join(dir, 'szvav.ttl')], speed: 0 },
  store: { step_seconds: 300, window_steps: 288 },
  forecast: { model: join(source, 'models/hvac-5min.model'), workers: 1 },
  rules: [join(source, 'config/rules'), join(dir, 'rules')],
  alerts: { database: join(dir, 'alerts.db') },
  http: { listen: `127.0.0.1:${port}`, tokens: [{ name: 'viewer', token: 'read-token' }, { name: 'operator', token: 'operate-token', scope: 'operate' }] },
  log: { level: 'warn' },
}));
const daemon = spawn(binary, ['serve', '--config', join(dir, 'brickcast.json')], { stdio: ['ignore', 'inherit', 'inherit'] });
const base = `http://127.0.0.1:${port}`;
const api = async (path, token = 'operate-token', init = {}) => {
  const res = await fetch(base + path, { ...init, headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' } });
  return { status: res.status, body: await res.json().catch(() => null) };
};
const SAT = 'urn:brickcast:lbnl-flexlab#SAT';

let browser;
try {
  await until('the daemon to answer', async () => (await fetch(base + '/healthz')).ok, 30000);
  // Forecasts start once the replayed data fills the model's 8-hour input.
  const forecast = await until('a forecast of SAT', async () => {
    const f = await api('/api/v1/points/' + encodeURIComponent(SAT) + '/forecast', 'read-token');
    return f.status === 200 && f.body.status === 'ok' ? f.body : null;
  }, 240000);
  check(forecast.values.length > 0 && forecast.lower.length === forecast.values.length, 'the API serves a SAT forecast with an interval');

  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
  const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });  // a tablet
  // A plant engineer who has entered an operate token before.
  await context.addInitScript(() => localStorage.setItem('brickcast.token', 'operate-token'));
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  await page.goto(base + '/');
  await page.locator('.tree a', { hasText: 'LBNL FLEXLAB' }).first().waitFor({ timeout: 30000 });
  check(await page.locator('#live').textContent() === 'live' ||
        await page.locator('#live:not(.off)').waitFor({ timeout: 10000 }).then(() => true), 'the live event stream is connected');
  await page.screenshot({ path: join(artifacts, 'overview.png'), fullPage: true });
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement && document.activeElement.className === 'skip'), 'the first Tab reaches the skip link');

  // The AHU: its points charted, SAT with the forecast line and interval band.
  await page.locator('.tree a', { hasText: 'LBNL FLEXLAB' }).first().click();
  const satChart = page.locator('figure.chart', { has: page.locator('h3', { hasText: /^Supply air temperature SAT/ }) });
  await satChart.locator('svg path.measured').waitFor({ state: 'attached', timeout: 30000 });
  check(await satChart.locator('svg path.forecast').count() === 1, 'the SAT chart draws the forecast line');
  check(await satChart.locator('svg path.band').count() === 1, 'the SAT chart draws the interval band');
  check(await satChart.locator('svg line.limit').count() >= 1 && (await satChart.locator('figcaption').textContent()).includes('browser-sat-very-high'),
        'the SAT chart draws the limit of the threshold rule that reads it');
  check(await page.locator('figure.chart').count() >= 7, 'every point of the AHU and its parts has a chart');
  await page.screenshot({ path: join(artifacts, 'equipment.png'), fullPage: true });

  // The alerts page stays open while observations that break the test rule are posted.
  await page.goto(base + '/#/alerts');
  await page.locator('h1', { hasText: 'Alerts' }).waitFor();
  const last = Date.parse((await api('/api/v1/points?limit=1000', 'read-token')).body.points.find((p) => p.id === SAT).last_time);
  const at = (k) => new Date(Math.ceil(last / 300000) * 300000 + k * 300000 + 10000).toISOString();
  const post = await api('/api/v1/observations', 'operate-token', {
    method: 'POST',
    // 130 degF (the point's unit in the Brick model) = 54 degC, over the rule's 45 degC.
    body: JSON.stringify({ observations: [{ point: SAT, time: at(1), value: 130 }, { point: SAT, time: at(2), value: 130 }] }),
  });
  check(post.status === 200 && post.body.accepted === 2, 'observations posted through the API');
  const alert = page.locator('details.alert', { hasText: 'browser-sat-very-high' });
  await alert.waitFor({ timeout: 30000 });
  check(await alert.locator('.badge.firing').count() >= 1, 'the alert appears on the open page, live, as firing');
  await alert.locator('summary').click();
  await alert.locator('form.ack input[name=author]').fill('Plant Tester');
  await alert.locator('form.ack input[name=comment]').fill('checked on site');
  await alert.locator('form.ack button').click();
  await page.locator('details.alert', { hasText: 'acked by Plant Tester' }).waitFor({ timeout: 15000 });
  const listed = await api('/api/v1/alerts?rule=browser-sat-very-high', 'read-token');
  check(listed.body.alerts.length === 1 && listed.body.alerts[0].ack && listed.body.alerts[0].ack.by === 'Plant Tester' &&
        listed.body.alerts[0].ack.comment === 'checked on site', 'the API shows the ack made from the page');
  await page.screenshot({ path: join(artifacts, 'alerts.png'), fullPage: true });

  await page.goto(base + '/#/models');
  await page.locator('dt', { hasText: 'Model in service' }).waitFor();
  check((await page.locator('dl.kv').textContent()).includes('timemixer'), 'the models page names the model in service');
  check(consoleErrors.length === 0, 'no console errors: ' + JSON.stringify(consoleErrors));

  // A read token sees but cannot acknowledge; a wrong token brings the token form up.
  const viewer = await browser.newContext();
  await viewer.addInitScript(() => localStorage.setItem('brickcast.token', 'read-token'));
  const vpage = await viewer.newPage();
  await vpage.goto(base + '/#/alerts?state=all');
  const valert = vpage.locator('details.alert', { hasText: 'browser-sat-very-high' });
  await valert.waitFor({ timeout: 15000 });
  await valert.locator('summary').click();
  await valert.locator('form.silence input[name=author]').fill('Viewer');
  await valert.locator('form.silence button').click();
  await valert.locator('form.silence .error').waitFor({ timeout: 10000 });
  check((await valert.locator('form.silence .error').textContent()).includes('operate'), 'a read token cannot silence: the page says why');
  const wrong = await browser.newContext();
  await wrong.addInitScript(() => localStorage.setItem('brickcast.token', 'nope'));
  const wpage = await wrong.newPage();
  await wpage.goto(base + '/');
  await wpage.locator('#token-form:not([hidden])').waitFor({ timeout: 10000 });
  check(true, 'an unknown token brings up the token form');
  await wpage.screenshot({ path: join(artifacts, 'token.png') });
} catch (e) {
  if (!process.exitCode) { console.error(e); process.exitCode = 1; }
} finally {
  if (browser) await browser.close();
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
console.log(process.exitCode ? 'browser test FAILED' : 'browser test passed; screenshots in ' + artifacts);
