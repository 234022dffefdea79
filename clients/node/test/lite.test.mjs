// A LITE conversation with an interrupt, through the wrapper, against the real bridge + emulator.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import * as protoLoader from '@grpc/proto-loader';

import { AvatarBridgeClient, PROTO_PATH, fromStruct, liteSession, toStruct } from '../dist/index.js';
import { startBridge } from './bridge.mjs';

// 8 kHz µ-law: one byte per sample; 0xFF is silence.
const MULAW_8K = { encoding: 'AUDIO_ENCODING_MULAW', sample_rate_hertz: 8000, channel_count: 1 };
const silence = (ms) => Buffer.alloc(8 * ms, 0xff);

let bridge;
let client;

before(async () => {
  bridge = await startBridge();
  client = new AvatarBridgeClient(bridge.target);
});

after(async () => {
  client?.close();
  assert.equal(await bridge?.stop(), 0);
});

test('a LITE conversation: speak, interrupt, speak again, end', async () => {
  const conversation = client.converse(liteSession({ inputAudio: MULAW_8K }));
  const started = await conversation.next();
  assert.equal(started.kind, 'session_started');
  assert.equal(started.data.mode, 'MODE_LITE');
  assert.match(started.data.session_id, /\S/);

  // A long utterance, interrupted once the avatar is speaking it. Events of different sources
  // may interleave, so `seen` keeps every event and `find` looks there before reading on.
  const seen = [];
  const find = async (kind, match = () => true) => {
    for (;;) {
      const hit = seen.find((e) => e.kind === kind && match(e));
      if (hit) return hit;
      const event = await conversation.next();
      assert.notEqual(event, null, `the call ended before a ${kind} event`);
      seen.push(event);
    }
  };
  const bufferAction = (action) => (e) => e.data.action === action;
  for (let i = 0; i < 30; i += 1) conversation.audio(silence(100), i === 0 ? 'long-1' : '');
  conversation.speakEnd('end-1');
  const speaking = await find('avatar_speak_started');
  assert.equal(speaking.data.utterance_id, 'long-1');
  const committed = await find('audio_buffer_updated', bufferAction('AUDIO_BUFFER_ACTION_COMMITTED'));
  assert.equal(committed.requestId, 'end-1');
  conversation.interrupt('stop-1');
  const interrupted = await find('avatar_speak_interrupted');
  assert.equal(interrupted.data.utterance_id, 'long-1');
  assert.equal(interrupted.requestId, 'long-1');
  const cleared = await find('audio_buffer_updated', bufferAction('AUDIO_BUFFER_ACTION_CLEARED'));
  assert.equal(cleared.requestId, 'stop-1');
  assert.equal(seen.filter((e) => e.kind === 'avatar_speak_ended').length, 0);

  // A short utterance plays to its end.
  conversation.audio(silence(300), 'short-1');
  conversation.speakEnd();
  const ended = await conversation.until('avatar_speak_ended');
  assert.equal(ended.data.utterance_id, 'short-1');

  conversation.end();
  const stopped = await conversation.until('session_stopped');
  assert.equal(stopped.data.reason, 'STOP_REASON_CLIENT_ENDED');
  assert.equal(await conversation.next(), null); // the call ended with OK
  assert.deepEqual(await client.listSessions(), []);
});

test('a bad first request ends the call with INVALID_ARGUMENT as a BridgeError', async () => {
  const conversation = client.converse({ request_id: 'x', speak_end: {} });
  await assert.rejects(conversation.next(), (error) => {
    assert.equal(error.name, 'BridgeError');
    assert.equal(error.code, 3); // INVALID_ARGUMENT
    return true;
  });
});

test('Struct fields survive the real codec only when wrapped', () => {
  const definition = protoLoader.loadSync(PROTO_PATH, {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const type = definition['avatarbridge.v1.ConverseRequest'];
  const extra = { quality: 'high', retries: 2, flags: [true, null], nested: { a: 'b' } };
  const wrapped = liteSession({ extraTokenFields: extra });
  const decoded = type.deserialize(type.serialize(wrapped));
  assert.deepEqual(fromStruct(decoded.config.create.extra_token_fields), extra);
  // The pitfall the wrapper hides: a plain object where a Struct belongs is silently lost.
  const plain = liteSession();
  plain.config.create.extra_token_fields = extra;
  const lost = type.deserialize(type.serialize(plain));
  assert.deepEqual(fromStruct(lost.config.create.extra_token_fields), {});
  assert.deepEqual(toStruct({}).fields, {});
});
