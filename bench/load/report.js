#!/usr/bin/env node
// Turns the two fanout.js results (iogate, node) into a side-by-side table with ratios: printed
// to stdout as text and written as markdown (machine, date, parameters, numbers, errors).
//
// Usage: node report.js --iogate A.json --node B.json [--out latest.md] [--iogate-log FILE]
//          [--node-log FILE] [--iogate-bin PATH] [--iogate-shards N] [--loadavg-before "a b c"]
//          [--loadavg-after "a b c"] [--git-rev "hash date"] [--git-dirty "git status --porcelain"]
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

function arg(name) {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : undefined;
}

function readJson(file) {
  if (!file || !fs.existsSync(file)) return null;
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

const io = readJson(arg('iogate'));
const nd = readJson(arg('node'));
if (!io && !nd) {
  console.error('report.js: no results to report');
  process.exit(1);
}

const get = (obj, keyPath) => keyPath.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
const MiB = (b) => (b == null ? null : b / 2 ** 20);
const KiB = (b) => (b == null ? null : b / 1024);

// [section, label, unit, better ('high' | 'low' | ''), value extractor]
const p = (keyPath, f = (x) => x) => (r) => {
  const v = get(r, keyPath);
  return v == null ? null : f(v);
};
const params = (io || nd).params;
const rows = [
  ['Connections', `connect + 2 joins, ${params.conns} clients`, 's', 'low', p('connect.seconds')],
  ['Connections', 'server RSS idle (before connecting)', 'MiB', 'low', p('rss.beforeConnect', MiB)],
  ['Connections', 'server RSS after connecting', 'MiB', 'low', p('rss.afterConnect', MiB)],
  ['Connections', 'RSS per connection', 'KiB', 'low', p('rss.bytesPerConnection', KiB)],
  ['Connections', 'server RSS after all phases', 'MiB', 'low', p('rss.afterRun', MiB)],
  ['Connections', 'server RSS after closing every client', 'MiB', 'low', p('rss.afterClose', MiB)],
  ['Steady fanout', 'offered deliveries', 'msg/s', '', p('phases.steady.offeredDeliveriesPerSecond')],
  ['Steady fanout', 'delivered', 'msg/s', 'high', p('phases.steady.deliveredPerSecond')],
  ['Steady fanout', 'lost (never delivered)', 'msg', 'low', p('phases.steady.lost')],
  ['Steady fanout', 'latency p50', 'ms', 'low', p('phases.steady.latencyMs.p50')],
  ['Steady fanout', 'latency p99', 'ms', 'low', p('phases.steady.latencyMs.p99')],
  ['Steady fanout', 'latency max', 'ms', 'low', p('phases.steady.latencyMs.max')],
  ['Steady fanout', 'server CPU', '% of a core', 'low', p('phases.steady.serverCpuPercent')],
  ['Steady fanout', 'server CPU per delivered msg', 'µs', 'low', p('phases.steady.serverCpuMicrosPerDelivery')],
  ['Steady fanout', 'load generator CPU', '% of a core', '', p('phases.steady.loadgenCpuPercent')],
  ['Steady fanout', 'kernel irq/softirq CPU (loopback TCP)', '% of a core', '', p('phases.steady.irqCpuPercent')],
  ['Steady fanout', 'other processes CPU (noise)', '% of a core', '', p('phases.steady.otherCpuPercent')],
  ['Burst fanout', 'burst drain time p50', 'ms', 'low', p('phases.burst.burstDrainMs.p50')],
  ['Burst fanout', 'burst drain time max', 'ms', 'low', p('phases.burst.burstDrainMs.max')],
  ['Burst fanout', 'delivery rate within a burst', 'msg/s', 'high', p('phases.burst.burstDeliveriesPerSecond')],
  ['Burst fanout', 'lost (never delivered)', 'msg', 'low', p('phases.burst.lost')],
  ['Burst fanout', 'latency p50', 'ms', 'low', p('phases.burst.latencyMs.p50')],
  ['Burst fanout', 'latency p99', 'ms', 'low', p('phases.burst.latencyMs.p99')],
  ['Burst fanout', 'server CPU per delivered msg', 'µs', 'low', p('phases.burst.serverCpuMicrosPerDelivery')],
  ['Burst fanout', 'server CPU while draining', '% of a core', '', p('phases.burst.serverBusyDuringDrainPercent')],
  ['Burst fanout', 'load generator CPU while draining', '% of a core', '', p('phases.burst.loadgenBusyDuringDrainPercent')],
  ['Burst fanout', 'other processes CPU (noise, whole phase)', '% of a core', '', p('phases.burst.otherCpuPercent')],
  ['Echo (ack round trips)', 'throughput', 'req/s', 'high', p('phases.echo.requestsPerSecond')],
  ['Echo (ack round trips)', 'latency p50', 'ms', 'low', p('phases.echo.latencyMs.p50')],
  ['Echo (ack round trips)', 'latency p99', 'ms', 'low', p('phases.echo.latencyMs.p99')],
  ['Echo (ack round trips)', 'server CPU', '% of a core', '', p('phases.echo.serverCpuPercent')],
  ['Echo (ack round trips)', 'server CPU per request', 'µs', 'low', p('phases.echo.serverCpuMicrosPerRequest')],
  ['Echo (ack round trips)', 'load generator CPU', '% of a core', '', p('phases.echo.loadgenCpuPercent')],
  ['Echo (ack round trips)', 'kernel irq/softirq CPU (loopback TCP)', '% of a core', '', p('phases.echo.irqCpuPercent')],
  ['Echo (ack round trips)', 'other processes CPU (noise)', '% of a core', '', p('phases.echo.otherCpuPercent')],
];

function fmt(v) {
  if (v == null || Number.isNaN(v)) return '—';
  const a = Math.abs(v);
  if (a >= 10000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a === 0) return '0';
  return v.toFixed(3);
}

function ratio(a, b) {
  if (a == null || b == null) return '—';
  if (b === 0) return a === 0 ? '1.00×' : '—';
  const r = a / b;
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
}

const table = rows.map(([section, label, unit, better, fn]) => {
  const a = io ? fn(io) : null;
  const b = nd ? fn(nd) : null;
  return {
    section,
    metric: `${label} (${unit})`,
    better: better === 'high' ? 'higher' : better === 'low' ? 'lower' : '',
    iogate: fmt(a),
    node: fmt(b),
    ratio: ratio(a, b),
  };
});

// ---------------------------------------------------------------------------------------------
// Machine / build description

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

function osName() {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(fs.readFileSync('/etc/os-release', 'utf8'));
    return m ? m[1] : os.type();
  } catch {
    return os.type();
  }
}

