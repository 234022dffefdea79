// google.protobuf.Struct <-> plain JSON objects. Over proto-loader a Struct must be sent as
// {fields: {key: {stringValue: ...}}}; a plain object is silently sent empty. These helpers do
// the wrapping both ways. protobufjs defines the well-known types itself, with camelCase names
// (nullValue, structValue...) even under keepCase, unlike this API's own snake_case messages.
import type { Struct, Struct__Output } from './generated/google/protobuf/Struct.js';
import type { Value, Value__Output } from './generated/google/protobuf/Value.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export function toValue(value: JsonValue): Value {
  if (value === null) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
  return { structValue: toStruct(value) };
}

export function toStruct(object: JsonObject): Struct {
  const fields: Record<string, Value> = {};
  for (const [key, value] of Object.entries(object)) fields[key] = toValue(value);
  return { fields };
}

export function fromValue(value: Value__Output | null | undefined): JsonValue {
  switch (value?.kind) {
    case 'boolValue':
      return value.boolValue ?? false;
    case 'numberValue':
      return value.numberValue ?? 0;
    case 'stringValue':
      return value.stringValue ?? '';
    case 'listValue':
      return (value.listValue?.values ?? []).map(fromValue);
    case 'structValue':
      return fromStruct(value.structValue);
    default:
      return null;
  }
}

export function fromStruct(struct: Struct__Output | null | undefined): JsonObject {
  const object: JsonObject = {};
  for (const [key, value] of Object.entries(struct?.fields ?? {})) object[key] = fromValue(value);
  return object;
}
