package eventstore

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	appendSeconds  *prometheus.HistogramVec
	batchSize      prometheus.Histogram
	eventsAppended prometheus.Counter
	badSnapshots   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		appendSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vault_eventstore_append_seconds",
			Help:    "Time from an append request to its commit, by outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"outcome"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vault_eventstore_batch_appends",
			Help:    "Appends committed together by one group-commit transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		eventsAppended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vault_eventstore_events_appended_total",
			Help: "Events written to the log.",
		}),
		badSnapshots: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vault_eventstore_snapshots_rejected_total",
			Help: "Snapshots ignored because their MAC did not verify (forged, or made under an unknown key).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.appendSeconds, m.batchSize, m.eventsAppended, m.badSnapshots)
	}
	return m
}

func (m *metrics) observeAppend(d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.appendSeconds.WithLabelValues(outcome).Observe(d.Seconds())
}
