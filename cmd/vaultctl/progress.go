package main

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressThrottle bounds how often a bar is redrawn.
const progressThrottle = 100 * time.Millisecond

// progress is a bar of done out of a total known from the start, with the
// rate (units per second, averaged over the last seconds) and the time
// left: "replaying audit  40% |████      | (40000/100000, 85000 events/s) [0s:1s]".
type progress struct {
	bar   *progressbar.ProgressBar
	total int64
}

// newProgress draws on w. A total of 0 (nothing to do) draws nothing.
func newProgress(w io.Writer, description, unit string, total int64, throttle time.Duration) *progress {
	p := &progress{total: total}
	if total <= 0 {
		return p
	}
	p.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(description),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(throttle),
		progressbar.OptionClearOnFinish(),
	)
	_ = p.bar.RenderBlank()
	return p
}

// report moves the bar to done. A total that grew meanwhile (a rebuild
// replays up to the head it reads in its transaction, which may be past
// the one counted before) moves the end.
func (p *progress) report(done, total int64) {
	if p.bar == nil {
		return
	}
	if total > p.total {
		p.total = total
		p.bar.ChangeMax64(total)
	}
	_ = p.bar.Set64(min(done, p.total))
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// progress shows a bar on stderr for total units of work; report feeds it
// (done of total), finish clears it.
func (e *env) progress(description, unit string, total int64) (report func(done, total int64), finish func()) {
	p := newProgress(e.errOut, description, unit, total, progressThrottle)
	return p.report, p.finish
}
