package mail

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the consumer's Prometheus series.
type Metrics struct{ m *metrics }

type metrics struct {
	sent        *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	failures    prometheus.Counter
	skipped     prometheus.Counter
	duplicates  prometheus.Counter
}

// NewMetrics registers the series with reg (nil: a private registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vault_mail_sent_total", Help: "Account mails handed to the provider, by purpose.",
		}, []string{"purpose"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vault_mail_dead_letters_total", Help: "Account mails given up on (MailDeadLettered events), by purpose.",
		}, []string{"purpose"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vault_mail_send_failures_total", Help: "Failed delivery attempts of account mail (each is retried until the last).",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vault_mail_skipped_total", Help: "Mail requests no longer needed when their turn came (address or password changed, user gone, too old).",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vault_mail_redeliveries_ignored_total", Help: "Redelivered events whose mail was already decided (sent, skipped or dead-lettered).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.sent, m.deadLetters, m.failures, m.skipped, m.duplicates)
	}
	return &Metrics{m: m}
}
