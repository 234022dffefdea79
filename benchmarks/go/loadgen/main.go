// Command loadgen is the benchmark's load generator and LITE sink in one cheap process: the Go
// twin of benchmarks/lite_load.py + benchmarks/sink.py, so that at 1,000 sessions the generator's
// own scheduling delays stay out of the bridge's measured packet latency.
//
// N sessions each Converse with config.attach to this process's own WebSocket sink, wait for
// CONNECTED, stream 24 kHz PCM16 chunks paced in real time from a common start (each session at a
// random phase within the chunk period), then speak_end and a half-close, and wait for the end.
// Sessions share one HTTP/2 connection per 100. The sink answers with the connected state, stamps
// every agent.speak packet on arrival (latency = arrival − send time of the last client chunk the
// packet carries) and answers agent.speak_end with agent.speak_ended.
//
// Stdout: the line "streaming" when the common start is reached, then one JSON document (one
// line); with -hold the process then stays until its stdin closes.
// Built in GOPATH mode from Debian's packages; see benchmarks/go/build.sh.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	pb "github.com/avatar-bridge/avatar-bridge/clients/go/avatarbridge/v1"
)

const (
	rate       = 24000
	bytesPerMs = rate * 2 / 1000
)

// sessionsPerChannel is how many sessions share one HTTP/2 connection (-sessions-per-conn).
var sessionsPerChannel = 100

// base is the zero of every stamp (time.Since reads the monotonic clock).
var base = time.Now()

func now() int64 { return int64(time.Since(base)) }

// session is one conversation's traffic: send stamps written by the sender, read by the sink.
type session struct {
	sent      []int64 // ns since base, per client chunk
	sentCount int64   // atomic: stamps published so far
	chunk     int

	mu        sync.Mutex // guards the sink's side below
	received  int
	packets   int
	latencies []float64 // ms
	arrivals  []int64   // ns since base, one per latency
}

func (s *session) onAudio(pcm int, at int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.packets++
	s.received += pcm
	last := (s.received+s.chunk-1)/s.chunk - 1
	if last >= 0 && int64(last) < atomic.LoadInt64(&s.sentCount) {
		s.latencies = append(s.latencies, float64(at-s.sent[last])/1e6)
		s.arrivals = append(s.arrivals, at)
	}
}

type outcome struct {
	connected, okCalls, starvations int64
	mu                              sync.Mutex
	errors                          map[string]int
}

func (o *outcome) fail(kind string) {
	o.mu.Lock()
	o.errors[kind]++
	o.mu.Unlock()
}

func main() {
	target := flag.String("target", "127.0.0.1:50051", "bridge address")
	sessions := flag.Int("sessions", 10, "concurrent sessions")
	chunkMs := flag.Int("chunk-ms", 100, "client chunk length in ms")
	seconds := flag.Float64("seconds", 6, "audio per session in seconds")
	rampS := flag.Float64("ramp-s", -1, "open the sessions over this long (default sessions/200, at most 5 s)")
	spreadS := flag.Float64("spread-s", 0, "start each session's audio at a random time within this long (at least one chunk period): 0 starts every utterance within one chunk period of the others")
	flag.IntVar(&sessionsPerChannel, "sessions-per-conn", 100, "sessions per HTTP/2 connection (the kernel spreads connections, not calls, across SO_REUSEPORT workers)")
	hold := flag.Bool("hold", false, "after the report, stay until stdin closes (so a driver can read this process's CPU from /proc)")
	flag.Parse()
	if *rampS < 0 {
		*rampS = math.Min(5, float64(*sessions)/200)
	}
	if err := run(*target, *sessions, *chunkMs, *seconds, *rampS, *spreadS); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	if *hold {
		io.Copy(io.Discard, os.Stdin)
	}
}

func run(target string, n, chunkMs int, seconds, rampS, spreadS float64) error {
	step := chunkMs * bytesPerMs
	audio := make([]byte, int(seconds*1000)*bytesPerMs)
	rand.Read(audio)
	chunks := (len(audio)-step)/step + 1
	all := make([]*session, n)
	for i := range all {
		all[i] = &session{sent: make([]int64, chunks), chunk: step}
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer listener.Close()
	go serveSink(listener, all)
	sinkURL := "ws://" + listener.Addr().String() + "/loadgen-"

	conns := make([]*grpc.ClientConn, (n+sessionsPerChannel-1)/sessionsPerChannel)
	for i := range conns {
		if conns[i], err = grpc.Dial(target, grpc.WithInsecure()); err != nil {
			return err
		}
		defer conns[i].Close()
	}
	out := &outcome{errors: map[string]int{}}
	streamAt := now() + int64((rampS+1+float64(n)/400)*1e9)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		client := pb.NewAvatarBridgeServiceClient(conns[i/sessionsPerChannel])
		url := sinkURL + strconv.Itoa(i)
		wg.Add(1)
		go func(s *session) {
			defer wg.Done()
			converse(client, url, s, audio, streamAt, chunkMs, spreadS, out)
		}(all[i])
		time.Sleep(time.Duration(rampS * 1e9 / float64(n)))
	}
	time.Sleep(time.Duration(streamAt - now()))
	fmt.Println("streaming")
	wg.Wait()

	var latencies, steady []float64
	byWindow := map[int][]float64{}
	steadyFrom, steadyTo := streamAt+int64((1+spreadS)*1e9), streamAt+int64((seconds-1)*1e9)
	packets, received := 0, 0
	for _, s := range all {
		s.mu.Lock()
		latencies = append(latencies, s.latencies...)
		for i, at := range s.arrivals {
			w := int((at - streamAt) / (timelineWindowMs * 1e6))
			byWindow[w] = append(byWindow[w], s.latencies[i])
			if at >= steadyFrom && at < steadyTo {
				steady = append(steady, s.latencies[i])
			}
		}
		packets += s.packets
		received += s.received
		s.mu.Unlock()
	}
	sort.Float64s(latencies)
	sort.Float64s(steady)
	var usage syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	errors := 0
	for _, count := range out.errors {
		errors += count
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"sessions":       n,
		"chunk_ms":       chunkMs,
		"seconds":        seconds,
		"connected":      out.connected,
		"ok_calls":       out.okCalls,
		"errors":         errors,
		"error_kinds":    out.errors,
		"starvations":    out.starvations,
		"packets":        packets,
		"received_bytes": received,
		"latency_p50_ms": pct(latencies, 0.5),
		"latency_p99_ms": pct(latencies, 0.99),
		"latency_max_ms": pct(latencies, 1),
		"cpu_s":          seconds_(usage.Utime) + seconds_(usage.Stime),
		"timeline":       timeline(byWindow),
		// Leaving out the first second (after -spread-s) and the last: with no spread every
		// session starts its utterance within one chunk period of the others and ends it so
		// too, a herd that real traffic spreads out.
		"steady_p99_ms": pct(steady, 0.99),
	})
}

