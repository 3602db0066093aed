import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { TributaryError, assertName, parsePublicKey } from '@tributary/proto';
import type { PrincipalRegistry } from '../auth/principal-registry.js';
import type { MetricEventBus } from '../ingest/metric-events.js';
import type { Logger } from '../observability/logger.js';
import type { CoordinatorMetrics } from '../observability/metrics.js';
import type { RoundEngine } from '../rounds/engine.js';
import type { RunEventBus } from '../rounds/events.js';
import { NEVER_SEEN, type SitePresence, type SitePresenceView } from '../sites/presence.js';
import type { FederationRecord, SiteRecord, StateStore } from '../state/index.js';
import type { RunTracker } from '../tracking/run-tracker.js';
import { validateMetricKey } from '../tracking/validation.js';
import { dashboardAccessLost } from './access.js';
import type { DashboardSessions } from './sessions.js';

export interface DashboardReadDeps {
  state: StateStore;
  engine: Pick<RoundEngine, 'currentRound'>;
  tracker: Pick<RunTracker, 'metricHistory'>;
  events: RunEventBus;
  metricEvents: MetricEventBus;
  /** Sites' last seen and connected, for the sites page. */
  presence: Pick<SitePresence, 'ofSites'>;
  /** Asked on every request whether the session's principal may still read everything. */
  principals: Pick<PrincipalRegistry, 'adminKey' | 'permissionsOf'>;
}

export interface DashboardServerOptions extends DashboardReadDeps {
  /** Interface to listen on. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Serve HTTPS with the gRPC listener's certificate (then the cookie is `Secure`). */
  tls: { cert: Buffer; key: Buffer } | undefined;
  sessions: DashboardSessions;
  logger: Logger;
  metrics: CoordinatorMetrics;
}

const COOKIE = 'trib_dashboard';
const MAX_URL_CHARS = 2048;
const MAX_HEADER_BYTES = 8192;
/** Live event streams, over all sessions, and per session. */
const MAX_STREAMS = 64;
const MAX_STREAMS_PER_SESSION = 8;
/** Events an event stream may fall behind by before it is closed (the page reconnects). */
const MAX_STREAM_BACKLOG_BYTES = 4 * 1024 * 1024;
const HEARTBEAT_MS = 15_000;
/** Run ids are 16 hex characters; anything else is refused before a lookup. */
const RUN_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** Served with every answer: nothing inline, nothing from another origin, never framed or cached. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** The bundled page, built by `npm run build` into the coordinator package's dist/web. */
const WEB_DIR = new URL('../../dist/web/', import.meta.url);
const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/assets/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/assets/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The read-only web dashboard: a login exchange, the bundled page, thin JSON views over the
 * coordinator's state and tracking store, and server-sent events of a run. Every request but a
 * login needs a session cookie; anything else is answered 401 before any work is done.
 */
export class DashboardServer {
  private readonly streams = new Map<string, number>();
  private streamCount = 0;
  private readonly assets = new Map<string, Buffer>();

  private constructor(
    private readonly opts: DashboardServerOptions,
    private readonly server: Server,
  ) {}

  static async start(opts: DashboardServerOptions): Promise<DashboardServer> {
    const limits = { maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 30_000, headersTimeout: 10_000 };
    const server = opts.tls === undefined ? createServer(limits) : createTlsServer({ ...limits, cert: opts.tls.cert, key: opts.tls.key });
    const dashboard = new DashboardServer(opts, server);
    server.on('request', (req, res) => void dashboard.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return dashboard;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpRefusal(405, 'the dashboard only reads');
      const raw = req.url ?? '/';
      if (raw.length > MAX_URL_CHARS) throw new HttpRefusal(414, `URLs are at most ${MAX_URL_CHARS} characters`);
      const url = new URL(raw, 'http://dashboard.invalid');
      if (url.pathname === '/login') return await this.login(url, res);
      const session = await this.opts.sessions.session(cookieOf(req));
      if (session === undefined) throw new HttpRefusal(401, 'no dashboard session: run `tributary dashboard` to log in');
      const lost = await dashboardAccessLost(this.opts.principals, session.keyId);
      if (lost !== undefined) {
        await this.opts.sessions.end(session.id);
        this.opts.logger.info({ keyId: session.keyId, why: lost }, 'dashboard session ended');
        throw new HttpRefusal(401, `dashboard session ended: ${lost}`);
      }
      const asset = ASSETS[url.pathname];
      if (asset !== undefined) return await this.serveAsset(asset, res);
      if (url.pathname.startsWith('/api/')) return await this.api(url, session.id, req, res);
      throw new HttpRefusal(404, 'no such page');
    } catch (err) {
      this.refuse(res, err);
    }
  }

