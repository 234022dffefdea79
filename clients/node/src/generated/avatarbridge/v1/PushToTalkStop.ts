// Original file: ../../protos/avatarbridge/v1/avatar_bridge.proto


export interface PushToTalkStop {
}

export interface PushToTalkStop__Output {
}
