/** What a tracking call failed with: the TributaryError fields the tests look at. */
export interface Failure {
  code: string;
  reason: string;
  message: string;
  cause?: unknown;
}

/** The error a call rejects with; fails the test if it resolves. */
export async function failureOf(promise: Promise<unknown>): Promise<Failure> {
  try {
    await promise;
  } catch (err) {
    return err as Failure;
  }
  throw new Error('expected the call to fail');
}
