/**
 * Who sees a response. One no stage wants goes to the client as the broker sent it (`untouched`);
 * a Fetch or ShareFetch answer that every stage wanting it takes as a records view stays on that fast path too,
 * read as it passes and handed over once written (`viewers`, `deliverView`); any other is held
 * whole and run through the response stages (`runResponseStages`).
 */
import { ApiKey } from '../../../protocol/generated/index.js';
import { isStreamed, streamedPartitions, type StreamedApi, type StreamedFetch } from '../../../protocol/runtime/fetch-stream.js';
import { takesView, wantsResponse, type ResponseHook, type Stage } from '../../stage/stage.js';
import type { Exchange, ResponseView } from '../exchange.js';
import { isPromise, stageError, type ConnectionCore } from './core.js';

/** The response is for the client as the broker sent it: no stage asked to see it. */
export function untouched(stages: readonly Stage[], ex: Exchange): boolean {
  return !ex.hooks && !stages.some((s) => wantsResponse(s, ex.header.apiKey, ex.header.apiVersion));
}

/**
 * The stages that take this response as a records view, when every stage that wants it can and
 * nothing else holds it (Interest.responseViews): it then stays on the fast path, read as it
 * passes. Null when the response must be held whole (or nobody wants it).
 */
export function viewers(stages: readonly Stage[], ex: Exchange): Stage[] | null {
  const { apiKey, apiVersion } = ex.header;
  const api = streamedApi(apiKey);
  if (ex.hooks || !api || !isStreamed(api, apiVersion)) return null;
  let out: Stage[] | null = null;
  for (const s of stages) {
    if (!wantsResponse(s, apiKey, apiVersion)) continue;
    if (!takesView(s, apiKey)) return null;
    (out ??= []).push(s);
  }
  return out;
}

/** The streamed response an API key answers with, if any (Fetch, ShareFetch). */
export function streamedApi(apiKey: number): StreamedApi | null {
  return apiKey === ApiKey.Fetch ? 'Fetch' : apiKey === ApiKey.ShareFetch ? 'ShareFetch' : null;
}

/**
 * Hands a fast-path response's view to the stages that take it (after its bytes left). A stage
 * that throws ends the connection; one that returns a promise anyway (the hook is typed to return
 * nothing) is not waited for, but its rejection ends the connection too.
 */
export function deliverView(core: ConnectionCore, ex: Exchange, to: readonly Stage[], res: StreamedFetch): void {
  const view = { request: ex, connection: core.info, size: ex.responseSize, errorCode: res.errorCode, sessionId: res.sessionId, partitions: streamedPartitions(res) };
  for (const stage of to) {
    let r: unknown;
    try {
      r = stage.onResponseView!(view);
    } catch (err) {
      throw stageError(stage, err);
    }
    if (isPromise(r)) r.then(undefined, (err: unknown) => core.fail(stageError(stage, err)));
  }
}

type Step = { stage: Stage; hook?: ResponseHook };

/**
 * Runs the response through the stages in order: at each stage, first the hooks it set on this
 * request, then its onResponse if it declared interest in the API's responses. The steps are
 * listed once; an asynchronous step resumes the list where it left off. What a step throws or
 * rejects with comes back as the stage's failure (GH_STAGE_FAILED), for the caller to end the
 * connection with.
 */
export function runResponseStages(stages: readonly Stage[], res: ResponseView): void | Promise<void> {
  const ex = res.request;
  const { apiKey, apiVersion } = ex.header;
  const steps: Step[] = [];
  for (let i = 0; i < stages.length; i++) {
    const stage = stages[i]!;
    if (ex.hooks) for (const h of ex.hooks) if (h.stage === i) steps.push({ stage, hook: h.hook });
    if (wantsResponse(stage, apiKey, apiVersion)) steps.push({ stage });
  }
  return runSteps(res, steps, 0);
}

function runSteps(res: ResponseView, steps: readonly Step[], from: number): void | Promise<void> {
  for (let i = from; i < steps.length; i++) {
    const { stage, hook } = steps[i]!;
    let r: void | Promise<void>;
    res.stage = stage.name; // names the stage if the body it sets cannot be encoded
    try {
      r = hook ? hook(res) : stage.onResponse!(res);
    } catch (err) {
      throw stageError(stage, err);
    }
    if (isPromise<void>(r)) {
      return r.then(
        () => runSteps(res, steps, i + 1),
        (err: unknown) => {
          throw stageError(stage, err);
        },
      );
    }
  }
}
