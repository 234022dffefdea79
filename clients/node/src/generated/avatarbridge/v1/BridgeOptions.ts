// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface BridgeOptions {
  'first_packet_ms'?: (number);
  'keep_alive_idle_seconds'?: (number);
  'ready_timeout_seconds'?: (number);
}

export interface BridgeOptions__Output {
  'first_packet_ms': (number);
  'keep_alive_idle_seconds': (number);
  'ready_timeout_seconds': (number);
}
