import { TributaryError } from '@tributary/proto';
import { describe, expect, it } from 'vitest';
import { normaliseSettings } from '../../coordinator/src/rounds/settings.js';

function refusal(input: Parameters<typeof normaliseSettings>[0]): TributaryError {
  try {
    normaliseSettings(input);
  } catch (err) {
    return TributaryError.from(err);
  }
  throw new Error('the settings were taken');
}

describe('federation settings: site errors, heartbeats and timeouts', () => {
  it('defaults on_site_error to "ignore", heartbeats to 10 s and every new time bound to off', () => {
    const s = normaliseSettings({});
    expect(s.onSiteError).toBe('ignore');
    expect(s.heartbeatIntervalSeconds).toBe(10);
    expect([s.siteIdleTimeoutSeconds, s.uploadGraceSeconds, s.runTimeoutSeconds]).toEqual([0, 0, 0]);
  });

  it('takes on_site_error "fail"', () => {
    expect(normaliseSettings({ onSiteError: 'fail' }).onSiteError).toBe('fail');
  });

  it('refuses an unknown on_site_error, naming the setting', () => {
    const err = refusal({ onSiteError: 'retry' });
    expect(err.reason).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('settings.on_site_error must be "ignore" or "fail"');
  });

  it('refuses a site idle timeout shorter than two heartbeat intervals', () => {
    expect(refusal({ heartbeatIntervalSeconds: 10, siteIdleTimeoutSeconds: 15 }).message).toContain('settings.site_idle_timeout_seconds must be 0 or at least twice');
  });

  it('takes a site idle timeout of two heartbeat intervals', () => {
    expect(normaliseSettings({ heartbeatIntervalSeconds: 5, siteIdleTimeoutSeconds: 10 }).siteIdleTimeoutSeconds).toBe(10);
  });

  it('refuses a heartbeat interval above an hour', () => {
    expect(refusal({ heartbeatIntervalSeconds: 3601 }).message).toContain('settings.heartbeat_interval_seconds');
  });

  it('refuses an upload grace above a week', () => {
    expect(refusal({ uploadGraceSeconds: 7 * 24 * 3600 + 1 }).message).toContain('settings.upload_grace_seconds');
  });

  it('refuses a run timeout above a year', () => {
    expect(refusal({ runTimeoutSeconds: 367 * 24 * 3600 }).message).toContain('settings.run_timeout_seconds');
  });
});
