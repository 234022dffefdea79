// Command lite-conversation runs one LITE conversation through an avatar bridge: a config, one
// utterance of µ-law silence, speak_end, then a half-close. It prints one line per event and exits
// 0 when the avatar finished the utterance and the call ended with OK.
//
// Built in GOPATH mode from Debian's packages (no Go module proxy needed); see clients/go/run.sh.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/grpc"

	pb "github.com/avatar-bridge/avatar-bridge/clients/go/avatarbridge/v1"
)

// LiveAvatar's sandbox avatar; sandbox sessions are free.
const sandboxAvatarID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"

func main() {
	target := flag.String("target", "localhost:50051", "bridge address")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	flag.Parse()
	if err := run(*target, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "lite-conversation:", err)
		os.Exit(1)
	}
}

func run(target string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := grpc.DialContext(ctx, target, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		return fmt.Errorf("dial %s: %w", target, err)
	}
	defer conn.Close()

	stream, err := pb.NewAvatarBridgeServiceClient(conn).Converse(ctx)
	if err != nil {
		return err
	}
	config := &pb.ConverseRequest{Request: &pb.ConverseRequest_Config{Config: &pb.SessionConfig{
		InputAudio: &pb.AudioFormat{
			Encoding: pb.AudioEncoding_AUDIO_ENCODING_MULAW, SampleRateHertz: 8000, ChannelCount: 1,
		},
		Session: &pb.SessionConfig_Create{Create: &pb.NewSession{
			AvatarId: sandboxAvatarID, IsSandbox: true, Mode: &pb.NewSession_Lite{Lite: &pb.LiteSession{}},
		}},
	}}}
	if err := stream.Send(config); err != nil {
		return err
	}

	spoke := false
	for {
		event, err := stream.Recv()
		if err == io.EOF {
			if !spoke {
				return fmt.Errorf("the call ended before the avatar finished speaking")
			}
			return nil // OK
		}
		if err != nil {
			return err
		}
		fmt.Printf("%s request_id=%q\n", kind(event), event.GetRequestId())
		switch e := event.Event.(type) {
		case *pb.ConverseResponse_SessionStarted:
			if err := speak(stream, "go-1"); err != nil {
				return err
			}
		case *pb.ConverseResponse_AvatarSpeakEnded:
			spoke = e.AvatarSpeakEnded.GetUtteranceId() == "go-1"
			if err := stream.CloseSend(); err != nil {
				return err
			}
		case *pb.ConverseResponse_Error:
			return fmt.Errorf("error event: %s", e.Error.GetMessage())
		}
	}
}

// speak sends 500 ms of µ-law silence (0xFF) in 100 ms chunks, then speak_end.
func speak(stream pb.AvatarBridgeService_ConverseClient, utterance string) error {
	chunk := make([]byte, 800)
	for i := range chunk {
		chunk[i] = 0xFF
	}
	for i := 0; i < 5; i++ {
		id := ""
		if i == 0 {
			id = utterance
		}
		audio := &pb.ConverseRequest{RequestId: id, Request: &pb.ConverseRequest_Audio{
			Audio: &pb.AudioChunk{Data: chunk},
		}}
		if err := stream.Send(audio); err != nil {
			return err
		}
	}
	return stream.Send(&pb.ConverseRequest{
		RequestId: utterance + "-end", Request: &pb.ConverseRequest_SpeakEnd{SpeakEnd: &pb.SpeakEnd{}},
	})
}

func kind(event *pb.ConverseResponse) string {
	switch event.Event.(type) {
	case *pb.ConverseResponse_SessionStarted:
		return "session_started"
	case *pb.ConverseResponse_AvatarSpeakStarted:
		return "avatar_speak_started"
	case *pb.ConverseResponse_AvatarSpeakEnded:
		return "avatar_speak_ended"
	case *pb.ConverseResponse_SessionStopped:
		return "session_stopped"
	default:
		return fmt.Sprintf("%T", event.Event)
	}
}
