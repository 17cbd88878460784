/**
 * When a connection's broker connection opens: at once, unless a stage holds it back
 * (Stage.holdUpstream; the identity stage does until the client has logged in). Then it opens
 * once no stage holds it back any more, which is checked after each request the stages were
 * through with, or as soon as a request has to go to the broker, whichever comes first. It opens
 * once; requests that must go to the broker wait for it in order (request-path.ts).
 */
import { stageError, type ConnectionCore } from './core.js';

export class UpstreamOpening {
  private opening: Promise<boolean> | null = null;

  constructor(
    private readonly core: ConnectionCore,
    /** Connects the broker connection (connection.ts); returns once connected or the connection closed. */
    private readonly connect: () => Promise<void>,
  ) {}

  /** Whether some stage still holds the broker connection back (a stage that throws closes the connection). */
  held(): boolean {
    const { core } = this;
    for (const stage of core.stages) {
      if (!stage.holdUpstream) continue;
      try {
        if (stage.holdUpstream(core.info)) return true;
      } catch (err) {
        core.fail(stageError(stage, err));
        return true;
      }
    }
    return false;
  }

  /** Opens the broker connection, once; true when it is connected, false when the connection closed instead. */
  open(): Promise<boolean> {
    this.opening ??= this.connect().then(
      () => !this.core.closed && this.core.upstream !== null,
      (err: unknown) => {
        this.core.fail(err);
        return false;
      },
    );
    return this.opening;
  }

  /** After the stages were through with a request: opens the broker connection if nothing holds it back any more. */
  check(): void {
    if (this.opening || this.core.closed || this.held()) return;
    void this.open();
  }
}