function pkgVersion(name) {
  try {
    return require(path.join(__dirname, 'node_modules', name, 'package.json')).version;
  } catch {
    return '?';
  }
}

const repo = path.resolve(__dirname, '..', '..');
// run.sh passes what the tree looked like when the run started; computed here otherwise.
const rev = arg('git-rev') ?? sh('git', ['-C', repo, 'log', '-1', '--format=%h %cI']);
const changed = (arg('git-dirty') ?? sh('git', ['-C', repo, 'status', '--porcelain', '--untracked-files=no', '--', 'src']))
  .split('\n')
  .map((l) => l.replace(/^\s*\S+\s+/, '').trim())
  .filter(Boolean);
const dirty = changed.length ? ` + uncommitted changes in ${changed.map((f) => `\`${f}\``).join(', ')}` : '';
let builtAt = '';
try {
  builtAt = fs.statSync(arg('iogate-bin')).mtime.toISOString();
} catch {}
const cpus = os.cpus();
const machine = [
  ['CPU', `${cpus.length} × ${cpus[0] ? cpus[0].model : '?'}`],
  ['Memory', `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
  ['OS', `${osName()}, Linux ${os.release()}`],
  ['Load average (1/5/15 min) before / after the run', `${arg('loadavg-before') || '?'} / ${arg('loadavg-after') || os.loadavg().map((x) => x.toFixed(2)).join(' ')}`],
  ['Node', process.version],
  ['Reference server', `socket.io ${pkgVersion('socket.io')} (engine.io ${pkgVersion('engine.io')}), single process`],
  ['Load generator', `ws ${pkgVersion('ws')}, raw Engine.IO v4 / Socket.IO v5 frames, one process`],
  ['iogate', `${arg('iogate-bin') ? path.relative(repo, arg('iogate-bin')) : 'integration_server'} (Release, built ${builtAt || '?'}), --shards ${arg('iogate-shards') || process.env.IOGATE_SHARDS || '?'}`],
  ...(arg('iogate-built-from') ? [['iogate built from', arg('iogate-built-from')]] : []),
  ['Source tree when the run started', `${rev || '?'}${dirty}`],
];

const date = (io || nd).date;
const paramText = [
  `CONNS=${params.conns} receivers (+1 sender), ROOMS=${params.rooms} (${Math.floor(params.conns / params.rooms)} receivers per room), every receiver also in room \`all\``,
  `steady: STEADY_RATE=${params.steadyRate} broadcasts/s round-robin over the rooms for STEADY_SECONDS=${params.steadySeconds} after WARMUP_SECONDS=${params.warmupSeconds}`,
  `burst: BURST_SIZE=${params.burstSize} broadcasts to \`all\` every BURST_INTERVAL_MS=${params.burstIntervalMs} for BURST_SECONDS=${params.burstSeconds}`,
  `echo: ECHO_CLIENTS=${params.echoClients} closed-loop \`message-with-ack\` clients for ECHO_SECONDS=${params.echoSeconds}`,
  `PAYLOAD_BYTES=${params.payloadBytes} of padding per message, DRAIN_TIMEOUT_MS=${params.drainTimeoutMs}, pingInterval 2000 / pingTimeout 3000 on both servers`,
  `QUIET_THRESHOLD_PERCENT=${params.quietThresholdPercent}, QUIET_MAX_WAIT_SECONDS=${params.quietMaxWaitSeconds}, PHASE_RETRIES=${params.phaseRetries}`,
];

