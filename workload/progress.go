package workload

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// A Progress draws the progress of a load as one line: a bar, the percentage, rows done of
// the total, the rate and the time left. On a terminal it redraws the line in place a few times
// a second; elsewhere (a log file, CI) it prints a new line every few seconds. It is safe for
// concurrent use, as loaders report from several goroutines.
type Progress struct {
	w     io.Writer
	tty   bool
	every time.Duration

	mu        sync.Mutex
	start     time.Time
	startDone int64
	last      time.Time
	done      int64
	total     int64
}

// NewProgress returns a Progress writing to w; tty says whether w is a terminal.
func NewProgress(w io.Writer, tty bool) *Progress {
	every := 5 * time.Second
	if tty {
		every = 200 * time.Millisecond
	}
	return &Progress{w: w, tty: tty, every: every}
}

// Update records that done of total rows are loaded, and redraws the line if it is due.
func (p *Progress) Update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.start.IsZero() {
		// The rate counts from the first report, so that a resumed load's rows loaded
		// before do not inflate it.
		p.start, p.startDone, p.last = now, done, now
	}
	p.done, p.total = done, total
	if now.Sub(p.last) >= p.every {
		p.last = now
		p.draw(now)
	}
}

// Finish draws the final state and ends the line.
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.start.IsZero() {
		return
	}
	p.draw(time.Now())
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

// draw writes the line; p.mu is held.
func (p *Progress) draw(now time.Time) {
	fmt.Fprint(p.w, p.line(now))
	if p.tty {
		return
	}
	fmt.Fprintln(p.w)
}

// line formats the progress line (with a leading carriage return on a terminal).
func (p *Progress) line(now time.Time) string {
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(p.done)/float64(p.total), 1)
	}
	const barWidth = 30
	filled := int(frac * barWidth)
	bar := strings.Repeat("#", filled) + strings.Repeat(".", barWidth-filled)
	rate := 0.0
	if el := now.Sub(p.start).Seconds(); el > 0 {
		rate = float64(p.done-p.startDone) / el
	}
	eta := "?"
	switch {
	case p.done >= p.total:
		eta = "0s"
	case rate > 0:
		eta = (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second).String()
	}
	s := fmt.Sprintf("[%s] %5.1f%%  %d/%d rows  %.0f rows/s  ETA %s", bar, 100*frac, p.done, p.total, rate, eta)
	if p.tty {
		// Pad over what a longer previous line left behind.
		return "\r" + s + "   "
	}
	return s
}
