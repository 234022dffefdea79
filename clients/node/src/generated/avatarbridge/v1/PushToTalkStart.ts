// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface PushToTalkStart {
}

export interface PushToTalkStart__Output {
}
