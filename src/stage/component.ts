import type { Stage } from './stage.js';

/** A stage with a life of its own (a file watcher, a producer): started before the proxy takes clients, closed after. */
export interface Component {
  readonly stage: Stage;
  start?(): Promise<void>;
  close?(): Promise<void>;
}
