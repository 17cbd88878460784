/** Prometheus metrics of the policy: decisions by API and outcome, and reloads. */
import { Counter, Registry } from 'prom-client';

export const policyRegistry = new Registry();

export const policyDecisions = new Counter({
  name: 'gatehouse_policy_decisions_total',
  help: 'Requests decided by the policy, by API and outcome (allow, deny, partial, filtered)',
  labelNames: ['api', 'outcome'],
  registers: [policyRegistry],
});

export const policyReloads = new Counter({
  name: 'gatehouse_policy_reloads_total',
  help: 'Policy reloads, by result (applied, rejected)',
  labelNames: ['result'],
  registers: [policyRegistry],
});