  private async login(url: URL, res: ServerResponse): Promise<void> {
    const redeemed = await this.opts.sessions.redeem(url.searchParams.get('token') ?? '');
    if (redeemed === undefined) throw new HttpRefusal(401, 'this login token is unknown, used or expired: run `tributary dashboard` again');
    const maxAge = Math.floor(this.opts.sessions.sessionTtlMs / 1000);
    res.setHeader('Set-Cookie', `${COOKIE}=${redeemed.secret}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}${this.opts.tls === undefined ? '' : '; Secure'}`);
    this.opts.logger.info({ keyId: redeemed.session.keyId }, 'dashboard session opened');
    res.writeHead(303, { Location: '/' }).end();
  }

  private async serveAsset(asset: { file: string; type: string }, res: ServerResponse): Promise<void> {
    let body = this.assets.get(asset.file);
    if (body === undefined) {
      body = await readFile(new URL(asset.file, WEB_DIR)).catch(() => {
        throw new HttpRefusal(500, 'the dashboard page is not built: run `npm run build`');
      });
      this.assets.set(asset.file, body);
    }
    res.writeHead(200, { 'Content-Type': asset.type, 'Content-Length': body.length }).end(body);
  }

  private async api(url: URL, sessionId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts = url.pathname.split('/').slice(2).map(decodeSegment);
    const [noun, id, view] = parts;
    if (parts.length > 3) throw new HttpRefusal(404, 'no such endpoint');
    const deps = this.opts;
    if (noun === 'federations' && id === undefined) return json(res, await this.federations());
    if (noun === 'federations' && id !== undefined && view === undefined) return json(res, await this.federation(assertName('federation', id)));
    if (noun === 'sites' && id === undefined) {
      const sites = await deps.state.listSites();
      const presence = await deps.presence.ofSites(sites.map((s) => ({ name: s.name, createdAtMs: s.createdAtMs })));
      return json(res, sites.map((s, i) => siteView(s, presence[i] ?? NEVER_SEEN)));
    }
    if (noun === 'runs' && id !== undefined) {
      if (!RUN_ID.test(id)) throw new HttpRefusal(400, 'malformed run id');
      const run = await deps.state.getRun(id);
      if (run === undefined) throw new HttpRefusal(404, 'no such run');
      if (view === undefined) return json(res, { run, rounds: await this.rounds(run.id) });
      if (view === 'metrics') {
        const key = validateMetricKey(url.searchParams.get('key') ?? 'loss');
        return json(res, await deps.tracker.metricHistory(run.federation, run.id, key, 2000));
      }
      if (view === 'events') return this.events(run.federation, run.id, sessionId, req, res);
    }
    throw new HttpRefusal(404, 'no such endpoint');
  }

  private async federations(): Promise<unknown> {
    const { state } = this.opts;
    const [federations, sites, runs] = await Promise.all([state.listFederations(), state.listSites(), state.listRuns(undefined)]);
    return federations.map((f) => {
      const latest = runs.find((r) => r.federation === f.name);
      return {
        ...federationView(f, sites),
        latestRun: latest === undefined ? null : { id: latest.id, status: latest.status, currentRound: latest.currentRound, rounds: latest.rounds },
      };
    });
  }

  private async federation(name: string): Promise<unknown> {
    const { state } = this.opts;
    const federation = await state.getFederation(name);
    if (federation === undefined) throw new HttpRefusal(404, 'no such federation');
    const [sites, runs, versions] = await Promise.all([state.listSites(), state.listRuns(name), state.listModelVersions(name)]);
    return { federation: federationView(federation, sites), runs, versions };
  }

