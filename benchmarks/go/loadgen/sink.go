package main

// The LITE sink: a minimal RFC 6455 server (handshake, masked client frames, fragmentation,
// ping and close), enough for the bridge's websockets client without compression.

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

const (
	acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
	speakHead  = `{"type":"agent.speak",`
	audioKey   = `"audio":"`
	maxMessage = 1 << 22
)

var connectedEvent = []byte(`{"type":"session.state_updated","state":"connected"}`)

func serveSink(listener net.Listener, all []*session) {
	for {
		conn, err := listener.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			handle(conn, all)
		}()
	}
}

func handle(conn net.Conn, all []*session) {
	reader := bufio.NewReaderSize(conn, 64<<10)
	request, err := http.ReadRequest(reader)
	if err != nil {
		return
	}
	key := request.Header.Get("Sec-WebSocket-Key")
	if key == "" || !strings.EqualFold(request.Header.Get("Upgrade"), "websocket") {
		conn.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
		return
	}
	sum := sha1.Sum([]byte(key + acceptGUID))
	reply := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	if _, err := conn.Write([]byte(reply)); err != nil {
		return
	}
	var s *session
	path := request.URL.Path
	if index, err := strconv.Atoi(path[strings.LastIndex(path, "-")+1:]); err == nil &&
		index >= 0 && index < len(all) {
		s = all[index]
	}
	if writeFrame(conn, 0x1, connectedEvent) != nil {
		return
	}
	for {
		opcode, message, err := readMessage(reader, conn)
		if err != nil || opcode == 0x8 {
			return
		}
		at := now()
		text := string(message)
		if strings.HasPrefix(text, speakHead) {
			start := strings.Index(text, audioKey) + len(audioKey)
			end := start + strings.IndexByte(text[start:], '"')
			b64 := text[start:end]
			pcm := len(b64) * 3 / 4
			pcm -= strings.Count(b64[len(b64)-min2(2, len(b64)):], "=")
			if s != nil {
				s.onAudio(pcm, at)
			}
			continue
		}
		var event struct {
			Type    string          `json:"type"`
			EventID json.RawMessage `json:"event_id"`
		}
		if json.Unmarshal(message, &event) != nil || event.Type != "agent.speak_end" {
			continue
		}
		id := event.EventID
		if len(id) == 0 {
			id = json.RawMessage("null")
		}
		ended := `{"type":"agent.speak_ended","event_id":` + string(id) + `}`
		if writeFrame(conn, 0x1, []byte(ended)) != nil {
			return
		}
	}
}

func min2(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// readMessage returns the next whole data message (continuations joined), answering pings and
// close frames on the way; a close frame comes back as opcode 0x8.
func readMessage(reader *bufio.Reader, conn net.Conn) (byte, []byte, error) {
	var message []byte
	var opcode byte
	for {
		var head [2]byte
		if _, err := io.ReadFull(reader, head[:]); err != nil {
			return 0, nil, err
		}
		fin, op := head[0]&0x80 != 0, head[0]&0x0f
		masked, length := head[1]&0x80 != 0, uint64(head[1]&0x7f)
		switch length {
		case 126:
			var ext [2]byte
			if _, err := io.ReadFull(reader, ext[:]); err != nil {
				return 0, nil, err
			}
			length = uint64(binary.BigEndian.Uint16(ext[:]))
		case 127:
			var ext [8]byte
			if _, err := io.ReadFull(reader, ext[:]); err != nil {
				return 0, nil, err
			}
			length = binary.BigEndian.Uint64(ext[:])
		}
		if length > maxMessage || uint64(len(message))+length > maxMessage {
			return 0, nil, errors.New("message too big")
		}
		var mask [4]byte
		if masked {
			if _, err := io.ReadFull(reader, mask[:]); err != nil {
				return 0, nil, err
			}
		}
		payload := make([]byte, length)
		if _, err := io.ReadFull(reader, payload); err != nil {
			return 0, nil, err
		}
		if masked {
			for i := range payload {
				payload[i] ^= mask[i&3]
			}
		}
		switch op {
		case 0x8:
			writeFrame(conn, 0x8, payload[:min2(2, len(payload))])
			return 0x8, nil, nil
		case 0x9:
			if err := writeFrame(conn, 0xA, payload); err != nil {
				return 0, nil, err
			}
			continue
		case 0xA:
			continue
		case 0x0:
			message = append(message, payload...)
		default:
			opcode, message = op, payload
		}
		if fin {
			return opcode, message, nil
		}
	}
}

// writeFrame sends one unmasked final frame (servers never mask).
func writeFrame(conn net.Conn, opcode byte, payload []byte) error {
	frame := make([]byte, 0, len(payload)+10)
	frame = append(frame, 0x80|opcode)
	switch n := len(payload); {
	case n < 126:
		frame = append(frame, byte(n))
	case n < 1<<16:
		frame = append(frame, 126, byte(n>>8), byte(n))
	default:
		frame = append(frame, 127)
		frame = binary.BigEndian.AppendUint64(frame, uint64(n))
	}
	_, err := conn.Write(append(frame, payload...))
	return err
}
