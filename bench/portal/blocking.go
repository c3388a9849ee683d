package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// blockingConn is a D-Bus client that makes each call as libdbus's
// dbus_connection_send_with_reply_and_block and sd-bus's sd_bus_call do:
// write the call, then wait for the reply in a blocking read on the
// socket, in the calling thread. It measures a frontend with less of the
// client's own scheduling in the way than godbus (a reader goroutine
// handing each reply to the caller).
type blockingConn struct {
	fd     int
	serial uint32
	buf    []byte
}

func dialBlocking(addr string) (*blockingConn, error) {
	path, ok := strings.CutPrefix(strings.Split(addr, ",")[0], "unix:path=")
	if !ok {
		return nil, fmt.Errorf("blocking client: unsupported address %q", addr)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	c := &blockingConn{fd: fd}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		c.Close()
		return nil, os.NewSyscallError("connect", err)
	}
	uid := hex.EncodeToString([]byte(strconv.Itoa(os.Getuid())))
	if err := c.write([]byte("\x00AUTH EXTERNAL " + uid + "\r\n")); err != nil {
		c.Close()
		return nil, err
	}
	for !bytes.Contains(c.buf, []byte("\r\n")) {
		if err := c.fill(); err != nil {
			c.Close()
			return nil, err
		}
	}
	if !bytes.HasPrefix(c.buf, []byte("OK ")) {
		c.Close()
		return nil, fmt.Errorf("blocking client: AUTH answered %q", c.buf)
	}
	c.buf = c.buf[:0]
	if err := c.write([]byte("BEGIN\r\n")); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.Hello"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *blockingConn) Close() error { return unix.Close(c.fd) }

func (c *blockingConn) write(b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(c.fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("write", err)
		}
		b = b[n:]
	}
	return nil
}

func (c *blockingConn) fill() error {
	if cap(c.buf)-len(c.buf) < 4096 {
		c.buf = append(make([]byte, 0, 2*cap(c.buf)+4096), c.buf...)
	}
	n, err := unix.Read(c.fd, c.buf[len(c.buf):cap(c.buf)])
	if err == unix.EINTR {
		return nil
	}
	if err != nil {
		return os.NewSyscallError("read", err)
	}
	if n == 0 {
		return errors.New("blocking client: bus hung up")
	}
	c.buf = c.buf[:len(c.buf)+n]
	return nil
}

// encodeCall encodes a method call (serial 0: call sets it).
func encodeCall(dest, path, method string, args ...any) ([]byte, error) {
	i := strings.LastIndexByte(method, '.')
	msg := &dbus.Message{Type: dbus.TypeMethodCall, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldDestination: dbus.MakeVariant(dest),
		dbus.FieldPath:        dbus.MakeVariant(dbus.ObjectPath(path)),
		dbus.FieldInterface:   dbus.MakeVariant(method[:i]),
		dbus.FieldMember:      dbus.MakeVariant(method[i+1:]),
	}, Body: args}
	if len(args) > 0 {
		msg.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(args...))
	}
	var b bytes.Buffer
	if err := msg.EncodeTo(&b, binary.LittleEndian); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// call makes one call and waits for its reply (the only call in flight:
// the first method return or error is its reply; signals are skipped).
func (c *blockingConn) call(dest, path, method string, args ...any) error {
	m, err := encodeCall(dest, path, method, args...)
	if err != nil {
		return err
	}
	return c.callEncoded(m)
}

func (c *blockingConn) callEncoded(m []byte) error {
	c.serial++
	binary.LittleEndian.PutUint32(m[8:], c.serial)
	if err := c.write(m); err != nil {
		return err
	}
	for {
		for len(c.buf) >= 16 {
			order := binary.ByteOrder(binary.LittleEndian)
			if c.buf[0] == 'B' {
				order = binary.BigEndian
			}
			fields := int(order.Uint32(c.buf[12:]))
			total := 16 + (fields+7)&^7 + int(order.Uint32(c.buf[4:]))
			if len(c.buf) < total {
				break
			}
			typ := c.buf[1]
			c.buf = c.buf[:copy(c.buf, c.buf[total:])]
			switch typ {
			case byte(dbus.TypeMethodReply):
				return nil
			case byte(dbus.TypeError):
				return errors.New("blocking client: the call failed")
			}
		}
		if err := c.fill(); err != nil {
			return err
		}
	}
}
