package siem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/securevault/vault/domain"
)

// Sink delivers formatted records. Write returns nil only once every record
// of the batch has been handed to the destination as durably as that
// destination allows (flushed, fsynced, or written to the socket); only then
// may the messages be acknowledged.
type Sink interface {
	Write(ctx context.Context, records [][]byte) error
	Close() error
}

// Framing delimits records on a byte stream.
type Framing int

const (
	// FramingLF ends each record with a line feed (JSON lines, CEF, and
	// syslog on stdout or in a file).
	FramingLF Framing = iota
	// FramingOctetCounting prefixes each record with its length and a
	// space (RFC 6587 3.4.1), the only TCP syslog framing that survives
	// any byte in a message.
	FramingOctetCounting
)

func frame(buf []byte, record []byte, f Framing) []byte {
	if f == FramingOctetCounting {
		buf = strconv.AppendInt(buf, int64(len(record)), 10)
		buf = append(buf, ' ')
		return append(buf, record...)
	}
	buf = append(buf, record...)
	return append(buf, '\n')
}

// OpenSink parses an --output value: stdout, file:PATH, tcp://host:port or
// udp://host:port. Syslog over TCP is octet-counted; everything else on a
// byte stream is one record per line.
func OpenSink(output, format string, stdout io.Writer) (Sink, error) {
	tcpFraming := FramingLF
	if format == FormatSyslog {
		tcpFraming = FramingOctetCounting
	}
	switch {
	case output == "stdout" || output == "-":
		return &writerSink{w: stdout}, nil
	case strings.HasPrefix(output, "file:"):
		path := strings.TrimPrefix(output, "file:")
		if path == "" {
			return nil, domain.Errorf(domain.EINVALID, "--output file: needs a path, like file:/var/log/vault-siem.log")
		}
		return OpenFile(path)
	}
	u, err := url.Parse(output)
	if err != nil || u.Host == "" || u.Port() == "" {
		return nil, domain.Errorf(domain.EINVALID, "--output %q is not stdout, file:PATH, tcp://host:port or udp://host:port", output)
	}
	switch u.Scheme {
	case "tcp":
		return NewTCPSink(u.Host, tcpFraming), nil
	case "udp":
		return NewUDPSink(u.Host), nil
	}
	return nil, domain.Errorf(domain.EINVALID, "--output scheme %q is not tcp or udp", u.Scheme)
}

// writerSink writes lines to an io.Writer such as stdout.
type writerSink struct {
	w   io.Writer
	buf []byte
}

func (s *writerSink) Write(_ context.Context, records [][]byte) error {
	s.buf = s.buf[:0]
	for _, r := range records {
		s.buf = frame(s.buf, r, FramingLF)
	}
	if _, err := s.w.Write(s.buf); err != nil {
		return fmt.Errorf("write to output: %w", err)
	}
	return nil
}

func (s *writerSink) Close() error { return nil }

// FileSink appends lines to a file and fsyncs after every batch, so an
// acknowledged event is on disk even if the machine loses power.
type FileSink struct {
	f   *os.File
	buf []byte
}

// OpenFile opens (creating, mode 0600) path for appending.
func OpenFile(path string) (*FileSink, error) {
	f, err := os.OpenFile(filepath.Clean(path), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open SIEM output file: %w", err)
	}
	return &FileSink{f: f}, nil
}

func (s *FileSink) Write(_ context.Context, records [][]byte) error {
	s.buf = s.buf[:0]
	for _, r := range records {
		s.buf = frame(s.buf, r, FramingLF)
	}
	if _, err := s.f.Write(s.buf); err != nil {
		return fmt.Errorf("write SIEM output file: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("fsync SIEM output file: %w", err)
	}
	return nil
}

func (s *FileSink) Close() error { return s.f.Close() }

// TCPSink writes to a syslog receiver over TCP, dialling lazily and again
// after any failure.
//
// TCP syslog has no application-level acknowledgement: a write that the
// kernel accepted can still be lost if the receiver dies before reading it.
// Before each batch the sink checks that the receiver has not closed the
// connection (a zero-wait read sees its FIN), which catches a receiver that
// went away while the forwarder was idle, the common case; the remaining
// window is inherent to the protocol (RELP closes it, at the cost of a
// receiver that speaks it).
type TCPSink struct {
	addr    string
	framing Framing
	timeout time.Duration

	mu   sync.Mutex
	conn net.Conn
	buf  []byte
}

// NewTCPSink returns a sink for addr (host:port).
func NewTCPSink(addr string, framing Framing) *TCPSink {
	return &TCPSink{addr: addr, framing: framing, timeout: 10 * time.Second}
}

func (s *TCPSink) Write(ctx context.Context, records [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil && !alive(s.conn) {
		s.drop()
	}
	if s.conn == nil {
		d := net.Dialer{Timeout: s.timeout, KeepAlive: 30 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", s.addr)
		if err != nil {
			return fmt.Errorf("connect to syslog receiver %s: %w", s.addr, err)
		}
		s.conn = conn
	}
	s.buf = s.buf[:0]
	for _, r := range records {
		s.buf = frame(s.buf, r, s.framing)
	}
	deadline := time.Now().Add(s.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = s.conn.SetWriteDeadline(deadline)
	if _, err := s.conn.Write(s.buf); err != nil {
		// Part of the batch may have reached the receiver; the whole batch
		// is sent again, so a receiver may see a record twice but never
		// miss one.
		s.drop()
		return fmt.Errorf("write to syslog receiver %s: %w", s.addr, err)
	}
	return nil
}

func (s *TCPSink) drop() {
	_ = s.conn.Close()
	s.conn = nil
}

func (s *TCPSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

// alive reports whether the peer has not closed conn. Syslog receivers never
// send, so any outcome of a read other than a timeout means the connection
// is gone (EOF, reset) or misused.
func alive(conn net.Conn) bool {
	_ = conn.SetReadDeadline(time.Now().Add(time.Millisecond))
	var one [1]byte
	_, err := conn.Read(one[:])
	_ = conn.SetReadDeadline(time.Time{})
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// UDPSink sends one datagram per record (RFC 5426), which is what UDP
// syslog receivers expect. UDP cannot tell whether a receiver got anything:
// use TCP where losing an event matters.
type UDPSink struct {
	addr string

	mu   sync.Mutex
	conn net.Conn
}

// NewUDPSink returns a sink for addr (host:port).
func NewUDPSink(addr string) *UDPSink { return &UDPSink{addr: addr} }

func (s *UDPSink) Write(ctx context.Context, records [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "udp", s.addr)
		if err != nil {
			return fmt.Errorf("resolve syslog receiver %s: %w", s.addr, err)
		}
		s.conn = conn
	}
	for _, r := range records {
		// A connected UDP socket reports an ICMP "port unreachable" from
		// an earlier datagram as an error here, the only sign of a
		// missing receiver UDP gives.
		if _, err := s.conn.Write(r); err != nil {
			_ = s.conn.Close()
			s.conn = nil
			return fmt.Errorf("send to syslog receiver %s: %w", s.addr, err)
		}
	}
	return nil
}

func (s *UDPSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
