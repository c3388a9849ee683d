package launcher

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// mountPoints lists the mount points under prefix, in mountinfo order.
func mountPoints(prefix string) ([]string, error) {
	f, err := os.Open(oldRoot + "/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	prefix = strings.TrimSuffix(prefix, "/") + "/"
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		if mp := unescapeMountinfo(fields[4]); strings.HasPrefix(mp, prefix) {
			out = append(out, mp)
		}
	}
	return out, sc.Err()
}

// below maps the host mount points strictly under src to where the
// recursive bind of src on dst put them.
func below(mounts []string, src, dst string) []string {
	prefix := strings.TrimSuffix(src, "/") + "/"
	var out []string
	for _, mp := range mounts {
		if rest, ok := strings.CutPrefix(mp, prefix); ok {
			out = append(out, filepath.Join(dst, rest))
		}
	}
	return out
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
