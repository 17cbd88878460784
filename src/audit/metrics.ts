/**
 * Prometheus metrics of the audit trail (prom-client), in their own registry for the
 * observability endpoint to merge: the backlog (events and bytes not yet on the audit topic),
 * whether the topic is unreachable, and counters of delivered and dropped events.
 */
import { Gauge, Registry } from 'prom-client';

interface SinkLike {
  readonly backlog: number;
  readonly spooled: number;
  readonly spooledBytes: number;
  readonly degraded: boolean;
  readonly stats: { appended: number; delivered: number; dropped: number; failures: number };
}

class AuditMetrics {
  readonly registry = new Registry();
  private readonly sinks = new Set<SinkLike>();

  constructor() {
    const sum = (f: (s: SinkLike) => number) => [...this.sinks].reduce((n, s) => n + f(s), 0);
    const gauge = (name: string, help: string, f: (s: SinkLike) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(sum(f));
        },
      });
    gauge('gatehouse_audit_backlog_events', 'Audit events not yet on the audit topic (memory and spool)', (s) => s.backlog);
    gauge('gatehouse_audit_spool_events', 'Audit events waiting in the disk spool', (s) => s.spooled);
    gauge('gatehouse_audit_spool_bytes', 'Bytes waiting in the disk spool', (s) => s.spooledBytes);
    gauge('gatehouse_audit_topic_unreachable', '1 while the audit topic cannot be reached', (s) => (s.degraded ? 1 : 0));
    gauge('gatehouse_audit_events_appended', 'Audit events recorded since start', (s) => s.stats.appended);
    gauge('gatehouse_audit_events_delivered', 'Audit events acknowledged by the audit topic since start', (s) => s.stats.delivered);
    gauge('gatehouse_audit_events_dropped', 'Audit events dropped: the spool was full (fail-open), or an event was larger than the audit topic accepts', (s) => s.stats.dropped);
  }

  register(s: SinkLike): void {
    this.sinks.add(s);
  }

  unregister(s: SinkLike): void {
    this.sinks.delete(s);
  }
}

export const auditMetrics = new AuditMetrics();
