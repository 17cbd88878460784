/**
 * What the proxy has learned about the upstream cluster: each broker's real address by node id.
 * Every response that names brokers feeds it; the listener manager binds a port for each new id.
 */
import { EventEmitter } from 'node:events';
import type { HostPort } from './upstream.js';

export class BrokerMap extends EventEmitter<{ broker: [nodeId: number, address: HostPort] }> {
  private readonly brokers = new Map<number, HostPort>();

  get(nodeId: number): HostPort | undefined {
    return this.brokers.get(nodeId);
  }

  /** Records a broker's address; emits 'broker' when the id is new or its address changed. */
  learn(nodeId: number, address: HostPort): void {
    const known = this.brokers.get(nodeId);
    if (known && known.host === address.host && known.port === address.port) return;
    this.brokers.set(nodeId, { ...address });
    this.emit('broker', nodeId, address);
  }

  ids(): number[] {
    return [...this.brokers.keys()].sort((a, b) => a - b);
  }

  /** True when `address` is the real address of some known broker. */
  isUpstreamAddress(host: string, port: number): boolean {
    for (const b of this.brokers.values()) if (b.host === host && b.port === port) return true;
    return false;
  }
}
