/** Prometheus metrics of the policy: decisions by API and outcome, reloads, and the decision cache. */
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

/** Decision-cache lookups, tallied with a plain increment on the hot path; the counters below take them up when scraped. */
export const decisionCacheTally = { hits: 0, misses: 0 };

export const policyDecisionCacheHits = new Counter({
  name: 'gatehouse_policy_decision_cache_hits_total',
  help: 'Actions (resource, operation) decided from the decision cache',
  registers: [policyRegistry],
  collect() {
    this.inc(decisionCacheTally.hits);
    decisionCacheTally.hits = 0;
  },
});

export const policyDecisionCacheMisses = new Counter({
  name: 'gatehouse_policy_decision_cache_misses_total',
  help: 'Actions decided by evaluating the rules: first seen in this policy generation, forgotten since, or not cacheable (overlong name)',
  registers: [policyRegistry],
  collect() {
    this.inc(decisionCacheTally.misses);
    decisionCacheTally.misses = 0;
  },
});
