package runspec

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/porthole-dev/porthole/launcher"
)

// LdConf is the /etc/ld.so.conf Flatpak generates when the runtime's is
// empty.
const LdConf = "include /run/flatpak/ld.so.conf.d/app-*.conf\ninclude /app/etc/ld.so.conf\n/app/lib\ninclude /run/flatpak/ld.so.conf.d/runtime-*.conf\n"

// LdCacheRunner runs a sandbox to completion and returns its exit code;
// Build uses it to run ldconfig on an ld.so.cache miss.
type LdCacheRunner func(ctx context.Context, spec *launcher.Spec) (int, error)

// ldCacheKey is sha256(app commit, runtime commit, app extensions,
// runtime extensions), as Flatpak computes it.
func ldCacheKey(in Input, appExt, runtimeExt string) string {
	h := sha256.New()
	h.Write([]byte(in.AppCommit))
	h.Write([]byte(in.RuntimeCommit))
	h.Write([]byte(appExt))
	h.Write([]byte(runtimeExt))
	return hex.EncodeToString(h.Sum(nil))
}

// useLdCache reports whether Flatpak would use a generated ld.so.cache:
// the runtime has bin/ldconfig and the app and runtime are deployed ones.
func (b *builder) useLdCache() bool {
	if b.in.LdCache == nil || b.in.RuntimeCommit == "" || (b.in.AppFiles != "" && b.in.AppCommit == "") {
		return false
	}
	return exists(filepath.Join(b.in.RuntimeFiles, "bin", "ldconfig"))
}

// generateLdConf reports whether /etc/ld.so.conf must be generated: the
// runtime's is an empty regular file. (Upstream 1.14 also generates it
// when the file is missing; Debian's 1.14.10, whose runtime lookups go
// through openat2 on the runtime directory, then links to the missing
// ../usr/etc/ld.so.conf instead. The parity test follows Debian's.)
func (b *builder) generateLdConf() bool {
	fi, err := os.Lstat(filepath.Join(b.in.RuntimeFiles, "etc", "ld.so.conf"))
	if err != nil {
		return false
	}
	return fi.Mode().IsRegular() && fi.Size() == 0
}

// ldCache returns the cache for this app and runtime commit, running
// ldconfig in a minimal sandbox (the /usr and /app binds so far) on a
// miss. The cache lives in ~/.var/app/ID/.ld.so/<key> (under --sandbox,
// ~/.cache/flatpak/ld.so, regenerated each run).
func (b *builder) ldCache(ctx context.Context, base []launcher.Mount) ([]byte, error) {
	key := ldCacheKey(b.in, b.appExt, b.runtimeExt)
	dir := filepath.Join(b.appDir, ".ld.so")
	if b.in.Sandbox {
		dir = filepath.Join(b.host.Home, ".cache", "flatpak", "ld.so")
	}
	final := filepath.Join(dir, key)
	if !b.in.Sandbox {
		if data, err := os.ReadFile(final); err == nil {
			return data, nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the ld.so cache directory: %w", err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := key + "." + hex.EncodeToString(rnd[:])
	mounts := append([]launcher.Mount(nil), base...)
	for _, d := range []string{"bin", "lib", "lib32", "lib64", "sbin"} {
		if exists(filepath.Join(b.in.RuntimeFiles, d)) {
			mounts = append(mounts, launcher.Mount{Type: launcher.Symlink, Source: "usr/" + d, Dest: "/" + d})
		}
	}
	if b.generateLdConf() {
		mounts = append(mounts, launcher.Mount{Type: launcher.File, Dest: "/etc/ld.so.conf", Data: []byte(LdConf), ReadOnly: true})
	} else {
		mounts = append(mounts, launcher.Mount{Type: launcher.Symlink, Source: "../usr/etc/ld.so.conf", Dest: "/etc/ld.so.conf"})
	}
	mounts = append(mounts,
		launcher.Mount{Type: launcher.Proc, Dest: "/proc"},
		launcher.Mount{Type: launcher.Dev, Dest: "/dev"},
		launcher.Mount{Type: launcher.Bind, Source: dir, Dest: "/run/ld-so-cache-dir"},
	)
	spec := &launcher.Spec{
		Args:   []string{"ldconfig", "-X", "-C", "/run/ld-so-cache-dir/" + tmp},
		Env:    []string{"PATH=/app/bin:/usr/bin", "LD_LIBRARY_PATH=/app/lib"},
		UID:    b.host.UID,
		GID:    b.host.GID,
		Mounts: mounts,
		Cwd:    "/",
	}
	code, err := b.in.LdCache(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("running ldconfig: %w", err)
	}
	if code != 0 {
		os.Remove(filepath.Join(dir, tmp))
		return nil, fmt.Errorf("ldconfig failed, exit status %s", strconv.Itoa(code))
	}
	data, err := os.ReadFile(filepath.Join(dir, tmp))
	if err != nil {
		return nil, fmt.Errorf("reading the new ld.so cache: %w", err)
	}
	if b.in.Sandbox {
		os.Remove(filepath.Join(dir, tmp))
		return data, nil
	}
	if err := os.Rename(filepath.Join(dir, tmp), final); err != nil {
		return nil, fmt.Errorf("installing the ld.so cache: %w", err)
	}
	active := filepath.Join(dir, "active")
	os.Remove(active)
	os.Symlink(key, active)
	return data, nil
}
