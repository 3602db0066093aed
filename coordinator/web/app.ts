// The dashboard page: a hash router over the coordinator's read-only JSON views, uPlot charts
// fed by history and then by server-sent events. Text goes in through textContent only.
import uPlot from 'uplot';
import { formatAgo } from '../src/cli/render.js';

type Json = Record<string, unknown>;
interface MetricPoint { key: string; value: number; step: number; timestampMs: number }
interface Refusal { site: string; reason: string; message: string; count: number }
interface UpdateSummary { site: string; payloadSha256: string; numExamples: number }
interface SiteFailure { site: string; reason: string; message: string }
interface Round {
  number: number; state: string; selectedSites: string[]; accepted: UpdateSummary[]; refused: Refusal[]; siteFailures?: SiteFailure[];
  openedAtMs: number; closedAtMs: number; failureReason: string; committedVersion: number; metrics: Record<string, number>;
}
interface Run {
  id: string; federation: string; status: string; rounds: number; currentRound: number;
  startedAtMs: number; endedAtMs: number; failureReason: string; settings: { strategy: string } | null;
}

const main = document.getElementById('main') as HTMLElement;
const live = document.getElementById('live') as HTMLElement;
let leave: Array<() => void> = [];

function h(tag: string, attrs: Record<string, string> = {}, ...children: Array<Node | string | null>): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) if (c !== null) el.append(c);
  return el;
}
const link = (href: string, text: string) => h('a', { href }, text);
const short = (state: string) => state.replace(/^(ROUND_STATE|RUN_STATUS|SITE_STATUS)_/, '');
const badge = (state: string) => h('span', { class: `state state-${short(state)}` }, short(state));
const time = (ms: number) => (ms > 0 ? new Date(ms).toLocaleString() : '—');
const seconds = (from: number, to: number) => (from > 0 && to > 0 ? `${((to - from) / 1000).toFixed(1)} s` : '—');

function table(headers: string[], rows: Array<Array<Node | string>>, empty: string): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'muted' }, empty);
  return h('table', {}, h('thead', {}, h('tr', {}, ...headers.map((t) => h('th', {}, t)))), h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c))))));
}

async function get<T>(path: string): Promise<T> {
  const res = await fetch(path, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`${res.status}: ${(await res.text()).trim()}`);
  return (await res.json()) as T;
}

function show(...nodes: Node[]): void {
  main.replaceChildren(...nodes);
}

async function federationsPage(): Promise<void> {
  const list = await get<Array<Json & { name: string; sites: string[]; revokedSites: string[]; settings: { strategy: string } | null; latestRun: { id: string; status: string; currentRound: number; rounds: number } | null }>>('/api/federations');
  show(
    h('h1', {}, 'Federations'),
    table(
      ['name', 'strategy', 'members', 'status', 'latest run'],
      list.map((f) => [
        link(`#/federation/${encodeURIComponent(f.name)}`, f.name),
        f.settings?.strategy ?? '',
        members(f),
        f.latestRun === null ? h('span', { class: 'muted' }, 'no runs') : badge(f.latestRun.status),
        f.latestRun === null ? '' : link(`#/run/${f.latestRun.id}`, `${f.latestRun.id} (round ${f.latestRun.currentRound}/${f.latestRun.rounds})`),
      ]),
      'No federations yet.',
    ),
  );
}

async function federationPage(name: string): Promise<void> {
  const { federation, runs, versions } = await get<{
    federation: { name: string; description: string; sites: string[]; revokedSites: string[]; settings: Json & { strategy: string; rounds: number; minSites: number } };
    runs: Run[];
    versions: Array<{ version: number; parentVersion: number; runId: string; round: number; sha256: string; size: number; strategy: string; contributions: UpdateSummary[]; createdAtMs: number }>;
  }>(`/api/federations/${encodeURIComponent(name)}`);
  const s = federation.settings;
  show(
    h('h1', {}, `Federation ${federation.name}`),
    h('div', { class: 'facts' }, ...[['strategy', s.strategy], ['rounds', String(s.rounds)], ['quorum', String(s.minSites)], ['members', members(federation)]].map(([k, v]) => h('div', {}, h('span', {}, k ?? ''), v ?? ''))),
    h('h2', {}, 'Runs'),
    table(['run', 'status', 'round', 'started', 'ended', 'reason'], runs.map((r) => [link(`#/run/${r.id}`, r.id), badge(r.status), `${r.currentRound}/${r.rounds}`, time(r.startedAtMs), time(r.endedAtMs), r.failureReason]), 'No runs yet.'),
    h('h2', {}, 'Model versions'),
    table(
      ['version', 'parent', 'run / round', 'contributions', 'sha-256', 'created'],
      [...versions].reverse().map((v) => [
        `v${v.version}`,
        v.parentVersion > 0 ? `v${v.parentVersion}` : '—',
        v.runId === '' ? 'initial' : h('span', {}, link(`#/run/${v.runId}`, v.runId), ` #${v.round}`),
        h('div', { class: 'mono' }, ...v.contributions.map((c) => h('div', { class: 'contribution', title: c.payloadSha256 }, `${c.site} ${c.payloadSha256.slice(0, 12)} (${c.numExamples})`))),
        h('span', { class: 'mono', title: v.sha256 }, v.sha256.slice(0, 16)),
        time(v.createdAtMs),
      ]),
      'No versions.',
    ),
  );
}

