export { AvatarBridgeClient, BridgeError, Conversation, PROTO_PATH } from './client.js';
export type { BridgeEvent, ClientOptions, EventKind } from './client.js';
export { SANDBOX_AVATAR_ID, fullSession, liteSession } from './builders.js';
export type { FullOptions, SessionOptions } from './builders.js';
export { fromStruct, fromValue, toStruct, toValue } from './struct.js';
export type { JsonObject, JsonValue } from './struct.js';
