import type { DashboardLogin__Output } from '@tributary/proto';
import type { Sublevel } from '../state/level-layout.js';
import { DashboardServer, type DashboardServerOptions } from './server.js';
import { DashboardSessions, DASHBOARD_SESSION_DEFAULTS, type DashboardSessionLimits, type StoredDashboardSession } from './sessions.js';

export { DASHBOARD_PRIVILEGE, requireDashboardAccess } from './access.js';

/**
 * The coordinator's read-only web dashboard: its HTTP listener and the one-time logins
 * AdminService.CreateDashboardSession hands out.
 */
export class Dashboard {
  private constructor(
    private readonly sessions: DashboardSessions,
    private readonly server: DashboardServer,
    private readonly https: boolean,
  ) {}

  static async start(
    opts: Omit<DashboardServerOptions, 'sessions'> & {
      /** Where sessions are kept across restarts. */
      sessionTable: Sublevel<StoredDashboardSession>;
      limits?: Partial<DashboardSessionLimits>;
    },
  ): Promise<Dashboard> {
    const sessions = await DashboardSessions.open(opts.sessionTable, { ...DASHBOARD_SESSION_DEFAULTS, ...opts.limits });
    return new Dashboard(sessions, await DashboardServer.start({ ...opts, sessions }), opts.tls !== undefined);
  }

  get port(): number {
    return this.server.port;
  }

  /** A one-time login for the holder of `keyId` (already authorised by the caller). */
  createLogin(keyId: string): DashboardLogin__Output {
    const { token, expiresAtMs } = this.sessions.createLogin(keyId);
    return { token, expiresAtMs, httpPort: this.port, loginPath: `/login?token=${token}`, https: this.https };
  }

  close(): Promise<void> {
    return this.server.close();
  }
}
