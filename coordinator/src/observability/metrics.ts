import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one coordinator (its own registry, so several can share a process). */
export class CoordinatorMetrics {
  readonly registry = new Registry();
  readonly rounds = new Counter({
    name: 'tributary_rounds_total',
    help: 'Rounds that reached a final state, by state',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly updatesAccepted = new Counter({
    name: 'tributary_updates_accepted_total',
    help: 'Updates accepted',
    registers: [this.registry],
  });
  readonly updatesRefused = new Counter({
    name: 'tributary_updates_refused_total',
    help: 'Updates refused, by reason code',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly siteFailures = new Counter({
    name: 'tributary_site_failures_total',
    help: 'Selected sites failed in their round, by reason code (SITE_ERROR, SITE_UNRESPONSIVE)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly siteReportsRefused = new Counter({
    name: 'tributary_site_reports_refused_total',
    help: 'Failure reports and heartbeats from sites refused, by call and reason code',
    labelNames: ['kind', 'reason'] as const,
    registers: [this.registry],
  });
  readonly bytesReceived = new Counter({
    name: 'tributary_update_bytes_total',
    help: 'Payload bytes of accepted updates',
    registers: [this.registry],
  });
  readonly foldJobs = new Counter({
    name: 'tributary_fold_jobs_total',
    help: 'Updates offered to aggregation workers, by outcome: folded (by a worker), refused (by a worker), local (folded here: no worker answered in time, or the round is not one workers fold)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly partials = new Counter({
    name: 'tributary_partials_total',
    help: 'Partial aggregates asked of aggregation workers, by outcome: combined, or the reason they were refused (their updates are then re-folded here)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly aggregationSeconds = new Histogram({
    name: 'tributary_aggregation_seconds',
    help: 'Time to close a round: finish the aggregate and commit the model version',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
    registers: [this.registry],
  });
  readonly callsRefused = new Counter({
    name: 'tributary_calls_refused_total',
    help: 'gRPC calls refused by authentication or authorisation, by reason code',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly dashboardRequestsRefused = new Counter({
    name: 'tributary_dashboard_requests_refused_total',
    help: 'Dashboard HTTP requests refused, by HTTP status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly siteCredentials = new Counter({
    name: 'tributary_site_nats_credentials_total',
    help: 'NATS credentials asked for by sites, by outcome: ISSUED or the refusal reason code',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly connectedSites = new Gauge({
    name: 'tributary_connected_sites',
    help: 'Sites with an open WatchTasks stream',
    registers: [this.registry],
  });
  readonly metricPoints = new Counter({
    name: 'tributary_metric_points_total',
    help: 'Metric points from sites committed to the tracking store',
    registers: [this.registry],
  });
  readonly metricBatchesRefused = new Counter({
    name: 'tributary_metric_batches_refused_total',
    help: 'Metric batches from sites refused, by reason code',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly metricFlushFailures = new Counter({
    name: 'tributary_metric_flush_failures_total',
    help: 'Writes of buffered metric points to the tracking store that failed (the batches are redelivered)',
    registers: [this.registry],
  });
  readonly metricIngestLag = new Histogram({
    name: 'tributary_metric_ingest_lag_seconds',
    help: "Time from a metric point's timestamp at the site to its commit in the tracking store",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly payloadSweeps = new Counter({
    name: 'tributary_payload_sweeps_total',
    help: 'Sweeps of abandoned uploads from the payload stream, by outcome: completed, or failed (retried with backoff)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly trackingOutboxDepth = new Gauge({
    name: 'tributary_tracking_outbox_depth',
    help: 'Tracking store writes waiting in the durable outbox (they survive restarts and are retried until the store takes them)',
    registers: [this.registry],
  });
  readonly trackingWritesRefused = new Counter({
    name: 'tributary_tracking_writes_refused_total',
    help: 'Tracking store writes the store refused for their data (recorded, not retried), by reason code',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly healthy = new Gauge({
    name: 'tributary_healthy',
    help: '1 while the coordinator accepts updates and changes; 0 after a fault that needs a restart (see /healthz for the reason)',
    registers: [this.registry],
  });
  /** Why the coordinator stopped accepting, once it has. */
  private problem: { reason: string; message: string } | undefined;
  /** Parts that add details to /healthz (e.g. `tracking`), read at each request. */
  private readonly details = new Map<string, () => unknown>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.healthy.set(1);
  }

  /** Records that the coordinator stopped accepting, and why (a reason code and a message); the first fault wins. */
  markUnhealthy(reason: string, message: string): void {
    this.problem ??= { reason, message };
    this.healthy.set(0);
  }

  /** Adds a detail to every /healthz answer under `name` (it does not change the status). */
  addHealthDetail(name: string, detail: () => unknown): void {
    this.details.set(name, detail);
  }

  /** What /healthz answers: ok, or the fault that stopped the coordinator; with the parts' details. */
  health(): ({ status: 'ok' } | { status: 'failing'; reason: string; message: string }) & Record<string, unknown> {
    const details = Object.fromEntries([...this.details].map(([name, detail]) => [name, detail()]));
    return this.problem === undefined ? { status: 'ok', ...details } : { status: 'failing', ...this.problem, ...details };
  }

  /** Serves /metrics, and /healthz (200 or 503, JSON), on the given port (127.0.0.1 unless host says otherwise). */
  async serve(port: number, host = '127.0.0.1'): Promise<Server> {
    const server = createServer((req, res) => {
      if (req.url === '/healthz') {
        const health = this.health();
        res.writeHead(health.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(health));
        return;
      }
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text))
        .catch(() => res.writeHead(500).end());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return server;
  }
}
