package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestProgressShowsTotalRateAndTimeLeft: the bar knows its total from the
// start, and every frame shows the count out of it, a rate and the time
// left (it read "(0/-, 0 events/hr)" when the total came only with the
// first report).
func TestProgressShowsTotalRateAndTimeLeft(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	p := newProgress(&out, "replaying audit", "events", 1000, 0)
	first := out.String()
	require.Contains(t, first, "(0/1000", "the first frame already knows the total")
	for done := int64(100); done <= 500; done += 100 {
		p.report(done, 1000)
	}
	frames := strings.Split(out.String(), "\r")
	last := ""
	for _, f := range frames {
		if strings.Contains(f, "500/1000") {
			last = f
		}
	}
	require.NotEmpty(t, last, "a frame shows 500 of 1000: %q", out.String())
	require.Contains(t, last, "replaying audit")
	require.Contains(t, last, " 50%")
	require.Regexp(t, regexp.MustCompile(`\d+ events/(s|min|hr)`), last, "the rate")
	require.Regexp(t, regexp.MustCompile(`\[\d+\w*:\d+\w*\]`), last, "elapsed and time left")

	// A total that grows (a rebuild reads the head again) moves the end.
	p.report(600, 1200)
	require.Contains(t, out.String(), "600/1200")
	p.finish()
}

func TestProgressWithNothingToDoDrawsNothing(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	p := newProgress(&out, "verifying", "events", 0, 0)
	p.report(0, 0)
	p.finish()
	require.Empty(t, out.String())
}
