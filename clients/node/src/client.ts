// A thin wrapper over the generated @grpc/grpc-js client: events come out as a discriminated
// union ({kind, requestId, data}) instead of a oneof, commands go in as methods.
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import type { ProtoGrpcType } from './generated/avatar_bridge.js';
import type { AvatarBridgeServiceClient } from './generated/avatarbridge/v1/AvatarBridgeService.js';
import type { ConverseRequest } from './generated/avatarbridge/v1/ConverseRequest.js';
import type { ConverseResponse__Output } from './generated/avatarbridge/v1/ConverseResponse.js';
import type { SessionInfo__Output } from './generated/avatarbridge/v1/SessionInfo.js';
import type { StopReason } from './generated/avatarbridge/v1/StopReason.js';
import type { StopSessionResponse__Output } from './generated/avatarbridge/v1/StopSessionResponse.js';

/** The .proto this package was generated from (the repository's protos/). */
export const PROTO_PATH = fileURLToPath(
  new URL('../../../protos/avatarbridge/v1/avatar_bridge.proto', import.meta.url),
);

// Must match the generator flags (package.json "gen"). keepCase: keys are the proto's snake_case
// names (with camelCase keys proto-loader drops fields silently); longs as Number, not Long;
// enums as their names; defaults filled in; the oneof's name set to the member present.
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

export type EventKind = NonNullable<ConverseResponse__Output['event']>;

/** One server event; `data` is the oneof member that is set. */
export type BridgeEvent = {
  [K in EventKind]: { kind: K; requestId: string; data: NonNullable<ConverseResponse__Output[K]> };
}[EventKind];

/** The call ended with a non-OK status; `code` is the gRPC status code. */
export class BridgeError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`${grpc.status[code] ?? code}: ${details}`);
    this.name = 'BridgeError';
  }
}

function toEvent(response: ConverseResponse__Output): BridgeEvent {
  const kind = response.event;
  if (!kind) throw new Error('ConverseResponse with no event set');
  return { kind, requestId: response.request_id, data: response[kind] } as BridgeEvent;
}

function asBridgeError(error: unknown): unknown {
  const status = error as Partial<grpc.ServiceError>;
  return typeof status.code === 'number' ? new BridgeError(status.code, status.details ?? '') : error;
}

/** One Converse call: commands in, events out. */
export class Conversation implements AsyncIterable<BridgeEvent> {
  private readonly iterator: AsyncIterator<ConverseResponse__Output>;

  constructor(private readonly call: grpc.ClientDuplexStream<ConverseRequest, ConverseResponse__Output>) {
    this.iterator = call[Symbol.asyncIterator]();
  }

  private send(request: ConverseRequest): void {
    this.call.write(request);
  }

  audio(data: Uint8Array, requestId = ''): void {
    this.send({ request_id: requestId, audio: { data: Buffer.from(data) } });
  }

  speakEnd(requestId = ''): void {
    this.send({ request_id: requestId, speak_end: {} });
  }

  interrupt(requestId = ''): void {
    this.send({ request_id: requestId, interrupt: {} });
  }

  speakText(text: string, requestId = ''): void {
    this.send({ request_id: requestId, speak_text: { text } });
  }

  speakResponse(text: string, requestId = ''): void {
    this.send({ request_id: requestId, speak_response: { text } });
  }

  keepAlive(requestId = ''): void {
    this.send({ request_id: requestId, keep_alive: {} });
  }

  startListening(requestId = ''): void {
    this.send({ request_id: requestId, start_listening: {} });
  }

  stopListening(requestId = ''): void {
    this.send({ request_id: requestId, stop_listening: {} });
  }

  /** Half-close: the conversation ends once the avatar has finished (session_stopped, then OK). */
  end(): void {
    this.call.end();
  }

  /** Abandon the call at once. */
  cancel(): void {
    this.call.cancel();
  }

  /** The next event, or null when the call ended with OK; throws BridgeError otherwise. */
  async next(): Promise<BridgeEvent | null> {
    try {
      const result = await this.iterator.next();
      return result.done ? null : toEvent(result.value);
    } catch (error) {
      throw asBridgeError(error);
    }
  }

  /** Read until an event of `kind` (that `match` accepts); fails if the call ends first. */
  async until<K extends EventKind>(
    kind: K,
    match: (event: Extract<BridgeEvent, { kind: K }>) => boolean = () => true,
  ): Promise<Extract<BridgeEvent, { kind: K }>> {
    for (;;) {
      const event = await this.next();
      if (event === null) throw new Error(`the call ended before a ${kind} event`);
      if (event.kind === kind && match(event as Extract<BridgeEvent, { kind: K }>)) {
        return event as Extract<BridgeEvent, { kind: K }>;
      }
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<BridgeEvent> {
    for (;;) {
      const event = await this.next();
      if (event === null) return;
      yield event;
    }
  }
}

export interface ClientOptions {
  credentials?: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
}

export class AvatarBridgeClient {
  readonly stub: AvatarBridgeServiceClient;

  constructor(target: string, options: ClientOptions = {}) {
    const definition = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
    const proto = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
    this.stub = new proto.avatarbridge.v1.AvatarBridgeService(
      target,
      options.credentials ?? grpc.credentials.createInsecure(),
      options.channelOptions,
    );
  }

  /** Open a conversation; `first` is the config request (liteSession(...) or fullSession(...)). */
  converse(first: ConverseRequest, metadata = new grpc.Metadata()): Conversation {
    const conversation = new Conversation(this.stub.Converse(metadata));
    conversation['send'](first);
    return conversation;
  }

  listSessions(pageSize = 0, pageToken = ''): Promise<SessionInfo__Output[]> {
    return new Promise((resolve, reject) => {
      this.stub.ListSessions({ page_size: pageSize, page_token: pageToken }, (error, reply) =>
        error || !reply ? reject(asBridgeError(error)) : resolve(reply.sessions),
      );
    });
  }

  stopSession(sessionId: string, reason?: StopReason): Promise<StopSessionResponse__Output> {
    return new Promise((resolve, reject) => {
      this.stub.StopSession({ session_id: sessionId, reason }, (error, reply) =>
        error || !reply ? reject(asBridgeError(error)) : resolve(reply),
      );
    });
  }

  close(): void {
    this.stub.close();
  }
}
