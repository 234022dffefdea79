// FULL mode: speak_text through the wrapper against the real bridge, its embedded LiveKit-
// compatible server and the real livekit SDK. WebRTC ignores loopback, so this runs only inside
// the private network namespace of tests/netns/run.sh (npm run test:full).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AvatarBridgeClient, fullSession } from '../dist/index.js';
import { startBridge } from './bridge.mjs';

const inNamespace = process.env.AVATAR_BRIDGE_NETNS === '1';

test('FULL speak_text: started, spoken, stopped', { skip: !inNamespace && 'needs tests/netns/run.sh' }, async () => {
  const bridge = await startBridge();
  const client = new AvatarBridgeClient(bridge.target);
  try {
    const conversation = client.converse(
      fullSession({
        contextId: '77fffc51-1bc3-5cac-a90b-3681f0cf5aa3',
        participation: 'PARTICIPATION_USER',
      }),
    );
    const started = await conversation.next();
    assert.equal(started.kind, 'session_started');
    assert.equal(started.data.mode, 'MODE_FULL');

    conversation.speakText('Hello from Node', 'node-1');
    const speaking = await conversation.until('avatar_speak_started');
    assert.equal(speaking.requestId, 'node-1');
    const ended = await conversation.until('avatar_speak_ended');
    assert.equal(ended.data.utterance_id, 'node-1');

    conversation.end();
    const stopped = await conversation.until('session_stopped');
    assert.equal(stopped.data.reason, 'STOP_REASON_CLIENT_ENDED');
    assert.equal(await conversation.next(), null);
  } finally {
    client.close();
    assert.equal(await bridge.stop(), 0);
  }
});
