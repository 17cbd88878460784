/**
 * DescribeConfigs on a broker shows its `listeners` and `advertised.listeners`: the real
 * addresses the proxy exists to hide. They are rewritten to the proxy's listener for that
 * broker on the listener set the client came in on, keeping each listener's name (e.g.
 * `PLAINTEXT://proxy-host:9101`).
 */
import { ApiKey } from '../../../protocol/generated/index.js';
import { isResponse, type InterceptedResponse, type Stage } from '../../stage/stage.js';
import type { ProxyAddressBook } from './address-rewrite.js';

const BROKER_RESOURCE = 4;
const ADDRESS_CONFIGS = new Set(['listeners', 'advertised.listeners']);

/** `NAME://host:port,NAME2://host:port` with every host:port replaced by `proxy`. */
export function rewriteListenerList(value: string, proxy: string): string {
  return value
    .split(',')
    .map((entry) => {
      const i = entry.indexOf('://');
      return i < 0 ? entry : `${entry.slice(0, i)}://${proxy}`;
    })
    .join(',');
}

export class BrokerConfigsStage implements Stage {
  readonly name = 'broker-configs';
  readonly interest = { responses: new Set<number>([ApiKey.DescribeConfigs]) };

  constructor(private readonly book: ProxyAddressBook) {}

  async onResponse(res: InterceptedResponse): Promise<void> {
    if (!isResponse(res, ApiKey.DescribeConfigs)) return;
    const body = res.body();
    let changed = false;
    for (const result of body.results) {
      if (result.resourceType !== BROKER_RESOURCE) continue;
      const nodeId = Number(result.resourceName);
      const addressed = result.configs.filter((c) => ADDRESS_CONFIGS.has(c.name));
      if (addressed.length === 0) continue;
      // A cluster-wide default (empty resource name) names no broker: show the bootstrap address.
      const proxy = result.resourceName !== '' && Number.isInteger(nodeId) ? await this.book.addressFor(nodeId, res.connection) : this.book.bootstrap(res.connection);
      const target = `${proxy.host}:${proxy.port}`;
      for (const c of addressed) {
        if (c.value !== null) c.value = rewriteListenerList(c.value, target);
        for (const s of c.synonyms) if (ADDRESS_CONFIGS.has(s.name) && s.value !== null) s.value = rewriteListenerList(s.value, target);
        changed = true;
      }
    }
    if (changed) res.setBody(body);
  }
}
