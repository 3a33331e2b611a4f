// Package natstest runs a real NATS server with JetStream inside the test
// process, so tests exercise the same server the vault runs against without
// depending on one being installed, and can stop and restart it to play an
// outage.
package natstest

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Server is an embedded nats-server with JetStream enabled and file storage
// in the test's temporary directory.
type Server struct {
	storeDir string

	mu   sync.Mutex
	port int
	srv  *server.Server
}

// Start runs a server on a free loopback port and shuts it down when the test
// ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{storeDir: t.TempDir(), port: server.RANDOM_PORT}
	s.start(t)
	t.Cleanup(s.Shutdown)
	return s
}

// URL is the client URL; it stays the same across Restart.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("nats://127.0.0.1:%d", s.port)
}

// Shutdown stops the server and waits until it is gone. Clients see a
// disconnect; stored messages survive on disk for Restart.
func (s *Server) Shutdown() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Shutdown()
	srv.WaitForShutdown()
}

// Restart starts the server again on the same port and store directory, as
// a NATS deployment coming back after an outage. It shuts the running
// server down first if there is one.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Shutdown()
	s.start(t)
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	opts := &server.Options{
		ServerName: "natstest",
		Host:       "127.0.0.1",
		Port:       s.port,
		JetStream:  true,
		StoreDir:   s.storeDir,
		NoLog:      true,
		NoSigs:     true,
		// JetStream sizes its default limits from the machine; tests share
		// one small machine, so keep them modest.
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  1 << 30,
	}
	var srv *server.Server
	var err error
	// The port of a server that just stopped can take a moment to free up.
	for attempt := 0; ; attempt++ {
		srv, err = server.NewServer(opts)
		if err != nil {
			t.Fatalf("natstest: configure server: %v", err)
		}
		go srv.Start()
		if srv.ReadyForConnections(10 * time.Second) {
			break
		}
		srv.Shutdown()
		srv.WaitForShutdown()
		if attempt == 20 {
			t.Fatalf("natstest: server on port %d did not become ready", s.port)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if addr, ok := srv.Addr().(*net.TCPAddr); ok {
		s.port = addr.Port
	}
	s.srv = srv
}

// Connect opens a client connection that reconnects forever, quickly, so a
// Restart is noticed within a fraction of a second, and closes it when the
// test ends.
func Connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url,
		nats.Name(t.Name()),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond),
		nats.ReconnectJitter(10*time.Millisecond, 10*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("natstest: connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}
