// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface StopListening {
}

export interface StopListening__Output {
}
