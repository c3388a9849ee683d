package main

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/porthole-dev/porthole/runtime/flatpakref"
	"github.com/porthole-dev/porthole/runtime/installation"
)

func runRemoteAdd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("remote-add", stderr)
	inf := addInstFlags(fs)
	var o installation.RemoteOptions
	fs.BoolVar(&o.IfNotExists, "if-not-exists", false, "do nothing if the provided remote exists")
	fs.BoolVar(&o.NoGPGVerify, "no-gpg-verify", false, "disable GPG verification")
	from := fs.Bool("from", false, "LOCATION specifies a configuration file, not the repo location")
	var imports stringList
	fs.Var(&imports, "gpg-import", "import GPG key from FILE (- for stdin)")
	fs.StringVar(&o.Title, "title", "", "a nice name to use for this remote")
	fs.StringVar(&o.DefaultBranch, "default-branch", "", "default branch to use for this remote")
	fs.StringVar(&o.CollectionID, "collection-id", "", "collection ID")
	fs.StringVar(&o.Subset, "subset", "", "the named subset to use for this remote")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) != 2 {
		return usageFail(stderr, "remote-add [OPTION…] NAME LOCATION")
	}
	name, loc := pos[0], pos[1]
	for _, f := range imports {
		var data []byte
		var err error
		if f == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			return fail(stderr, err)
		}
		o.GPGKey = append(o.GPGKey, data...)
	}
	if *from || strings.HasSuffix(loc, ".flatpakrepo") {
		data, err := fetchURL(ctx, loc)
		if err != nil {
			return fail(stderr, err)
		}
		rf, err := flatpakref.ParseRepo(data)
		if err != nil {
			return fail(stderr, err)
		}
		loc = rf.URL
		if len(o.GPGKey) == 0 {
			o.GPGKey = rf.GPGKey
		}
		if o.Title == "" {
			o.Title = rf.Title
		}
		if o.DefaultBranch == "" {
			o.DefaultBranch = rf.DefaultBranch
		}
		if o.Subset == "" {
			o.Subset = rf.Subset
		}
		if len(o.GPGKey) == 0 {
			o.NoGPGVerify = true
		}
	}
	inst, err := inf.open(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	defer inst.Close()
	if err := inst.AddRemote(ctx, name, loc, o); err != nil {
		return fail(stderr, err)
	}
	return 0
}
