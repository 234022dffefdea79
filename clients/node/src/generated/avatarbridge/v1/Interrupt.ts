// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface Interrupt {
}

export interface Interrupt__Output {
}
