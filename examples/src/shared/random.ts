// Reproducible randomness for the examples' data splits and training order.
export { seededRandom, shuffle } from '@tributary/proto';
