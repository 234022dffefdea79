// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface UserSpeakStarted {
}

export interface UserSpeakStarted__Output {
}
