/** The proxy's own account on the test broker's SASL listener (no vitest import: global setup reads it). */
export const PROXY_USER = 'gatehouse';
export const PROXY_PASSWORD = 'gatehouse-upstream-secret';
