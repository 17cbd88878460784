import { describe, expect, it } from 'vitest';
import { rewriteListenerList } from './broker-configs.js';

describe('rewriteListenerList', () => {
  it('keeps listener names and replaces every address', () => {
    expect(rewriteListenerList('PLAINTEXT://10.0.0.5:9092,SASL_SSL://broker-1.internal:9094', 'proxy:9101')).toBe(
      'PLAINTEXT://proxy:9101,SASL_SSL://proxy:9101',
    );
    expect(rewriteListenerList('', 'proxy:1')).toBe('');
  });
});
