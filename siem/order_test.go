package siem

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSequencerKeepsStreamOrder(t *testing.T) {
	t.Parallel()
	held := func(present ...uint64) func(context.Context, uint64) (bool, error) {
		return func(_ context.Context, seq uint64) (bool, error) {
			for _, p := range present {
				if p == seq {
					return true, nil
				}
			}
			return false, nil
		}
	}
	failing := func(context.Context, uint64) (bool, error) { return false, errors.New("nats down") }
	for _, tc := range []struct {
		name     string
		ackFloor uint64
		written  []uint64 // batches written before, by their last sequence
		seq      uint64
		present  func(context.Context, uint64) (bool, error)
		want     placement
		next     uint64 // expected next after the decision
	}{
		{"the first after the ack floor", 10, nil, 11, held(), place, 12},
		{"a fresh consumer starts at 1", 0, nil, 1, held(), place, 2},
		{"a redelivery of one acknowledged before", 10, nil, 7, held(), already, 11},
		{"a redelivery of one written this run", 10, []uint64{15}, 14, held(), already, 16},
		{"a jump over one the stream still holds", 10, nil, 13, held(11, 12), behind, 11},
		{"a jump over one only partly gone", 10, nil, 13, held(12), behind, 11},
		{"a jump over what retention removed", 10, nil, 13, held(), place, 14},
		{"a jump when the stream cannot be asked", 10, nil, 13, failing, behind, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s sequencer
			s.resume(tc.ackFloor)
			for _, w := range tc.written {
				s.wrote(w)
				s.rewind()
			}
			require.Equal(t, tc.want, s.place(context.Background(), tc.seq, tc.present))
			require.Equal(t, tc.next, s.next)
		})
	}
}

func TestSequencerResumeNeverGoesBack(t *testing.T) {
	t.Parallel()
	var s sequencer
	s.resume(5)
	s.wrote(9)
	s.resume(7) // the server has not processed every ack yet
	require.Equal(t, uint64(9), s.written)
	require.Equal(t, uint64(10), s.next)
}
