package dbusproxy

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// An idle client costs no goroutine: each side of a client (its reads from
// the client, its reads from the bus) is served by a goroutine only while it
// is busy. That goroutine processes what can be read and then waits for
// more in the Go runtime's poller, as any reader of a socket; a sweeper
// nudges the sides that have waited with nothing to read for a while (a
// read deadline in the past), and their goroutines then register the side,
// one-shot, in an epoll set of this process and end. When such a side
// becomes readable, a new goroutine takes it over. The epoll set itself
// waits in the runtime's poller, so one goroutine waits for every idle
// side. A goroutine's stack (2 to 8 KiB) is so spent only on clients in
// use, and idle clients keep only their state; busy ones pay nothing more
// per message than a goroutine per side would.

// idleAfter is how long a side waits with nothing to read, between one and
// two times this, before its goroutine leaves it to the epoll set.
const idleAfter = 10 * time.Millisecond

// side is one direction of a client: the connection it reads, and whether
// a goroutine is at work on it.
type side struct {
	cl   *client
	rd   *reader
	pump func() error // reads and forwards until it would block
	key  uint64       // in the poller

	waiting  atomic.Bool   // its goroutine waits in the runtime's poller
	activity atomic.Uint64 // reads that came after waiting
	swept    uint64        // activity at the last sweep (poller.mu)

	mu       sync.Mutex
	running  int // goroutines in run (a resumed side may overlap the end of the last run)
	closed   bool
	released bool
	err      error // why the side stopped (nil: a hang-up or a close)
}

// errPaused is what a pump returns when it must not read until something
// else happens (the client side while name tracking is being set up).
var errPaused = fmt.Errorf("paused")

// run processes the side until it would block, then re-arms it. A side runs
// in one goroutine at a time: its registration is one-shot, and the
// goroutine is done with the side (s.mu marks the hand-over) before it
// re-arms.
func (s *side) run() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.running++
	s.mu.Unlock()
	err := guard(s.pump)
	if err == errPaused {
		err = nil // initAnswered resumes the side
	}
	s.mu.Lock()
	s.running--
	closed := s.closed
	release := closed && s.running == 0
	s.mu.Unlock()
	switch {
	case release:
		s.release()
	case closed:
	case err == errWouldBlock:
		s.cl.idle()
		if err := thePoller().arm(s, unix.EPOLL_CTL_MOD); err != nil {
			s.cl.fail(s, err)
		}
	case err != nil:
		s.cl.fail(s, err)
	}
}

// fill reads more for the side's pump, waiting in the runtime's poller as
// long as it takes, unless the sweeper finds the side idle: errWouldBlock.
func (s *side) fill() error {
	s.waiting.Store(true)
	err := s.rd.fill()
	s.waiting.Store(false)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if err := s.rd.c.SetReadDeadline(time.Time{}); err != nil {
			return err
		}
		return errWouldBlock
	}
	if err == nil {
		s.activity.Add(1)
	}
	return err
}

// close stops the side; its resources go at once if no goroutine is at
// work on it, else when that goroutine is done.
func (s *side) close() {
	s.mu.Lock()
	s.closed = true
	idle := s.running == 0
	s.mu.Unlock()
	if idle {
		s.release()
	}
}

func (s *side) release() {
	s.mu.Lock()
	if s.released {
		s.mu.Unlock()
		return
	}
	s.released = true
	s.mu.Unlock()
	thePoller().forget(s)
	s.rd.close()
	s.cl.sideDone()
}

// poller is the process's epoll set of idle sides, and the sweeper that
// finds them.
type poller struct {
	epfd     int
	file     *os.File
	rc       syscall.RawConn
	mu       sync.Mutex
	sides    map[uint64]*side
	next     uint64
	sweeping bool
}

var (
	pollerOnce sync.Once
	pollerOne  *poller
)

// thePoller returns the process's poller, started on first use.
func thePoller() *poller {
	pollerOnce.Do(func() { pollerOne = newPoller() })
	return pollerOne
}

func newPoller() *poller {
	p := &poller{sides: map[uint64]*side{}}
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		panic(fmt.Sprintf("dbusproxy: cannot create epoll set: %v", err))
	}
	p.epfd, p.file = fd, os.NewFile(uintptr(fd), "dbusproxy-epoll")
	if p.rc, err = p.file.SyscallConn(); err != nil {
		panic(fmt.Sprintf("dbusproxy: epoll set: %v", err))
	}
	go p.loop()
	return p
}

// add registers s and arms it.
func (p *poller) add(s *side) error {
	p.mu.Lock()
	p.next++
	s.key = p.next
	p.sides[s.key] = s
	if !p.sweeping {
		p.sweeping = true
		go p.sweep()
	}
	p.mu.Unlock()
	return p.arm(s, unix.EPOLL_CTL_ADD)
}

// sweep nudges the sides whose goroutines have waited with nothing to read
// since the last sweep: a read deadline in the past ends their wait. It
// stops when no side is left.
func (p *poller) sweep() {
	for {
		time.Sleep(idleAfter)
		p.mu.Lock()
		if len(p.sides) == 0 {
			p.sweeping = false
			p.mu.Unlock()
			return
		}
		for _, s := range p.sides {
			a := s.activity.Load()
			if s.waiting.Load() && a == s.swept {
				s.rd.c.SetReadDeadline(time.Unix(1, 0))
			}
			s.swept = a
		}
		p.mu.Unlock()
	}
}

// arm (re-)registers s for one readiness event. It holds the connection's
// fd while doing so, so that a concurrent close cannot let the number be
// reused by another connection in between.
func (p *poller) arm(s *side, op int) error {
	rc := s.rd.rc
	var err error
	cerr := rc.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(s.key), Pad: int32(s.key >> 32)}
		err = unix.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	if cerr != nil {
		return cerr // closed meanwhile
	}
	if err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// forget drops s; the kernel drops its registration when its fd closes.
func (p *poller) forget(s *side) {
	p.mu.Lock()
	delete(p.sides, s.key)
	p.mu.Unlock()
}

// loop waits in the runtime's poller until the epoll set has events, and
// starts a goroutine per ready side.
func (p *poller) loop() {
	events := make([]unix.EpollEvent, 128)
	for {
		n := 0
		err := p.rc.Read(func(fd uintptr) bool {
			var err error
			n, err = unix.EpollWait(int(fd), events, 0)
			if err != nil {
				n = 0
			}
			return n > 0
		})
		if err != nil {
			panic(fmt.Sprintf("dbusproxy: epoll set: %v", err))
		}
		p.mu.Lock()
		for _, ev := range events[:n] {
			if s := p.sides[uint64(uint32(ev.Fd))|uint64(uint32(ev.Pad))<<32]; s != nil {
				go s.run()
			}
		}
		p.mu.Unlock()
	}
}
