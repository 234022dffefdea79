// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface KeepAlive {
}

export interface KeepAlive__Output {
}
