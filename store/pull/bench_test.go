package pull

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/porthole-dev/porthole/store"
)

// BenchmarkPull pulls a 2000-file commit over HTTP on 127.0.0.1 into a
// fresh bare-user-only repository per iteration.
func BenchmarkPull(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	tree := filepath.Join(dir, "tree")
	for i := 0; i < 2000; i++ {
		sub := filepath.Join(tree, fmt.Sprintf("d%02d", i%40))
		os.MkdirAll(sub, 0o755)
		data := make([]byte, 200+(i*37)%8000)
		rand.Read(data)
		os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%04d", i)), data, 0o644)
	}
	src, err := store.Init(ctx, filepath.Join(dir, "src"), store.ModeArchive)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := store.Commit(ctx, src, tree, store.CommitOptions{Branch: "main"}); err != nil {
		b.Fatal(err)
	}
	src.Close()
	srv := serve(b, filepath.Join(dir, "src"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r, err := store.Init(ctx, filepath.Join(dir, fmt.Sprintf("dst%d", i)), store.ModeBareUserOnly)
		if err != nil {
			b.Fatal(err)
		}
		AddRemote(ctx, r, "origin", srv.URL, AddOptions{NoGPGVerify: true})
		b.StartTimer()
		if _, err := Pull(ctx, r, "origin", []string{"main"}, Options{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		r.Close()
		os.RemoveAll(r.Path())
		b.StartTimer()
	}
}
