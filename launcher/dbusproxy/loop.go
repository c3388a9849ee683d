package dbusproxy

import (
	"fmt"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Every socket of every proxy in the process is served by one loop, in one
// goroutine, as xdg-dbus-proxy serves them from one thread: it blocks in
// epoll_wait(2) and handles what is ready with non-blocking reads and
// writes. A message therefore goes from one socket to the other in the
// thread the kernel woke, with no hand-over between goroutines: waiting
// in Go's network poller costs a round through the scheduler (another
// thread woken to poll, the goroutine queued and picked up) on every
// message, which is most of a proxy's time per call. Neither idle nor busy
// clients hold a goroutine. Everything the loop owns (the clients, their
// buffers and queues) is touched only by it; other goroutines hand it work
// with post.

// loop is the process's event loop.
type loop struct {
	epfd, wake int
	handlers   map[uint64]func(events uint32) // by registration key
	next       uint64
	ready      []func() // work to do before waiting again
	noPwait2   bool     // the kernel has no epoll_pwait2

	mu     sync.Mutex
	posted []func()
	woken  bool
}

var (
	loopOnce sync.Once
	loopOne  *loop
)

// theLoop returns the process's loop, started on first use.
func theLoop() *loop {
	loopOnce.Do(func() { loopOne = newLoop() })
	return loopOne
}

func newLoop() *loop {
	lp := &loop{handlers: map[uint64]func(uint32){}}
	var err error
	if lp.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		panic(fmt.Sprintf("dbusproxy: cannot create epoll set: %v", err))
	}
	if lp.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		panic(fmt.Sprintf("dbusproxy: cannot create eventfd: %v", err))
	}
	if err := lp.ctl(unix.EPOLL_CTL_ADD, lp.wake, 0, unix.EPOLLIN); err != nil {
		panic(fmt.Sprintf("dbusproxy: %v", err))
	}
	go lp.run()
	return lp
}

// post has the loop run f; it may be called from any goroutine.
func (lp *loop) post(f func()) {
	lp.mu.Lock()
	lp.posted = append(lp.posted, f)
	wake := !lp.woken
	lp.woken = true
	lp.mu.Unlock()
	if wake {
		var one = [8]byte{1}
		unix.Write(lp.wake, one[:])
	}
}

// later has the loop run f before it waits again; loop only.
func (lp *loop) later(f func()) { lp.ready = append(lp.ready, f) }

// add registers fd for events, handled by h; loop only. It returns the
// registration's key.
func (lp *loop) add(fd int, events uint32, h func(uint32)) (uint64, error) {
	lp.next++
	key := lp.next
	if err := lp.ctl(unix.EPOLL_CTL_ADD, fd, key, events); err != nil {
		return 0, err
	}
	lp.handlers[key] = h
	return key, nil
}

// modify changes what fd (registered under key) is watched for; loop only.
func (lp *loop) modify(fd int, key uint64, events uint32) error {
	return lp.ctl(unix.EPOLL_CTL_MOD, fd, key, events)
}

// remove unregisters fd; loop only. The caller closes fd.
func (lp *loop) remove(fd int, key uint64) {
	delete(lp.handlers, key)
	unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

func (lp *loop) ctl(op, fd int, key uint64, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(key), Pad: int32(key >> 32)}
	if err := unix.EpollCtl(lp.epfd, op, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

func (lp *loop) run() {
	events := make([]unix.EpollEvent, 128)
	for {
		for len(lp.ready) > 0 {
			f := lp.ready[0]
			lp.ready[0] = nil
			lp.ready = lp.ready[1:]
			f()
		}
		lp.ready = lp.ready[:0:0]
		n, err := lp.wait(events)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			panic(fmt.Sprintf("dbusproxy: epoll_wait: %v", err))
		}
		for _, ev := range events[:n] {
			key := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if key == 0 {
				lp.runPosted()
				continue
			}
			if h := lp.handlers[key]; h != nil {
				h(ev.Events)
			}
		}
	}
}

// lingerFor is how long the loop waits for the next event with a raw
// system call before it waits with one the runtime is told about.
const lingerFor = 500 * time.Microsecond

// wait waits for events. A busy proxy's next message comes within a round
// trip: for that long it waits in a raw epoll_pwait2, which the runtime
// takes for running code. Its usual system call entry, for the long wait
// of an idle loop, wakes the runtime's monitor thread whenever that sleeps
// (a futex wake and a context switch per message, and the monitor then
// polls every 20 µs for a while). A signal (the runtime preempting this
// goroutine) ends the raw wait early: 0 events.
func (lp *loop) wait(events []unix.EpollEvent) (int, error) {
	if !lp.noPwait2 {
		ts := unix.NsecToTimespec(int64(lingerFor))
		r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT2, uintptr(lp.epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(unsafe.Pointer(&ts)), 0, 0)
		switch errno {
		case 0:
			if r > 0 {
				return int(r), nil
			}
		case unix.EINTR:
			return 0, nil
		default: // ENOSYS: a kernel before 5.11
			lp.noPwait2 = true
		}
	}
	return unix.EpollWait(lp.epfd, events, -1)
}

func (lp *loop) runPosted() {
	var buf [8]byte
	unix.Read(lp.wake, buf[:])
	lp.mu.Lock()
	posted := lp.posted
	lp.posted = nil
	lp.woken = false
	lp.mu.Unlock()
	for _, f := range posted {
		f()
	}
}
