package relay

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	published prometheus.Counter
	errors    prometheus.Counter
	lag       prometheus.Gauge
	leader    prometheus.Gauge
}

// newMetrics labels every series with the stream, so relays of several
// streams can share one registry.
func newMetrics(reg prometheus.Registerer, stream string) (*metrics, error) {
	labels := prometheus.Labels{"stream": stream}
	m := &metrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vault_relay_published_total", Help: "Events acknowledged by JetStream.", ConstLabels: labels,
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vault_relay_publish_errors_total", Help: "Failed publish batches and stream syncs (each is retried).", ConstLabels: labels,
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vault_relay_lag_events", Help: "Head position of the log minus the last published position.", ConstLabels: labels,
		}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vault_relay_leader", Help: "1 while this process is the publishing relay.", ConstLabels: labels,
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.published, m.errors, m.lag, m.leader} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("relay: register metrics: %w", err)
			}
		}
	}
	return m, nil
}
