package main

import (
	"context"
	"io"

	"github.com/porthole-dev/porthole/runtime/publish"
	"github.com/porthole-dev/porthole/runtime/ref"
)

func runBuildSign(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("build-sign", stderr)
	arch := fs.String("arch", "", "arch to install for")
	runtime := fs.Bool("runtime", false, "look for runtime with the specified name")
	var keys stringList
	fs.Var(&keys, "gpg-sign", "GPG key ID to sign the commit with")
	home := fs.String("gpg-homedir", "", "GPG homedir to use when looking for keyrings")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) < 2 || len(pos) > 3 || len(keys) == 0 {
		return usageFail(stderr, "build-sign [OPTION…] --gpg-sign=KEYID LOCATION ID [BRANCH]")
	}
	r := ref.Ref{Kind: ref.App, ID: pos[1], Arch: *arch, Branch: "master"}
	if *runtime {
		r.Kind = ref.Runtime
	}
	if r.Arch == "" {
		r.Arch = ref.NativeArch()
	}
	if len(pos) == 3 {
		r.Branch = pos[2]
	}
	if err := r.Validate(); err != nil {
		return fail(stderr, err)
	}
	signers, err := loadSigners(keys, *home)
	if err != nil {
		return fail(stderr, err)
	}
	for _, s := range signers {
		if err := publish.Sign(ctx, pos[0], []string{r.String()}, s); err != nil {
			return fail(stderr, err)
		}
	}
	return 0
}
