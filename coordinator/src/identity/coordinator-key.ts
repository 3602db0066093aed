import { join } from 'node:path';
import { Reason, TributaryError, generateSigningKey, hasReason, readKeyFile, writeKeyFile, type SigningKey } from '@tributary/proto';

/** The coordinator's key file in its data directory. */
export const COORDINATOR_KEY_FILE = 'coordinator.key';

/**
 * The coordinator's own Ed25519 key, which signs its verdicts: read from `<dataDir>/coordinator.key`,
 * or created there (mode 0600) on first start. Sites pin its public key, so a restart must keep it:
 * a file that is unreadable, invalid or open to others stops the start rather than being replaced.
 */
export async function loadCoordinatorKey(dataDir: string): Promise<{ key: SigningKey; created: boolean }> {
  const path = join(dataDir, COORDINATOR_KEY_FILE);
  try {
    return { key: await readKeyFile(path), created: false };
  } catch (err) {
    if (!hasReason(err, Reason.NOT_FOUND)) throw keyFileProblem(err);
  }
  let created = true;
  try {
    await writeKeyFile(path, generateSigningKey('coordinator'));
  } catch (err) {
    // Another process created it meanwhile: read theirs.
    if (!hasReason(err, Reason.ALREADY_EXISTS)) throw keyFileProblem(err);
    created = false;
  }
  try {
    return { key: await readKeyFile(path), created };
  } catch (err) {
    throw keyFileProblem(err);
  }
}

function keyFileProblem(err: unknown): TributaryError {
  const e = TributaryError.from(err);
  return TributaryError.of(e.reason, `the coordinator's key file cannot be used: ${e.message}`, { code: e.code, cause: e, retryable: false });
}
