package launcher

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// monoNow returns CLOCK_MONOTONIC in nanoseconds: the same clock in every
// process, so the stages' trace lines can be put on one time line.
func monoNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// tracer prints "trace: WHO WHAT T" lines on stderr, T being
// CLOCK_MONOTONIC in microseconds ($PORTHOLE_TRACE in the launching
// process turns it on for every stage).
type tracer struct {
	on  bool
	who string
}

func (t tracer) mark(what string) { t.markAt(what, monoNow()) }

func (t tracer) markAt(what string, ns int64) {
	if t.on {
		fmt.Fprintf(os.Stderr, "trace: %s %s %d\n", t.who, what, ns/1000)
	}
}
