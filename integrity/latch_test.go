package integrity_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/integrity"
)

func TestLatchKeepsTheFirstViolationAndLogsItOnce(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	l := integrity.NewLatch(slog.New(slog.NewJSONHandler(&logs, nil)), reg)
	require.False(t, l.Tripped())
	require.NoError(t, l.Check(context.Background()))

	l.Trip(17, "the event's content does not match its keyed link")
	l.Trip(17, "the event's content does not match its keyed link")
	l.Trip(3, "something else")

	require.True(t, l.Tripped())
	v, ok := l.Violation()
	require.True(t, ok)
	require.Equal(t, int64(17), v.Position)
	err := l.Check(context.Background())
	require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err))
	require.Contains(t, domain.ErrorMessage(err), "position 17")
	require.Equal(t, 1, strings.Count(logs.String(), `"level":"ERROR"`), logs.String())

	families, err := reg.Gather()
	require.NoError(t, err)
	values := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch {
			case m.GetGauge() != nil:
				values[f.GetName()] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				values[f.GetName()] = m.GetCounter().GetValue()
			}
		}
	}
	require.Equal(t, map[string]float64{
		"vault_log_integrity_violation":          1,
		"vault_log_integrity_violation_position": 17,
		"vault_log_integrity_reports_total":      3,
	}, values)
}
