/** Prometheus metrics of client authentication: service-account logins refused by the scrypt limiter. */
import { Counter, Registry } from 'prom-client';

export const identityRegistry = new Registry();

export const serviceAccountChecksRefused = new Counter({
  name: 'gatehouse_service_account_checks_refused_total',
  help: 'SASL/PLAIN logins refused without checking a secret because of identity.serviceAccountChecks, by reason (rate: over perSecond; queue: too many waiting)',
  labelNames: ['reason'],
  registers: [identityRegistry],
});
