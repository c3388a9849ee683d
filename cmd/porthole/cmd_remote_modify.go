package main

import (
	"context"
	"io"
	"os"

	"github.com/porthole-dev/porthole/runtime/installation"
)

func runRemoteModify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("remote-modify", stderr)
	inf := addInstFlags(fs)
	var o installation.RemoteOptions
	url := fs.String("url", "", "set a new url")
	fs.StringVar(&o.Title, "title", "", "a nice name to use for this remote")
	fs.StringVar(&o.DefaultBranch, "default-branch", "", "default branch to use for this remote")
	fs.StringVar(&o.Subset, "subset", "", "the named subset to use for this remote")
	gpgImport := fs.String("gpg-import", "", "import GPG key from FILE")
	noVerify := fs.Bool("no-gpg-verify", false, "disable GPG verification")
	verify := fs.Bool("gpg-verify", false, "enable GPG verification")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) != 1 {
		return usageFail(stderr, "remote-modify [OPTION…] NAME")
	}
	if *gpgImport != "" {
		data, err := os.ReadFile(*gpgImport)
		if err != nil {
			return fail(stderr, err)
		}
		o.GPGKey = data
	}
	var gv *bool
	if *noVerify {
		f := false
		gv = &f
	} else if *verify {
		t := true
		gv = &t
	}
	inst, err := inf.open(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	defer inst.Close()
	if err := inst.ModifyRemote(ctx, pos[0], *url, o, gv); err != nil {
		return fail(stderr, err)
	}
	return 0
}
