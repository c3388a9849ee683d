// Package busconntest is a raw bus client for tests: it sends messages
// with any descriptors attached and any count in the header, which godbus
// (and well-behaved libraries) never would.
package busconntest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// Client is one raw connection to a bus.
type Client struct {
	t      testing.TB
	c      *net.UnixConn
	r      *bufio.Reader
	serial uint32
	Name   string // unique name
}

// Dial connects to a unix:path= address, negotiates descriptor passing
// and says Hello. The connection is closed when t ends.
func Dial(t testing.TB, address string) *Client {
	t.Helper()
	var path string
	for _, kv := range strings.Split(strings.TrimPrefix(strings.Split(address, ";")[0], "unix:"), ",") {
		if v, ok := strings.CutPrefix(kv, "path="); ok {
			path = v
		}
	}
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatalf("dialing %s: %v", address, err)
	}
	t.Cleanup(func() { c.Close() })
	cl := &Client{t: t, c: c, r: bufio.NewReader(c)}
	uid := hex.EncodeToString([]byte(strconv.Itoa(os.Geteuid())))
	if _, err := c.Write([]byte("\x00AUTH EXTERNAL " + uid + "\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"OK ", "AGREE_UNIX_FD"} {
		line, err := cl.r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, want) {
			t.Fatalf("authenticating: %q, %v", line, err)
		}
	}
	reply := cl.Call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", nil, -1)
	if reply.Type != dbus.TypeMethodReply || len(reply.Body) != 1 {
		t.Fatalf("Hello = %v", reply)
	}
	cl.Name, _ = reply.Body[0].(string)
	return cl
}

// Close disconnects.
func (c *Client) Close() { c.c.Close() }

// Call sends a method call with body (h values as dbus.UnixFDIndex) and
// fds attached, its header counting unixFDs descriptors (-1: len(fds)),
// and returns the reply (a method return or error). It fails the test if
// none comes within 20 s.
func (c *Client) Call(dest string, path dbus.ObjectPath, iface, member string, body []any, unixFDs int, fds ...int) *dbus.Message {
	c.t.Helper()
	serial := c.Send(dest, path, iface, member, 0, body, unixFDs, fds...)
	c.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	defer c.c.SetReadDeadline(time.Time{})
	for {
		m, err := dbus.DecodeMessage(c.r)
		if err != nil {
			c.t.Fatalf("%s.%s: waiting for the reply: %v", iface, member, err)
		}
		if m.Type != dbus.TypeMethodReply && m.Type != dbus.TypeError {
			continue
		}
		if rs, _ := m.Headers[dbus.FieldReplySerial].Value().(uint32); rs == serial {
			return m
		}
	}
}

// Send sends a message without waiting and returns its serial.
func (c *Client) Send(dest string, path dbus.ObjectPath, iface, member string, flags dbus.Flags, body []any, unixFDs int, fds ...int) uint32 {
	c.t.Helper()
	c.serial++
	msg := &dbus.Message{
		Type:  dbus.TypeMethodCall,
		Flags: flags,
		Headers: map[dbus.HeaderField]dbus.Variant{
			dbus.FieldDestination: dbus.MakeVariant(dest),
			dbus.FieldPath:        dbus.MakeVariant(path),
			dbus.FieldMember:      dbus.MakeVariant(member),
		},
		Body: body,
	}
	if iface != "" {
		msg.Headers[dbus.FieldInterface] = dbus.MakeVariant(iface)
	}
	if len(body) > 0 {
		msg.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(body...))
	}
	if unixFDs < 0 {
		unixFDs = len(fds)
	}
	if unixFDs > 0 {
		msg.Headers[dbus.FieldUnixFDs] = dbus.MakeVariant(uint32(unixFDs))
	}
	var b bytes.Buffer
	if err := msg.EncodeTo(&b, binary.LittleEndian); err != nil {
		c.t.Fatalf("encoding %s: %v", member, err)
	}
	// EncodeTo took serial 0; set ours.
	binary.LittleEndian.PutUint32(b.Bytes()[8:12], c.serial)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if _, _, err := c.c.WriteMsgUnix(b.Bytes(), oob, nil); err != nil {
		c.t.Fatalf("sending %s: %v", member, err)
	}
	return c.serial
}

// FDCount returns how many descriptors process pid has open.
func FDCount(t testing.TB, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("counting descriptors: %v", err)
	}
	return len(ents)
}

// WaitFDCount waits until process pid has want descriptors open (calls
// sent without waiting for their replies finish in their own time) and
// returns the count, which differs from want only after 10 s.
func WaitFDCount(t testing.TB, pid, want int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := FDCount(t, pid)
		if n == want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Files returns n open descriptors of a fresh file holding content; the
// caller closes them.
func Files(t testing.TB, n int, content string) []int {
	t.Helper()
	p := t.TempDir() + "/f"
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	var fds []int
	for range n {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	return fds
}
