import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../protocol/generated/index.js';
import { defaultMetadataResponse, defaultMetadataResponseTopic } from '../../protocol/generated/metadata-response.js';
import type { InterceptedResponse } from '../stage/stage.js';
import { TopicIds, TopicIdsStage } from './topic-ids.js';

const ID = 'AAAAAAAAAAAAAAAAAAAAAQ';

function metadataAnswer(synthetic: boolean): InterceptedResponse {
  const body = defaultMetadataResponse();
  body.topics = [
    { ...defaultMetadataResponseTopic(), name: 'orders', topicId: ID },
    { ...defaultMetadataResponseTopic(), name: 'denied', topicId: 'AAAAAAAAAAAAAAAAAAAAAg', errorCode: 29 },
  ];
  return { synthetic, request: { header: { apiKey: 3 } }, body: () => body } as unknown as InterceptedResponse;
}

describe('topic ids', () => {
  it('learns names from the broker\'s Metadata answers, not from answers the proxy made up or entries with errors', () => {
    const ids = new TopicIds();
    const stage = new TopicIdsStage(ids);
    expect(stage.interest.responses.has(ApiKey.Metadata)).toBe(true);
    stage.onResponse(metadataAnswer(true));
    expect(ids.name(ID)).toBeUndefined();
    stage.onResponse(metadataAnswer(false));
    expect(ids.name(ID)).toBe('orders');
    expect(ids.name('AAAAAAAAAAAAAAAAAAAAAg')).toBeUndefined();
  });

  it('asks the cluster once for ids it has not seen, sharing the lookup between callers', async () => {
    let lookups = 0;
    const ids = new TopicIds(async () => {
      lookups++;
      return [[ID, 'orders']];
    }, 0);
    await Promise.all([ids.resolve([ID]), ids.resolve([ID])]);
    expect(lookups).toBe(1);
    await ids.resolve([ID]);
    expect(lookups).toBe(1);
    expect(ids.name(ID)).toBe('orders');
  });
});
