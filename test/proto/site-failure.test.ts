import { printableFailureMessage } from '@tributary/proto';
import { describe, expect, it } from 'vitest';

describe('printableFailureMessage', () => {
  it('turns line breaks and terminal escapes into spaces', () => {
    expect(printableFailureMessage('out of memory\n\u001b[2Jat train.py:12\r')).toBe('out of memory [2Jat train.py:12');
  });

  it('keeps printable text, accents and symbols as they are', () => {
    expect(printableFailureMessage('données manquantes: ∅ rows')).toBe('données manquantes: ∅ rows');
  });
});