// timelineWindowMs is the width of one timeline window: short enough to show a single stall.
const timelineWindowMs = 250

// timeline gives per window of arrival time (from the common start) its packet count, p99 and
// max latency: a tail that sits in one or two windows is a stall (a collector pass, say), one
// spread over all of them is steady queueing.
func timeline(byWindow map[int][]float64) [][4]float64 {
	keys := make([]int, 0, len(byWindow))
	for w := range byWindow {
		keys = append(keys, w)
	}
	sort.Ints(keys)
	rows := make([][4]float64, 0, len(keys))
	for _, w := range keys {
		l := byWindow[w]
		sort.Float64s(l)
		rows = append(rows, [4]float64{
			float64(w) * timelineWindowMs / 1e3, float64(len(l)), pct(l, 0.99), pct(l, 1),
		})
	}
	return rows
}

func seconds_(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// pct matches benchmarks.run._pct: the nearest-rank value of an ordered list.
func pct(ordered []float64, q float64) float64 {
	if len(ordered) == 0 {
		return 0
	}
	i := int(math.Round(q * float64(len(ordered)-1)))
	if i > len(ordered)-1 {
		i = len(ordered) - 1
	}
	return ordered[i]
}

func converse(
	client pb.AvatarBridgeServiceClient, url string, s *session, audio []byte, streamAt int64,
	chunkMs int, spreadS float64, out *outcome,
) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	call, err := client.Converse(ctx)
	if err != nil {
		out.fail("open")
		return
	}
	config := &pb.ConverseRequest{Request: &pb.ConverseRequest_Config{Config: &pb.SessionConfig{
		InputAudio: &pb.AudioFormat{
			Encoding: pb.AudioEncoding_AUDIO_ENCODING_LINEAR16, SampleRateHertz: rate, ChannelCount: 1,
		},
		Session: &pb.SessionConfig_Attach{Attach: &pb.AttachSession{
			SessionId: url[strings.LastIndex(url, "/")+1:],
			Target:    &pb.AttachSession_Lite{Lite: &pb.LiteAttachment{WsUrl: url}},
		}},
	}}}
	if err := call.Send(config); err != nil {
		out.fail("send")
		return
	}
	connected := make(chan struct{})
	ended := make(chan error, 1)
	go func() {
		once := false
		for {
			event, err := call.Recv()
			if err != nil {
				ended <- err
				return
			}
			switch {
			case event.GetSessionStateChanged().GetState() == pb.SessionState_SESSION_STATE_CONNECTED:
				if !once {
					once = true
					close(connected)
				}
			case event.GetError() != nil:
				out.fail(event.GetError().GetCode())
			case event.GetWarning().GetCode() == "VIDEO_STARVATION":
				atomic.AddInt64(&out.starvations, 1)
			}
		}
	}()
	select {
	case <-connected:
	case err := <-ended:
		out.fail("ended before CONNECTED: " + status.Code(err).String())
		return
	case <-time.After(120 * time.Second):
		out.fail("TimeoutError")
		return
	}
	atomic.AddInt64(&out.connected, 1)
	step := chunkMs * bytesPerMs
	t0 := streamAt + int64(rand.Float64()*math.Max(float64(chunkMs)*1e6, spreadS*1e9))
	for index := range s.sent {
		if delay := t0 + int64(index*chunkMs)*1e6 - now(); delay > 0 {
			time.Sleep(time.Duration(delay))
		}
		s.sent[index] = now()
		atomic.StoreInt64(&s.sentCount, int64(index+1))
		chunk := audio[index*step : (index+1)*step]
		if err := call.Send(&pb.ConverseRequest{Request: &pb.ConverseRequest_Audio{
			Audio: &pb.AudioChunk{Data: chunk},
		}}); err != nil {
			break // the reader reports the call's status
		}
	}
	call.Send(&pb.ConverseRequest{Request: &pb.ConverseRequest_SpeakEnd{SpeakEnd: &pb.SpeakEnd{}}})
	call.CloseSend()
	select {
	case err := <-ended:
		if err == io.EOF {
			atomic.AddInt64(&out.okCalls, 1)
		} else {
			out.fail(status.Code(err).String())
		}
	case <-time.After(60 * time.Second):
		out.fail("TimeoutError")
	}
}
