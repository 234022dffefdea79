// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface UserSpeakEnded {
}

export interface UserSpeakEnded__Output {
}
