package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// embeddedNATS runs a JetStream-enabled NATS server inside vaultd for dev
// mode, listening on loopback only, with its data under the data directory.
type embeddedNATS struct {
	srv *server.Server
}

func startEmbeddedNATS(dataDir string, logger *slog.Logger) (*embeddedNATS, error) {
	opts := &server.Options{
		ServerName: "vaultd-embedded",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   filepath.Join(dataDir, "jetstream"),
		NoSigs:     true,
		NoLog:      true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded NATS did not start within 10s")
	}
	logger.Warn("NATS_URL is not set: running an embedded JetStream server (dev mode only)",
		"url", srv.ClientURL(), "store_dir", opts.StoreDir)
	return &embeddedNATS{srv: srv}, nil
}

func (e *embeddedNATS) URL() string { return e.srv.ClientURL() }

func (e *embeddedNATS) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
