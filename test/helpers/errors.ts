/** What `fn` throws; fails the test when it returns. */
export function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

/** What `promise` rejects with; fails the test when it resolves. */
export async function rejection(promise: unknown): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}
