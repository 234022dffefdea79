// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface SpeakEnd {
}

export interface SpeakEnd__Output {
}
