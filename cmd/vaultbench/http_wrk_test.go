package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseWrk(t *testing.T) {
	t.Parallel()
	const ok = `Running 8s test @ http://127.0.0.1:1234
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.36ms    1.09ms  18.13ms   85.16%
  Latency Distribution
     50%    2.25ms
     75%    2.74ms
     90%    3.28ms
     99%  850.00us
  112912 requests in 8.00s, 50.87MB read
Requests/sec:  14114.00
`
	tests := []struct {
		name    string
		out     string
		wantErr string
	}{
		{"served", ok, ""},
		{"refusals are not a rate", ok + "  Non-2xx or 3xx responses: 3\n", "not 2xx"},
		{"socket errors fail", ok + "  Socket errors: connect 0, read 1, write 0, timeout 0\n", "socket errors"},
		{"no count", "wrk: unable to connect\n", "no request count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := parseWrk(tt.out)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, int64(112912), res.ops)
			require.Equal(t, 8*time.Second, res.elapsed)
			require.Equal(t, 2250*time.Microsecond, res.percentile(0.5))
			require.Equal(t, 850*time.Microsecond, res.percentile(0.99))
		})
	}
}
