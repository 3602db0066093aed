// A coordinator in its own OS process, so a test can kill -9 it: reads CoordinatorOptions as
// JSON from TRIBUTARY_COORDINATOR_OPTIONS (admin keys in base64), prints one JSON line with its
// address and key once it listens, and closes on SIGTERM. An unhandled error ends the process
// with a non-zero code, which the test sees.
import { Coordinator, createLogger } from '@tributary/coordinator';

const raw = JSON.parse(process.env.TRIBUTARY_COORDINATOR_OPTIONS ?? '{}');
const options = {
  ...raw,
  adminKeys: raw.adminKeys.map((k) => Buffer.from(k, 'base64')),
  ...(process.env.TRIBUTARY_TEST_LOG ? { logger: createLogger(process.env.TRIBUTARY_TEST_LOG) } : {}),
};
const coordinator = await Coordinator.start(options);
process.stdout.write(JSON.stringify({ address: coordinator.address, publicKey: Buffer.from(coordinator.publicKey).toString('base64') }) + '\n');
process.once('SIGTERM', () => {
  void coordinator.close().then(() => process.exit(0));
});
