package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/securevault/vault/config"
	"github.com/securevault/vault/relay"
	"github.com/securevault/vault/siem"
)

// siemCmd forwards the event stream to a SIEM. It reads NATS only, so it
// runs where the database is not reachable (annotation db=no).
func siemCmd(e *env) *cobra.Command {
	var (
		natsURL, stream, format, output, consumer, since, hostname string
		batch                                                      int
	)
	cmd := &cobra.Command{
		Use:   "siem",
		Short: "Forward the event stream to a SIEM as ECS JSON lines, CEF or RFC 5424 syslog",
		Long: "siem is a durable JetStream consumer: it resumes where it stopped after a restart, acknowledges\n" +
			"an event only after it was written (and flushed) to the output, and backs off without losing\n" +
			"anything while a syslog receiver is down. Outputs: stdout, file:PATH, tcp://host:port,\n" +
			"udp://host:port (syslog over TCP is octet-counted, RFC 6587).",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{"db": "no"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			var start time.Time
			if since != "" {
				t, err := time.Parse(time.RFC3339, since)
				if err != nil {
					return fmt.Errorf("--since must be an RFC 3339 time like 2026-01-02T15:04:05Z: %w", err)
				}
				start = t
			}
			formatter, err := siem.NewFormatter(format, siem.FormatOptions{Hostname: hostname})
			if err != nil {
				return err
			}
			if natsURL == "" {
				return fmt.Errorf("--nats-url (or %s) is required", config.EnvNATSURL)
			}
			sink, err := siem.OpenSink(output, format, e.out)
			if err != nil {
				return err
			}
			defer func() { _ = sink.Close() }() // every batch was fsynced before its ack
			nc, err := nats.Connect(natsURL,
				nats.Name("vaultctl-siem"),
				nats.RetryOnFailedConnect(true),
				nats.MaxReconnects(-1),
				nats.ReconnectWait(time.Second),
			)
			if err != nil {
				return fmt.Errorf("connect to %s: %w", natsURL, err)
			}
			defer nc.Close()
			// A forwarder runs for days: say at info level (on stderr, as
			// stdout may be the feed itself) when the receiver comes back.
			logger := slog.New(slog.NewTextHandler(e.errOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
			f, err := siem.NewForwarder(nc, formatter, sink, logger, siem.Config{
				Stream: stream, Consumer: consumer, Since: start, BatchSize: batch,
			})
			if err != nil {
				return err
			}
			return f.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&natsURL, "nats-url", os.Getenv(config.EnvNATSURL), "NATS server URL (env "+config.EnvNATSURL+")")
	fl.StringVar(&stream, "stream", envOr(config.EnvJetStreamStream, relay.DefaultStream), "JetStream stream of vault events (env "+config.EnvJetStreamStream+")")
	fl.StringVar(&format, "format", siem.FormatECS, "output format: ecs, cef or syslog")
	fl.StringVar(&output, "output", "stdout", "stdout, file:PATH, tcp://host:port or udp://host:port")
	fl.StringVar(&consumer, "consumer", siem.DefaultConsumer, "durable consumer name; its position survives restarts")
	fl.StringVar(&since, "since", "", "RFC 3339 time to start from when the consumer is created (default: the stream's beginning)")
	fl.StringVar(&hostname, "hostname", "", "syslog HOSTNAME field (default: this machine's name)")
	fl.IntVar(&batch, "batch", siem.DefaultBatchSize, "events written and flushed together at most")
	return cmd
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
