// Command vaultd is the Secure Vault server. It is stateless: run as many
// replicas as needed over one PostgreSQL and one NATS cluster.
//
// Configuration comes from the environment; `vaultd --help-env` lists it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/securevault/vault/cmd/internal/buildinfo"
	"github.com/securevault/vault/config"
	"github.com/securevault/vault/devstate"
)

func main() {
	helpEnv := flag.Bool("help-env", false, "print the environment variables vaultd reads, as a Markdown table, and exit")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("vaultd", buildinfo.Version())
		return
	}
	if *helpEnv {
		if err := config.WriteTable(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "vaultd:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vaultd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, logOut io.Writer) error {
	// Configuration problems are reported before the configured logger
	// exists, so they go through a plain one.
	cfg, err := config.LoadWith(ctx, config.Options{
		Logger:      slog.New(slog.NewTextHandler(logOut, nil)),
		DevDatabase: devstate.Database,
	})
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := newLogger(cfg, logOut)
	a, err := newApp(ctx, cfg, logger, os.Stdout)
	if err != nil {
		return err
	}
	defer a.close()
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (%s): %w", cfg.ListenAddr, config.EnvListenAddr, err)
	}
	var metricsLn net.Listener
	if cfg.MetricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			_ = ln.Close()
			return fmt.Errorf("listen on %s (%s): %w", cfg.MetricsAddr, config.EnvMetricsAddr, err)
		}
	}
	stopReload := reloadOnHangup(ctx, a.reloadTLS)
	defer stopReload()
	err = a.serve(ctx, ln, metricsLn)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// reloadOnHangup calls reload on every SIGHUP until ctx ends or stop is
// called. The handler is in place when it returns, so a SIGHUP sent after
// that never falls to the default action (which would end the process).
func reloadOnHangup(ctx context.Context, reload func()) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload()
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}

func newLogger(cfg *config.Config, out io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(out, opts))
	}
	return slog.New(slog.NewTextHandler(out, opts))
}
