// Package progress draws a one-line progress report (objects done/total,
// bytes, rate, ETA) on a terminal and stays silent when the output is not one.
//
// Glossary:
//   - Line: the single status line, redrawn in place with "\r" and cleared
//     with "\x1b[K"; Done ends it with a newline.
//   - Redraw interval: the minimum time between two draws (rate limiting);
//     counters are updated far more often than the line is drawn.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// Bar is a progress line. All methods are safe for concurrent use; a nil
// *Bar is valid and does nothing, so libraries can take an optional one.
type Bar struct {
	w        io.Writer
	label    string
	interval time.Duration
	now      func() time.Time

	done, total, bytes atomic.Int64

	mu       sync.Mutex
	start    time.Time
	lastDraw time.Time
	drawn    bool
	finished bool
}

// Options tune a Bar.
type Options struct {
	// Interval between redraws; 0 means 100ms.
	Interval time.Duration
	// Force draws even when w is not a terminal (tests).
	Force bool
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// New returns a Bar drawing on w, or nil when w is not a terminal (so all
// calls are no-ops and nothing is printed when output is piped).
func New(w io.Writer, label string, opts Options) *Bar {
	if !opts.Force && !IsTerminal(w) {
		return nil
	}
	if opts.Interval == 0 {
		opts.Interval = 100 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Bar{w: w, label: label, interval: opts.Interval, now: opts.Now, start: opts.Now()}
}

// IsTerminal reports whether w is a terminal (an *os.File that is a TTY).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// AddTotal raises the number of objects expected.
func (b *Bar) AddTotal(n int64) {
	if b == nil {
		return
	}
	b.total.Add(n)
	b.maybeDraw()
}

// Add records n more objects done, carrying size bytes.
func (b *Bar) Add(n, size int64) {
	if b == nil {
		return
	}
	b.done.Add(n)
	b.bytes.Add(size)
	b.maybeDraw()
}

func (b *Bar) maybeDraw() {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished || now.Sub(b.lastDraw) < b.interval {
		return
	}
	b.lastDraw = now
	b.drawLocked(now)
}

func (b *Bar) drawLocked(now time.Time) {
	done, total, n := b.done.Load(), b.total.Load(), b.bytes.Load()
	elapsed := now.Sub(b.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(n) / elapsed
	}
	line := fmt.Sprintf("%s %d/%d objects, %s, %s/s", b.label, done, total, FormatBytes(n), FormatBytes(int64(rate)))
	if done > 0 && total > done && elapsed > 0 {
		eta := time.Duration(float64(total-done) * elapsed / float64(done) * float64(time.Second))
		line += ", ETA " + formatETA(eta)
	}
	fmt.Fprintf(b.w, "\r%s\x1b[K", line)
	b.drawn = true
}

// Done draws the final state and ends the line. Later calls do nothing.
func (b *Bar) Done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	b.drawLocked(b.now())
	fmt.Fprint(b.w, "\n")
}

// Clear erases the line without a final report (e.g. before an error).
func (b *Bar) Clear() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn && !b.finished {
		fmt.Fprint(b.w, "\r\x1b[K")
	}
	b.finished = true
}

// FormatBytes prints n like GLib's g_format_size: "1.2 MB", "512 bytes".
func FormatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		if n == 1 {
			return "1 byte"
		}
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

func formatETA(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}
