// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface StartListening {
}

export interface StartListening__Output {
}
