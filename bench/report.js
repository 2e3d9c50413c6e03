#!/usr/bin/env node
// Turns bench/run.sh's runs (RESULTS_DIR/runs/*.json) into RESULTS_DIR/latest.md (medians with
// min–max over the repetitions, iogate/reference and iogate/floor ratios, the goals of issue 5),
// summary.json, and the plots' data with their gnuplot script (plots.gp).
//
// Usage: node bench/report.js --results DIR
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const SERVERS = [
  { id: 'iogate', label: 'iogate' },
  { id: 'socketio-ws', label: 'socket.io (ws)' },
  { id: 'socketio-uws', label: 'socket.io (uWS.js)' },
  { id: 'floor', label: 'floor' },
];
const REFERENCES = ['socketio-ws', 'socketio-uws'];
// A run is flagged when other processes used more than this share of a core during it; runs
// shorter than DISTURBED_MIN_WALL_S are not judged (10 ms ticks make the estimate meaningless).
const DISTURBED_PERCENT = 25;
const DISTURBED_MIN_WALL_S = 1;
// ... or when the load generator was this busy: then it, not the server, set the pace.
const LOADGEN_SATURATED_PERCENT = 90;

function arg(name) {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

// --- figures of one run --------------------------------------------------------------------------

// Each figure: key (stable across servers), label, unit, better ('lower' | 'higher' | null),
// value. `kind` marks the CPU-per-unit figures the floor can be held against.
function figure(key, label, unit, better, value, kind) {
  return { key, label, unit, better, value: Number.isFinite(value) ? value : null, kind };
}

const ms = (us) => (us == null ? null : us / 1000);

// A phase's figures; `phaseName` (rooms) prefixes keys and labels.
function phaseFigures(phaseName, phase, unit) {
  const key = (name) => (phaseName ? `${phaseName}:${name}` : name);
  const label = (text) => (phaseName ? `${phaseName}: ${text}` : text);
  return [
    figure(key('cpu'), label(`server CPU per ${unit}`), 'µs', 'lower', phase.server_cpu_us_per_work, 'cpu'),
    figure(key('rate'), label(`${unit === 'ack' ? 'round trips' : 'deliveries'}/s`), '/s', 'higher', phase.work_per_s, 'rate'),
    figure(key('p50'), label('latency p50'), 'ms', 'lower', ms(phase.latency_us?.p50), 'latency'),
    figure(key('p99'), label('latency p99'), 'ms', 'lower', ms(phase.latency_us?.p99), 'latency'),
    figure(key('loadgen'), label('load generator CPU'), '% of a core', null, phase.loadgen_cpu_percent, 'loadgen'),
  ];
}

function loadgenFigures(result) {
  const phases = result.phases || [];
  const named = (name) => phases.find((phase) => phase.name === name) || {};
  switch (result.scenario) {
    case 'idle': {
      const connect = result.setup?.connect || {};
      const idle = named('idle');
      return [
        figure('rss', 'server RSS per idle connection', 'KiB', 'lower', idle.server_rss_bytes_per_connection / 1024),
        figure('connect_cpu', 'server CPU per connect (handshake + namespace)', 'µs', 'lower',
          connect.server_cpu_us_per_work, 'cpu'),
        figure('connect_rate', 'connects/s', '/s', 'higher', connect.work_per_s, 'rate'),
      ];
    }
    case 'connect': {
      const connect = named('connect');
      return [
        figure('connect_cpu', 'server CPU per connect', 'µs', 'lower', connect.server_cpu_us_per_work, 'cpu'),
        figure('connect_rate', 'connects/s', '/s', 'higher', connect.work_per_s, 'rate'),
        figure('connect_p99', 'handshake latency p99', 'ms', 'lower', ms(connect.handshake_latency_us?.p99), 'latency'),
      ];
    }
    case 'fanout':
      return phaseFigures('', named('fanout'), 'delivery');
    case 'rooms':
      return ['one_room', 'multi_room', 'multi_room_except'].flatMap((name) => phaseFigures(name, named(name), 'delivery'));
    case 'echo':
      return phaseFigures('', named('echo'), 'ack');
    case 'cluster_fanout':
      return clusterFigures(named('fanout'));
    default:
      return [];
  }
}

// Fan-out across two nodes through Redis: the CPU of node A (the publisher's), node B and
// redis-server, summed and each, per broadcast and per delivery. Only the sums are kind 'cpu'
// (plotted); the parts are 'cpu_part'.
function clusterFigures(phase) {
  const perBroadcast = phase.cluster_cpu_us_per_broadcast || {};
  const perDelivery = phase.cluster_cpu_us_per_delivery || {};
  const parts = (key, per, unit) => [
    figure(key, `CPU per ${unit}: both nodes + Redis${unit === 'broadcast' ? ' (per-broadcast cost)' : ''}`, 'µs', 'lower', per.total, 'cpu'),
    figure(`${key}_nodes`, `CPU per ${unit}: both nodes`, 'µs', 'lower', per.nodes, 'cpu_part'),
    figure(`${key}_a`, `CPU per ${unit}: node A (publisher)`, 'µs', 'lower', per.node_a, 'cpu_part'),
    figure(`${key}_b`, `CPU per ${unit}: node B`, 'µs', 'lower', per.node_b, 'cpu_part'),
    figure(`${key}_redis`, `CPU per ${unit}: redis-server`, 'µs', 'lower', per.redis, 'cpu_part'),
  ];
  const faults = [phase.lost, phase.duplicates, phase.misdelivered].every((n) => n != null)
    ? phase.lost + phase.duplicates + phase.misdelivered : null;
  return [
    ...parts('cpu_broadcast', perBroadcast, 'broadcast'),
    ...parts('cpu', perDelivery, 'delivery'),
    figure('rate', 'deliveries/s', '/s', 'higher', phase.work_per_s, 'rate'),
    figure('p50', 'latency p50', 'ms', 'lower', ms(phase.latency_us?.p50), 'latency'),
    figure('p99', 'latency p99', 'ms', 'lower', ms(phase.latency_us?.p99), 'latency'),
    figure('p99_b', 'latency p99 on node B (through Redis)', 'ms', 'lower', ms(phase.nodes?.b?.latency_us?.p99), 'latency'),
    figure('faults', 'lost + duplicated + misdelivered', 'messages', null, faults, 'count'),
    figure('loadgen', 'load generator CPU', '% of a core', null, phase.loadgen_cpu_percent, 'loadgen'),
  ];
}

// The floor's report (bench_floor) mapped onto the figures it is the floor of.
function floorFigures(result) {
  const cpu = result.server?.cpu_us_per_frame;
  if (result.mode === 'echo') {
    return [figure('cpu', 'server CPU per ack', 'µs', 'lower', cpu, 'cpu'),
      figure('rate', 'round trips/s', '/s', 'higher', result.frames_per_s, 'rate')];
  }
  return [figure('cpu', 'server CPU per delivery', 'µs', 'lower', cpu, 'cpu'),
    figure('rate', 'deliveries/s', '/s', 'higher', result.frames_per_s, 'rate')];
}

function describe(run) {
  const p = run.result?.params || {};
  switch (run.result?.scenario) {
    case 'idle': return `${p.conns} idle connections`;
    case 'connect': return `${p.conns} connections over ${p.transport === 'polling+upgrade' ? 'polling, then upgraded to WebSocket' : p.transport}`;
    case 'fanout': return p.rate > 0
      ? `fan-out to ${p.subs} subscribers at ${p.rate} deliveries/s offered`
      : `fan-out to ${p.subs} subscribers, ${p.inflight} broadcast${p.inflight > 1 ? 's' : ''} in flight`;
    case 'rooms': return `${p.rooms} rooms of ${p.size}, ${p.inflight} in flight (multi-room: ${p.rooms_per_multi_broadcast} rooms)`;
    case 'echo': return `echo with ack, ${p.conns} connections`;
    case 'cluster_fanout': return `through Redis: fan-out to ${p.subs} subscribers on 2 nodes ` +
      `(${p.subs_on_a} on A with the publisher, ${p.subs_on_b} on B), ${p.inflight} broadcast${p.inflight > 1 ? 's' : ''} in flight`;
    default: return run.scenario;
  }
}

// Other processes' CPU during the run, as % of one core (the machine's process time minus the
// server's and the load generator's).
function otherProcessesPercent(run) {
  const wall = run.wall_end_s - run.wall_start_s;
  const tick = run.clock_ticks_per_s || 100;
  const machine = run.machine_cpu;
  if (!(wall >= DISTURBED_MIN_WALL_S) || !machine?.before || !machine?.after) return null;
  let used = (machine.after.process_ticks - machine.before.process_ticks) / tick;
  // The server, and in a cluster run node B and redis-server.
  for (const server of [run.server_process, ...Object.values(run.cluster_processes || {})]) {
    if (server?.before && server?.after) {
      used -= (server.after.utime_ticks + server.after.stime_ticks - server.before.utime_ticks - server.before.stime_ticks) / tick;
    }
  }
  const own = run.result?.loadgen;
  if (own) used -= own.cpu_user_s + own.cpu_system_s;
  if (run.server === 'floor' && run.result?.server) used -= run.result.server.cpu_s + run.result.client.cpu_s;
  return Math.max(0, (100 * used) / wall);
}

// --- statistics ----------------------------------------------------------------------------------

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function stats(values) {
  const present = values.filter((value) => value != null);
  if (present.length === 0) return null;
  return { median: median(present), min: Math.min(...present), max: Math.max(...present), n: present.length };
}

function format(value) {
  if (value == null) return '–';
  const magnitude = Math.abs(value);
  if (magnitude >= 10000) return Math.round(value).toLocaleString('en-US');
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  if (magnitude >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

function formatStats(s) {
  if (!s) return '–';
  return s.n > 1 && s.min !== s.max ? `${format(s.median)} (${format(s.min)}–${format(s.max)})` : format(s.median);
}

// --- the report ----------------------------------------------------------------------------------

function main() {
  const resultsDir = arg('results');
  if (!resultsDir) throw new Error('usage: report.js --results DIR');
  const runsDir = path.join(resultsDir, 'runs');
  const runs = fs.readdirSync(runsDir).filter((name) => name.endsWith('.json')).sort()
    .map((name) => JSON.parse(fs.readFileSync(path.join(runsDir, name), 'utf8')));
  if (runs.length === 0) throw new Error(`no runs in ${runsDir}`);

  // Scenarios in the order they ran.
  const scenarios = [];
  for (const run of [...runs].sort((a, b) => a.wall_start_s - b.wall_start_s)) {
    if (!scenarios.includes(run.scenario)) scenarios.push(run.scenario);
  }
  const mode = runs[0].mode;
  const present = SERVERS.filter((server) => runs.some((run) => run.server === server.id));

  // summary[scenario] = { description, figures: [{key,label,unit,better,kind, servers: {id: stats}, reps: {id: [values by rep]}}] }
  const summary = {};
  const flags = [];
  for (const scenario of scenarios) {
    // The floor last: it only fills rows that the servers' figures made.
    const order = (run) => SERVERS.findIndex((server) => server.id === run.server);
    const scenarioRuns = runs.filter((run) => run.scenario === scenario).sort((a, b) => order(a) - order(b) || a.rep - b.rep);
    const described = scenarioRuns.find((run) => run.server !== 'floor' && run.result?.params);
    const entry = { description: described ? describe(described) : scenario, figures: [] };
    for (const run of scenarioRuns) {
      const ok = run.exit_code === 0 && (run.server_end === 'ok' || run.server_end === 'killed');
      if (!ok) {
        const errors = (run.result?.errors || []).slice(0, 3).join('; ');
        flags.push(`**failed**: ${scenario} on ${run.server} (rep ${run.rep}): exit ${run.exit_code}, ` +
          `server ${run.server_end}${errors ? `: ${errors}` : ''}`);
      }
      const other = otherProcessesPercent(run);
      if (other != null && other > DISTURBED_PERCENT) {
        flags.push(`disturbed: ${scenario} on ${run.server} (rep ${run.rep}): other processes used ${other.toFixed(0)}% of a core`);
      }
      if (!run.result) continue;
      const figures = run.server === 'floor' ? floorFigures(run.result) : loadgenFigures(run.result);
      for (const f of figures) {
        if (f.kind === 'loadgen' && f.value != null && f.value >= LOADGEN_SATURATED_PERCENT) {
          flags.push(`load generator saturated (${f.value.toFixed(0)}% of a core): ${scenario} ${f.key} on ` +
            `${run.server} (rep ${run.rep}) — that server's rate and latency are lower bounds`);
        }
        let row = entry.figures.find((existing) => existing.key === f.key);
        if (!row) {
          if (run.server === 'floor') continue;
          row = { key: f.key, label: f.label, unit: f.unit, better: f.better, kind: f.kind, reps: {} };
          entry.figures.push(row);
        }
        (row.reps[run.server] ||= [])[run.rep - 1] = f.value;
      }
    }
    for (const row of entry.figures) {
      row.servers = {};
      for (const server of present) row.servers[server.id] = stats(row.reps[server.id] || []);
      // Ratios per repetition (the runs of one repetition ran back to back), then their median.
      row.ratios = {};
      for (const other of [...REFERENCES, 'floor']) {
        const mine = row.reps.iogate || [];
        const theirs = row.reps[other] || [];
        const paired = mine.map((value, rep) => (value != null && theirs[rep] ? value / theirs[rep] : null));
        row.ratios[other] = stats(paired);
      }
    }
    summary[scenario] = entry;
  }

  const machine = fs.existsSync(path.join(resultsDir, 'machine.txt'))
    ? fs.readFileSync(path.join(resultsDir, 'machine.txt'), 'utf8') : '';
  const machineLine = (key) => (machine.match(new RegExp(`^${key}:\\s*(.*)$`, 'm')) || [])[1] || '?';
  const reps = Math.max(...runs.map((run) => run.rep));

  const lines = [];
  lines.push('# iogate against socket.io 4.8.4 and the floor');
  lines.push('');
  lines.push(`\`bench/run.sh --${mode}\`, ${machineLine('date')}; ${reps} repetition${reps > 1 ? 's' : ''}, servers interleaved; ` +
    `git ${machineLine('git')} (${machineLine('uncommitted changes under src/')} uncommitted files under src/).`);
  lines.push(`Machine: ${machineLine('Model name')}, ${machineLine('nproc')} cores, ${machineLine('memory')}, ` +
    `${machineLine('kernel')}; ${machineLine('mode').replace(/^.*iogate threads: /, 'iogate threads: ')}; ` +
    `node ${machineLine('node')}, uWebSockets.js ${machineLine('uWebSockets.js')}. Details: [machine.txt](machine.txt).`);
  lines.push('');
  lines.push('Server CPU is the server process\'s on-CPU time (all threads) over the measured window, divided by ' +
    'the deliveries, acks or connections in it. Figures are medians over the repetitions with min–max; ' +
    'ratios are iogate ÷ the other, per repetition, then the median. "floor" is bench_floor: the same ' +
    'frames over loopback TCP with bare send()/writev()/recv(), no protocol.');
  lines.push('');

  lines.push('## Goals (issue 5)');
  lines.push('');
  lines.push(...goalsTable(summary));
  lines.push('');

  lines.push('## Every figure');
  lines.push('');
  const header = ['figure', ...present.map((server) => server.label),
    ...REFERENCES.filter((id) => present.some((server) => server.id === id))
      .map((id) => `iogate ÷ ${SERVERS.find((server) => server.id === id).label}`),
    ...(present.some((server) => server.id === 'floor') ? ['iogate ÷ floor'] : [])];
  lines.push(`| ${header.join(' | ')} |`);
  lines.push(`| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`);
  for (const scenario of scenarios) {
    const entry = summary[scenario];
    lines.push(`| **${entry.description}** |${' |'.repeat(header.length - 1)}`);
    for (const row of entry.figures) {
      const cells = [`${row.label} (${row.unit})`];
      for (const server of present) cells.push(formatStats(row.servers[server.id]));
      for (const id of REFERENCES) {
        if (present.some((server) => server.id === id)) cells.push(row.better ? formatStats(row.ratios[id]) : '');
      }
      if (present.some((server) => server.id === 'floor')) cells.push(row.kind === 'cpu' ? formatStats(row.ratios.floor) : '');
      lines.push(`| ${cells.join(' | ')} |`);
    }
  }
  lines.push('');
  lines.push('Lower is better for CPU, memory and latency; higher for rates. The load generator\'s CPU tells who ' +
    'set the pace: near 100% of a core, the rate and latency measured the load generator.');
  lines.push('');
  lines.push('## Flags');
  lines.push('');
  lines.push(...(flags.length ? flags.map((flag) => `- ${flag}`) : ['- none: every run completed, nothing lost or duplicated, no run disturbed']));
  lines.push('');
  const charts = writePlots(resultsDir, scenarios, summary, present);
  const alt = { cpu: 'server CPU per unit of work', latency: 'latency p99', rss: 'RSS per idle connection' };
  for (const chart of charts) {
    lines.push(`![${alt[chart]}](${chart}.png)`);
    lines.push('');
  }
  fs.writeFileSync(path.join(resultsDir, 'latest.md'), lines.join('\n'));
  fs.writeFileSync(path.join(resultsDir, 'summary.json'), `${JSON.stringify({ mode, reps, scenarios: summary, flags }, null, 1)}\n`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

// The goals of issue 5, checked against this run (informational: never a failure).
function goalsTable(summary) {
  // The scenario of that kind with the largest N (the number after the prefix).
  const largest = (prefix, contains = '') => Object.keys(summary)
    .filter((name) => name.startsWith(prefix) && name.includes(contains))
    .sort((a, b) => parseInt(a.slice(prefix.length), 10) - parseInt(b.slice(prefix.length), 10))
    .pop();
  const goals = [
    { what: 'RSS per idle connection ≤ 2 KiB and ≤ 0.2× uWS.js', scenario: largest('idle_'), key: 'rss',
      absolute: 2, checks: [['socketio-uws', 0.2]] },
    { what: 'CPU per connect ≤ 80 µs and ≤ 0.25× uWS.js', scenario: largest('idle_'), key: 'connect_cpu',
      absolute: 80, checks: [['socketio-uws', 0.25]] },
    { what: 'fan-out, 1 in flight: CPU per delivery ≤ 1.1× the send floor', scenario: largest('fanout_', '_inflight1'),
      key: 'cpu', checks: [['floor', 1.1]] },
    { what: 'fan-out, 8 in flight: CPU per delivery ≤ 1.2× the writev floor and ≤ 0.6× uWS.js',
      scenario: largest('fanout_', '_inflight8'), key: 'cpu', checks: [['floor', 1.2], ['socketio-uws', 0.6]] },
    { what: 'echo: CPU per ack ≤ 1.5× the floor and ≤ 0.35× uWS.js', scenario: largest('echo_'), key: 'cpu',
      checks: [['floor', 1.5], ['socketio-uws', 0.35]] },
    { what: 'fixed-rate fan-out: latency p99 ≤ 0.5× uWS.js', scenario: largest('fanout_', '_rate'), key: 'p99',
      checks: [['socketio-uws', 0.5]] },
    // One row per cluster scenario that ran (1 and 8 in flight).
    ...(Object.keys(summary).some((name) => name.startsWith('cluster_'))
      ? Object.keys(summary).filter((name) => name.startsWith('cluster_')) : [undefined]).map((scenario) => ({
      what: 'through Redis: per-broadcast cost (CPU of both nodes + Redis) ≤ 0.5× socket.io+uWS.js with the Redis adapter',
      scenario, key: 'cpu_broadcast', checks: [['socketio-uws', 0.5]] })),
  ];
  const lines = ['| goal | scenario | iogate | ratio to | ratio | met |', '| --- | --- | ---: | --- | ---: | :---: |'];
  for (const goal of goals) {
    const row = goal.scenario && summary[goal.scenario].figures.find((f) => f.key === goal.key);
    if (!row) {
      lines.push(`| ${goal.what} | not run | | | | |`);
      continue;
    }
    const mine = row.servers.iogate;
    const ratios = goal.checks.map(([versus, limit]) => ({ versus, limit, ratio: row.ratios[versus] }));
    const verdicts = [
      goal.absolute != null && mine ? mine.median <= goal.absolute : null,
      ...ratios.map(({ ratio, limit }) => (ratio ? ratio.median <= limit : null)),
    ].filter((verdict) => verdict != null);
    const met = verdicts.length === 0 ? '?' : verdicts.every(Boolean) ? 'yes' : 'no';
    const label = (id) => SERVERS.find((server) => server.id === id).label;
    lines.push(`| ${goal.what} | ${goal.scenario} | ${formatStats(mine)} ${row.unit} | ` +
      `${ratios.map(({ versus }) => label(versus)).join(', ')} | ${ratios.map(({ ratio }) => formatStats(ratio)).join(', ')} | ${met} |`);
  }
  return lines;
}

// Clustered bar charts (one cluster per figure, one bar per server) for gnuplot; returns the
// names of the charts it wrote (a chart without any figure in this run is left out).
function writePlots(resultsDir, scenarios, summary, present) {
  const written = [];
  const tables = {
    cpu: { kinds: ['cpu'], title: 'server CPU per delivery, ack or connect (µs, log scale)', log: true },
    latency: { keys: ['p99', 'connect_p99', 'one_room:p99', 'multi_room:p99', 'multi_room_except:p99'],
      title: 'latency p99 (ms, log scale)', log: true },
    rss: { keys: ['rss'], title: 'server RSS per idle connection (KiB)', log: false },
  };
  const script = ['# Generated by bench/report.js; run in this folder: gnuplot plots.gp',
    'set terminal pngcairo size 1400,700 noenhanced font ",10"',
    'set style data histograms', 'set style histogram clustered gap 1', 'set style fill solid 0.85 border -1',
    'set datafile separator "\\t"', 'set datafile missing "?"', 'set key outside right top', 'set grid ytics',
    'set xtics rotate by -30 left', 'set bmargin 12'];
  for (const [name, table] of Object.entries(tables)) {
    const rows = [];
    for (const scenario of scenarios) {
      for (const row of summary[scenario].figures) {
        if ((table.kinds ? table.kinds.includes(row.kind) : true) && (!table.keys || table.keys.includes(row.key))) {
          rows.push({ label: `${scenario}${row.key.includes(':') ? ` ${row.key.split(':')[0]}` : ''}`, row });
        }
      }
    }
    // Only the servers with a figure in this chart get a bar (the floor has no latency or RSS).
    const columns = present.filter((server) => rows.some(({ row }) => row.servers[server.id]));
    if (columns.length === 0) {
      // Nothing to draw (SCENARIOS left out every figure of this chart): no stale PNG either.
      fs.rmSync(path.join(resultsDir, `${name}.dat`), { force: true });
      fs.rmSync(path.join(resultsDir, `${name}.png`), { force: true });
      continue;
    }
    const data = [['figure', ...columns.map((server) => server.label)].join('\t'),
      ...rows.map(({ label, row }) => [label, ...columns.map((server) => row.servers[server.id]?.median ?? '?')].join('\t'))];
    fs.writeFileSync(path.join(resultsDir, `${name}.dat`), `${data.join('\n')}\n`);
    written.push(name);
    script.push('', `set output "${name}.png"`, `set title "${table.title}"`,
      table.log ? 'set logscale y' : 'unset logscale y',
      `plot for [column=2:${columns.length + 1}] "${name}.dat" using column:xtic(1) title columnheader`);
  }
  fs.writeFileSync(path.join(resultsDir, 'plots.gp'), `${script.join('\n')}\n`);
  return written;
}

main();