function serverLogNotes(file, listeningRe) {
  if (!file || !fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() && !listeningRe.test(line));
}
const notes = [];
{
  // The binary may predate the tree described above (others keep committing).
  const headTime = Date.parse((rev || '').split(' ')[1] || '');
  if (builtAt && Number.isFinite(headTime) && Date.parse(builtAt) < headTime) {
    notes.push(`the iogate binary (built ${builtAt}) is older than the HEAD commit of the run (${rev}): it was built from an earlier tree`);
  }
}
for (const [name, r, log] of [['iogate', io, arg('iogate-log')], ['node', nd, arg('node-log')]]) {
  if (!r) {
    notes.push(`${name}: no result`);
    continue;
  }
  for (const e of r.errors || []) notes.push(`${name}: ${e}`);
  for (const [phaseName, phase] of Object.entries(r.phases || {})) {
    if (phase.otherCpuPercent > 20) {
      notes.push(`${name} ${phaseName}: other processes used ${phase.otherCpuPercent}% of a core during the phase (shared machine): treat this phase's numbers as noisy`);
    }
    const attempts = phase.attemptsNoisePercent || [];
    if (attempts.length > 1) {
      notes.push(`${name} ${phaseName}: ran ${attempts.length} times (other processes used ${attempts.join('% / ')}% of a core); the least disturbed attempt is reported`);
    }
    const lg = phase.loadgenBusyDuringDrainPercent ?? phase.loadgenCpuPercent;
    if (lg >= 85) {
      notes.push(`${name} ${phaseName}: the load generator was ${lg}% busy, so it (not the server) likely bounds this phase's throughput`);
    }
  }
  const lines = serverLogNotes(log, /listening on port/);
  if (lines.length) {
    notes.push(`${name}: server printed ${lines.length} log line(s), first: \`${lines[0].slice(0, 200)}\``);
  }
}

// ---------------------------------------------------------------------------------------------
// Output

function textTable() {
  const headers = ['metric', 'better', 'iogate', 'node', 'iogate/node'];
  const body = [];
  let section = '';
  for (const row of table) {
    if (row.section !== section) {
      section = row.section;
      body.push([`[${section}]`, '', '', '', '']);
    }
    body.push([`  ${row.metric}`, row.better, row.iogate, row.node, row.ratio]);
  }
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 || i === 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function markdown() {
  const out = [];
  out.push('# iogate vs Node socket.io — load benchmark');
  out.push('');
  out.push(`Generated by \`bench/run.sh\` on ${date}. Both servers ran one after the other on the same machine with`);
  out.push('the same parameters; the load generator (`bench/load/fanout.js`) ran on the same machine too.');
  out.push('Ratios are iogate / node; the "better" column says which direction is better. See `bench/README.md`');
  out.push('for what each number means and the caveats.');
  out.push('');
  out.push('## Machine');
  out.push('');
  for (const [k, v] of machine) out.push(`- ${k}: ${v}`);
  out.push('');
  out.push('## Parameters');
  out.push('');
  for (const t of paramText) out.push(`- ${t}`);
  out.push('');
  out.push('## Results');
  out.push('');
  let section = '';
  for (const row of table) {
    if (row.section !== section) {
      if (section) out.push('');
      section = row.section;
      out.push(`### ${section}`);
      out.push('');
      out.push('| metric | better | iogate | node | iogate/node |');
      out.push('|---|---|---:|---:|---:|');
    }
    out.push(`| ${row.metric} | ${row.better} | ${row.iogate} | ${row.node} | ${row.ratio} |`);
  }
  out.push('');
  out.push('## Errors and anomalies');
  out.push('');
  if (notes.length) for (const n of notes) out.push(`- ${n}`);
  else out.push('None: every expected message was delivered, every request answered, no unexpected disconnects.');
  out.push('');
  out.push('Raw results: `latest-iogate.json`, `latest-node.json` (and each server\'s log) next to this file.');
  out.push('');
  return out.join('\n');
}

console.log(`\niogate vs node — ${date}`);
console.log(textTable());
if (notes.length) {
  console.log('\nErrors / anomalies:');
  for (const n of notes) console.log(`  - ${n}`);
}
const outFile = arg('out');
if (outFile) fs.writeFileSync(outFile, markdown());
