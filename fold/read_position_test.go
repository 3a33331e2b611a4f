package fold

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

type fixedHead int64

func (h fixedHead) HeadPosition(context.Context) (int64, error) { return int64(h), nil }

// appliedUpTo is a waiter whose read model has applied a fixed position.
type appliedUpTo int64

func (a appliedUpTo) WaitFor(_ context.Context, position int64, _ time.Duration, _ ...string) error {
	if position > int64(a) {
		return domain.Errorf(domain.EUNAVAILABLE, "not there")
	}
	return nil
}

// TestAwaitReadModelTellsWhatWasApplied: the position AwaitReadModel
// returns is the one it waited for, so a reader can keep what it read
// with it (queries keep secrets' rows so); without a waiter it is 0, since
// nothing is known.
func TestAwaitReadModelTellsWhatWasApplied(t *testing.T) {
	t.Parallel()
	const head = 20
	cases := []struct {
		name           string
		waiter         ReadModelWaiter
		decidedAt, min int64
		want           int64
		code           string
	}{
		{"decided position", appliedUpTo(head), 12, 0, 12, ""},
		{"minimum past the decided position", appliedUpTo(head), 12, 15, 15, ""},
		{"minimum before the decided position", appliedUpTo(head), 12, 3, 12, ""},
		{"no decided position: the head", appliedUpTo(head), 0, 0, head, ""},
		{"read model behind", appliedUpTo(10), 12, 0, 0, domain.EUNAVAILABLE},
		{"minimum beyond the head", appliedUpTo(head), 12, head + 1, 0, domain.EINVALID},
		{"no waiter: nothing known", nil, 12, 0, 0, ""},
		{"no waiter, negative minimum", nil, 12, -1, 0, domain.EINVALID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := AwaitReadModel(context.Background(), fixedHead(head), tc.waiter, tc.decidedAt, tc.min, time.Second, domain.ReadModelSecrets)
			if tc.code != "" {
				require.Equal(t, tc.code, domain.ErrorCode(err), "%v", err)
				require.Zero(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
