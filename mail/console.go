package mail

import (
	"context"
	"log/slog"
)

// Console "sends" mail to the log, for development: that a mail went to
// whom, and, only when ShowLinks is set (dev mode), its link, so a
// developer can follow it. In production the link would be a bearer
// credential in a log that is kept and shipped.
type Console struct {
	logger    *slog.Logger
	showLinks bool
}

// NewConsole returns the console sender.
func NewConsole(logger *slog.Logger, showLinks bool) *Console {
	return &Console{logger: logger, showLinks: showLinks}
}

// Send logs m.
func (c *Console) Send(ctx context.Context, m Message) error {
	attrs := []any{"to", m.To, "subject", m.Subject, "message_id", m.MessageID}
	if c.showLinks {
		attrs = append(attrs, "link", m.Link)
	}
	c.logger.InfoContext(ctx, "mail sent (console provider: not delivered)", attrs...)
	return nil
}