  /** Stored rounds, with the one in progress as the engine holds it. */
  private async rounds(runId: string): Promise<unknown[]> {
    const rounds = await this.opts.state.listRounds(runId);
    const live = this.opts.engine.currentRound(runId);
    if (live === undefined) return rounds;
    return [...rounds.filter((r) => r.number !== live.number), live].sort((a, b) => a.number - b.number);
  }

  /** Server-sent events: `metric` for points sites stream, `run` for the run's round events. */
  private events(federation: string, runId: string, sessionId: string, req: IncomingMessage, res: ServerResponse): void {
    const mine = this.streams.get(sessionId) ?? 0;
    if (this.streamCount >= MAX_STREAMS || mine >= MAX_STREAMS_PER_SESSION) throw new HttpRefusal(429, 'too many live views are open');
    this.streams.set(sessionId, mine + 1);
    this.streamCount++;
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    const send = (event: string, data: unknown) => {
      if (res.writableLength > MAX_STREAM_BACKLOG_BYTES) {
        res.end();
        return;
      }
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const offMetrics = this.opts.metricEvents.subscribe(federation, (e) => {
      if (e.runId === runId) send('metric', { site: e.site, round: e.round, points: e.points });
    });
    const offRun = this.opts.events.subscribe(runId, (e) => send('run', { type: e.type, round: e.roundNumber }));
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    req.socket.once('close', () => {
      clearInterval(heartbeat);
      offMetrics();
      offRun();
      this.streamCount--;
      const left = (this.streams.get(sessionId) ?? 1) - 1;
      if (left === 0) this.streams.delete(sessionId);
      else this.streams.set(sessionId, left);
    });
  }

  private refuse(res: ServerResponse, err: unknown): void {
    const status = err instanceof HttpRefusal ? err.status : statusOf(TributaryError.from(err));
    const message = err instanceof HttpRefusal ? err.message : TributaryError.from(err).message;
    if (status >= 500) this.opts.logger.warn({ err: message }, 'dashboard request failed');
    else this.opts.logger.debug({ status, err: message }, 'dashboard request refused');
    this.opts.metrics.dashboardRequestsRefused.inc({ status: String(status) });
    if (res.headersSent) {
      res.end();
      return;
    }
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${message}\n`);
  }
}

function statusOf(e: TributaryError): number {
  switch (e.code) {
    case 'INVALID_ARGUMENT':
      return 400;
    case 'NOT_FOUND':
      return 404;
    case 'RESOURCE_EXHAUSTED':
      return 429;
    default:
      return 500;
  }
}

function json(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

function cookieOf(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpRefusal(400, 'malformed path');
  }
}

/** A federation as the pages show it: its record, without the model spec, and its members. */
function federationView(f: FederationRecord, sites: readonly SiteRecord[]) {
  const members = sites.filter((s) => s.federations.includes(f.name));
  return {
    name: f.name,
    description: f.description,
    settings: f.settings,
    createdAtMs: f.createdAtMs,
    latestVersion: f.latestVersion,
    sites: members.map((s) => s.name),
    /** Members whose key is revoked, marked on the pages. */
    revokedSites: members.filter((s) => s.status === 'REVOKED').map((s) => s.name),
  };
}

/** A site as the pages show it: the public key only as its fingerprint, with its presence. */
function siteView(s: SiteRecord, presence: SitePresenceView) {
  return {
    name: s.name,
    keyId: s.keyId,
    status: s.status,
    federations: s.federations,
    createdAtMs: s.createdAtMs,
    revokedAtMs: s.revokedAtMs,
    removedAtMs: s.removedAtMs ?? 0,
    fingerprint: fingerprint(s.publicKey),
    lastSeenAtMs: presence.lastSeenAtMs,
    connected: presence.connected,
  };
}

/** SHA-256 of the raw public key, first 16 bytes in hex: what an operator compares by eye. */
function fingerprint(publicKey: string): string {
  return createHash('sha256').update(parsePublicKey(publicKey)).digest('hex').slice(0, 32).replace(/(.{4})(?!$)/g, '$1:');
}
