import { seededRandom } from '@tributary/proto';

/** A small seeded PRNG (proto's mulberry32), so every run sees the same "random" data. */
export const prng = seededRandom;
