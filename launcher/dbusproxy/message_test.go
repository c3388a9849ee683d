package dbusproxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"
)

// capturedMessages returns the messages of a real session (godbus client,
// dbus-daemon 1.14) recorded in testdata/messages.
func capturedMessages(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("testdata/messages/*.bin")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captured messages: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

// fieldsOf decodes m with godbus and returns the fields our parser keeps.
func fieldsOf(t *testing.T, m []byte) header {
	t.Helper()
	msg, err := dbus.DecodeMessage(bytes.NewReader(m))
	if err != nil {
		t.Fatalf("godbus cannot decode: %v", err)
	}
	h := header{typ: byte(msg.Type), flags: byte(msg.Flags), serial: msg.Serial()}
	str := func(f dbus.HeaderField) string {
		v, ok := msg.Headers[f]
		if !ok {
			return ""
		}
		switch x := v.Value().(type) {
		case string:
			return x
		case dbus.ObjectPath:
			return string(x)
		case dbus.Signature:
			return x.String()
		}
		return ""
	}
	h.path, h.iface, h.member = str(dbus.FieldPath), str(dbus.FieldInterface), str(dbus.FieldMember)
	h.errName, h.dest, h.sender, h.sig = str(dbus.FieldErrorName), str(dbus.FieldDestination), str(dbus.FieldSender), str(dbus.FieldSignature)
	if v, ok := msg.Headers[dbus.FieldReplySerial]; ok {
		h.hasReplySerial, h.replySerial = true, v.Value().(uint32)
	}
	if v, ok := msg.Headers[dbus.FieldUnixFDs]; ok {
		h.unixFDs = v.Value().(uint32)
	}
	return h
}

var headerCmp = cmp.AllowUnexported(header{})

func comparable(h header) header {
	h.order = nil
	h.bodyLen, h.bodyOff = 0, 0
	return h
}

func TestParseHeaderCaptured(t *testing.T) {
	for name, m := range capturedMessages(t) {
		n, err := messageLen(m, MaxMessageSize)
		if err != nil || n != len(m) {
			t.Errorf("%s: messageLen = %d, %v, want %d", name, n, err, len(m))
			continue
		}
		h, err := parseHeader(m, true)
		if err != nil {
			t.Errorf("%s: parseHeader: %v", name, err)
			continue
		}
		if diff := cmp.Diff(comparable(fieldsOf(t, m)), comparable(*h), headerCmp); diff != "" {
			t.Errorf("%s: header differs from godbus (-godbus +ours):\n%s", name, diff)
		}
	}
}

func TestBuiltMessagesDecode(t *testing.T) {
	h := &header{typ: typeMethodReturn, flags: 0, serial: 9, hasReplySerial: true, replySerial: 4, dest: ":1.7", sender: busName}
	for _, tc := range []struct {
		name string
		m    []byte
		want []any
	}{
		{"error", errorReply(5, 3, errAccessDenied), []any{errAccessDenied}},
		{"bool", boolReply(6, 3, true), []any{true}},
		{"names", namesReply(h, []string{"org.freedesktop.DBus", ":1.7", "a.b"}), []any{[]string{"org.freedesktop.DBus", ":1.7", "a.b"}}},
		{"no names", namesReply(h, nil), []any{[]string{}}},
	} {
		msg, err := dbus.DecodeMessage(bytes.NewReader(tc.m))
		if err != nil {
			t.Errorf("%s: godbus cannot decode: %v", tc.name, err)
			continue
		}
		if diff := cmp.Diff(tc.want, msg.Body); diff != "" {
			t.Errorf("%s: body (-want +got):\n%s", tc.name, diff)
		}
		if _, err := parseHeader(tc.m, true); err != nil {
			t.Errorf("%s: parseHeader: %v", tc.name, err)
		}
	}
	ping := newCall(42, flagNoAutoStart, "", "/", "org.freedesktop.DBus.Peer", "Ping").bytes()
	got, err := parseHeader(ping, true)
	if err != nil || got.serial != 42 || got.member != "Ping" || got.dest != "" || got.flags != flagNoAutoStart {
		t.Errorf("parseHeader(ping) = %+v, %v", got, err)
	}
}

func TestBodyDecoders(t *testing.T) {
	msg := godbusCall("one", "two", "three")
	var buf bytes.Buffer
	if _, err := msg.EncodeToWithFDs(&buf, binary.BigEndian); err != nil {
		t.Fatal(err)
	}
	m := buf.Bytes()
	h, err := parseHeader(m, false)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := h.stringArgs(m, 3)
	if !ok || strings.Join(got, ",") != "one,two,three" {
		t.Errorf("stringArgs = %q, %v", got, ok)
	}
	if _, ok := h.stringArray(m); ok {
		t.Errorf("stringArray accepted signature %q", h.sig)
	}
	arr := godbusCall([]string{"a", "bb", ""})
	buf.Reset()
	arr.EncodeToWithFDs(&buf, binary.LittleEndian)
	h, err = parseHeader(buf.Bytes(), false)
	if err != nil {
		t.Fatal(err)
	}
	names, ok := h.stringArray(buf.Bytes())
	if !ok || strings.Join(names, ",") != "a,bb," {
		t.Errorf("stringArray = %q, %v", names, ok)
	}
}

// godbusCall builds a method call to the bus with godbus's encoder.
func godbusCall(args ...any) *dbus.Message {
	return &dbus.Message{
		Type: dbus.TypeMethodCall,
		Headers: map[dbus.HeaderField]dbus.Variant{
			dbus.FieldPath:        dbus.MakeVariant(dbus.ObjectPath("/org/freedesktop/DBus")),
			dbus.FieldDestination: dbus.MakeVariant(busName),
			dbus.FieldInterface:   dbus.MakeVariant(busName),
			dbus.FieldMember:      dbus.MakeVariant("X"),
			dbus.FieldSignature:   dbus.MakeVariant(dbus.SignatureOf(args...)),
		},
		Body: args,
	}
}

func TestParseHeaderRejects(t *testing.T) {
	valid := newCall(1, 0, busName, "/", busName, "Hello").bytes()
	mutate := func(f func(m []byte) []byte) []byte {
		return f(append([]byte(nil), valid...))
	}
	for _, tc := range []struct {
		name string
		m    []byte
		want error
	}{
		{"endianness", mutate(func(m []byte) []byte { m[0] = 'x'; return m }), ErrMalformed},
		{"version", mutate(func(m []byte) []byte { m[3] = 2; return m }), ErrMalformed},
		{"huge body", mutate(func(m []byte) []byte { binary.LittleEndian.PutUint32(m[4:], 1<<30); return m }), ErrTooLarge},
		{"huge fields", mutate(func(m []byte) []byte { binary.LittleEndian.PutUint32(m[12:], 1<<30); return m }), ErrTooLarge},
	} {
		if _, err := messageLen(tc.m, MaxMessageSize); !errors.Is(err, tc.want) {
			t.Errorf("%s: messageLen error = %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		m    []byte
	}{
		{"zero serial", newCall(0, 0, busName, "/", busName, "Hello").bytes()},
		{"call without member", func() []byte {
			b := &builder{typ: typeMethodCall, serial: 1}
			b.stringField(fieldPath, 'o', "/")
			return b.bytes()
		}()},
		{"return without reply serial", (&builder{typ: typeMethodReturn, serial: 1}).bytes()},
		{"unknown type", (&builder{typ: 9, serial: 1}).bytes()},
		{"local signal", func() []byte {
			b := &builder{typ: typeSignal, serial: 1}
			b.stringField(fieldPath, 'o', "/org/freedesktop/DBus/Local")
			b.stringField(fieldInterface, 's', "org.freedesktop.DBus.Local")
			b.stringField(fieldMember, 's', "Disconnected")
			return b.bytes()
		}()},
		{"unknown field", func() []byte {
			b := newCall(1, 0, busName, "/", busName, "Hello")
			b.stringField(42, 's', "x")
			return b.bytes()
		}()},
		{"path with type s", func() []byte {
			b := newCall(1, 0, busName, "/", busName, "Hello")
			b.stringField(fieldPath, 's', "/x")
			return b.bytes()
		}()},
		{"string without NUL", mutate(func(m []byte) []byte {
			i := bytes.Index(m, []byte("Hello\x00"))
			m[i+5] = 'x'
			return m
		})},
		{"lengths", mutate(func(m []byte) []byte { return m[:len(m)-1] })},
	} {
		if _, err := parseHeader(tc.m, true); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: parseHeader error = %v, want ErrMalformed", tc.name, err)
		}
	}
	// Unfiltered proxies skip unknown fields.
	b := newCall(1, 0, busName, "/", busName, "Hello")
	b.stringField(42, 's', "x")
	if _, err := parseHeader(b.bytes(), false); err != nil {
		t.Errorf("parseHeader(unknown field, lax) = %v", err)
	}
}

// FuzzParseHeader fuzzes the framing and header parser and the body
// decoders, seeded with a captured session.
func FuzzParseHeader(f *testing.F) {
	for _, m := range capturedMessages(f) {
		f.Add(m)
	}
	f.Add(errorReply(5, 3, errAccessDenied))
	f.Fuzz(func(t *testing.T, m []byte) {
		n, err := messageLen(m, MaxMessageSize)
		if err != nil || n != len(m) {
			return
		}
		for _, strict := range []bool{true, false} {
			h, err := parseHeader(m, strict)
			if err != nil {
				continue
			}
			if h.bodyOff+int(h.bodyLen) != len(m) {
				t.Fatalf("body at %d+%d in %d bytes", h.bodyOff, h.bodyLen, len(m))
			}
			h.stringArgs(m, 1)
			h.stringArgs(m, 3)
			if names, ok := h.stringArray(m); ok && strict && h.typ == typeMethodReturn {
				re := namesReply(h, names)
				h2, err := parseHeader(re, true)
				if err != nil {
					t.Fatalf("re-encoded names reply does not parse: %v", err)
				}
				names2, ok := h2.stringArray(re)
				if !ok || !cmp.Equal(names, names2, cmp.Comparer(func(a, b []string) bool {
					return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
				})) {
					t.Fatalf("names reply round trip: %q → %q", names, names2)
				}
			}
		}
	})
}