const WHOLE_NUMBER_TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000];

/** One chart: x = step (sites) or round (global), one series per name. */
class SeriesChart {
  private readonly series = new Map<string, Map<number, number>>();
  private plot: uPlot | undefined;
  private pending = false;
  readonly element: HTMLElement;
  private readonly body: HTMLElement;

  private readonly emptyNote: HTMLElement;

  constructor(title: string, private readonly xLabel: string) {
    this.body = h('div', { 'data-chart': title });
    this.emptyNote = h('p', { class: 'muted chart-empty' });
    this.emptyNote.hidden = true;
    this.element = h('div', { class: 'chart' }, h('h3', {}, title), this.emptyNote, this.body);
  }

  /** Shown while the chart has no point: what would feed it. */
  setEmptyNote(text: string): void {
    this.emptyNote.textContent = text;
  }

  add(name: string, x: number, y: number): void {
    let s = this.series.get(name);
    if (s === undefined) this.series.set(name, (s = new Map()));
    s.set(x, y);
    this.schedule();
  }

  clear(): void {
    this.series.clear();
    this.schedule();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  private draw(): void {
    const names = [...this.series.keys()].sort();
    const xs = [...new Set(names.flatMap((n) => [...(this.series.get(n)?.keys() ?? [])]))].sort((a, b) => a - b);
    const data: uPlot.AlignedData = [xs, ...names.map((n) => xs.map((x) => this.series.get(n)?.get(x) ?? null))];
    // Set once drawn, so a reader of data-points sees a chart that holds them.
    const points = String(names.reduce((sum, n) => sum + (this.series.get(n)?.size ?? 0), 0));
    this.emptyNote.hidden = points !== '0' || this.emptyNote.textContent === '';
    const palette = ['#0e7490', '#b45309', '#7c3aed', '#15803d', '#be123c', '#1d4ed8', '#4d7c0f', '#a21caf'];
    const shape = names.join('\n');
    if (this.plot !== undefined && this.body.dataset['series'] === shape) {
      this.plot.setData(data);
      this.body.dataset['points'] = points;
      return;
    }
    this.plot?.destroy();
    this.body.dataset['series'] = shape;
    this.plot = new uPlot(
      {
        width: Math.max(400, this.body.clientWidth || 520),
        height: 240,
        scales: { x: { time: false } },
        // Steps and rounds are whole numbers: no ticks in between.
        axes: [{ label: this.xLabel, incrs: WHOLE_NUMBER_TICKS }, {}],
        series: [{ label: this.xLabel }, ...names.map((n, i) => ({ label: n, stroke: palette[i % palette.length] ?? '#333', width: 2, spanGaps: true, points: { show: xs.length < 40 } }))],
      },
      data,
      this.body,
    );
    this.body.dataset['points'] = points;
  }
}

async function runPage(id: string): Promise<void> {
  let key = 'loss';
  const siteChart = new SeriesChart('Per site (by step)', 'step');
  const globalChart = new SeriesChart('Global (by round)', 'round');
  // Rounds carry the metrics sites return from `train` (averaged by examples) and the strategy's
  // own; points logged with `task.log` only feed the per-site chart.
  const globalNote = (k: string) =>
    `No round has a "${k}" yet: a round gets it when it commits, from the metrics the sites return with their update, or from the strategy.`;
  globalChart.setEmptyNote(globalNote(key));
  const keySelect = h('select', { 'aria-label': 'metric' }) as HTMLSelectElement;
  const keys = new Set<string>([key]);
  const summary = h('div', { class: 'facts' });
  const rounds = h('div', {});
  const head = h('h1', {}, `Run ${id}`);
  show(head, summary, h('h2', {}, 'Rounds'), rounds, h('h2', {}, 'Metrics ', keySelect), h('div', { class: 'charts' }, siteChart.element, globalChart.element));

  const addKey = (k: string) => {
    if (keys.has(k) && keySelect.options.length > 0) return;
    keys.add(k);
    keySelect.replaceChildren(...[...keys].sort().map((name) => h('option', name === key ? { value: name, selected: '' } : { value: name }, name)));
  };
  addKey(key);

  const refresh = async () => {
    const { run, rounds: list } = await get<{ run: Run; rounds: Round[] }>(`/api/runs/${id}`);
    head.replaceChildren(`Run ${run.id} `, badge(run.status));
    summary.replaceChildren(
      ...[['federation', run.federation], ['strategy', run.settings?.strategy ?? ''], ['round', `${run.currentRound}/${run.rounds}`], ['started', time(run.startedAtMs)], ['ended', time(run.endedAtMs)]].map(([k, v]) =>
        h('div', {}, h('span', {}, k ?? ''), k === 'federation' ? link(`#/federation/${encodeURIComponent(v ?? '')}`, v ?? '') : (v ?? '')),
      ),
      ...(run.failureReason ? [h('div', { class: 'refusal' }, run.failureReason)] : []),
    );
    rounds.replaceChildren(
      table(
        ['round', 'state', 'duration', 'selected', 'accepted', 'refused', 'failed', 'version'],
        list.map((r) => {
          for (const k of Object.keys(r.metrics)) addKey(k);
          for (const [k, v] of Object.entries(r.metrics)) if (k === key) globalChart.add('global', r.number, v);
          return [
            String(r.number),
            badge(r.state),
            seconds(r.openedAtMs, r.closedAtMs),
            String(r.selectedSites.length),
            r.accepted.map((a) => a.site).join(', ') || '—',
            r.refused.length === 0 ? '—' : h('div', {}, ...r.refused.map((x) => h('div', { class: 'refusal', title: x.message }, `${x.site}: ${x.reason}${x.count > 1 ? ` ×${x.count}` : ''}`))),
            (r.siteFailures ?? []).length === 0 ? '—' : h('div', {}, ...(r.siteFailures ?? []).map((x) => h('div', { class: 'refusal', title: x.message }, `${x.site}: ${x.reason}`))),
            r.committedVersion > 0 ? `v${r.committedVersion}` : r.failureReason,
          ];
        }),
        'No rounds yet.',
      ),
    );
    return run;
  };

  const loadHistory = async () => {
    siteChart.clear();
    globalChart.clear();
    const history = await get<{ series: Array<{ site: string; points: MetricPoint[] }> }>(`/api/runs/${id}/metrics?key=${encodeURIComponent(key)}`);
    for (const s of history.series) for (const p of s.points) (s.site === '' ? globalChart : siteChart).add(s.site === '' ? 'global' : s.site, Number(p.step), p.value);
  };

  keySelect.addEventListener('change', () => {
    key = keySelect.value;
    globalChart.setEmptyNote(globalNote(key));
    void loadHistory().then(refresh);
  });

  // History first: it clears the charts, and would otherwise wipe the global points that the
  // rounds' own metrics just gave (a finished run gets no later refresh to bring them back).
  await loadHistory();
  const run = await refresh();
  if (run.status !== 'RUN_STATUS_RUNNING') return;
  const source = new EventSource(`/api/runs/${id}/events`);
  let refreshing = false;
  source.addEventListener('open', () => (live.hidden = false));
  source.addEventListener('error', () => (live.hidden = true));
  source.addEventListener('metric', (e) => {
    const m = JSON.parse((e as MessageEvent<string>).data) as { site: string; points: MetricPoint[] };
    for (const p of m.points) {
      addKey(p.key);
      if (p.key === key) siteChart.add(m.site, Number(p.step), p.value);
    }
  });
  source.addEventListener('run', (e) => {
    const event = JSON.parse((e as MessageEvent<string>).data) as { type: string };
    if (refreshing) return;
    refreshing = true;
    void refresh()
      .catch(() => undefined)
      .finally(() => (refreshing = false));
    if (event.type === 'RUN_ENDED') source.close();
  });
  leave.push(() => {
    source.close();
    live.hidden = true;
  });
}

/** A federation's members, revoked ones marked: `site-a, site-b (revoked)`. */
function members(f: { sites: string[]; revokedSites: string[] }): string {
  return f.sites.map((s) => (f.revokedSites.includes(s) ? `${s} (revoked)` : s)).join(', ');
}

async function sitesPage(): Promise<void> {
  const sites = await get<Array<{ name: string; keyId: string; fingerprint: string; status: string; federations: string[]; createdAtMs: number; revokedAtMs: number; removedAtMs: number; lastSeenAtMs: number; connected: boolean }>>('/api/sites');
  show(
    h('h1', {}, 'Sites'),
    table(
      ['site', 'status', 'key fingerprint (SHA-256)', 'key id', 'federations', 'added', 'revoked', 'last seen', 'connected'],
      sites.map((s) => [
        s.name,
        badge(s.removedAtMs > 0 ? 'REMOVED' : s.status),
        h('span', { class: 'mono' }, s.fingerprint),
        h('span', { class: 'mono' }, s.keyId),
        s.federations.join(', '),
        time(s.createdAtMs),
        time(s.revokedAtMs),
        h('span', { class: 'last-seen', title: time(s.lastSeenAtMs) }, formatAgo(s.lastSeenAtMs)),
        h('span', { class: s.connected ? 'connected' : 'disconnected' }, s.connected ? 'yes' : 'no'),
      ]),
      'No sites yet.',
    ),
  );
}

async function route(): Promise<void> {
  for (const done of leave) done();
  leave = [];
  const [page, arg] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  try {
    if (page === 'federation' && arg) await federationPage(arg);
    else if (page === 'run' && arg) await runPage(arg);
    else if (page === 'sites') await sitesPage();
    else await federationsPage();
  } catch (err) {
    show(h('h1', {}, 'Cannot load this page'), h('p', { class: 'refusal' }, err instanceof Error ? err.message : String(err)));
  }
}

window.addEventListener('hashchange', () => void route());
void route();
