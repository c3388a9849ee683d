package main

import (
	"context"
	"io"
	"os"

	"github.com/porthole-dev/porthole/runtime/publish"
)

func runBuildUpdateRepo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("build-update-repo", stderr)
	var o publish.UpdateOptions
	fs.StringVar(&o.Title, "title", "", "a nice name to use for this repository")
	fs.StringVar(&o.Comment, "comment", "", "a one-line comment for this repository")
	fs.StringVar(&o.Description, "description", "", "a full-paragraph description")
	fs.StringVar(&o.Homepage, "homepage", "", "URL for a website for this repository")
	fs.StringVar(&o.Icon, "icon", "", "URL for an icon for this repository")
	fs.StringVar(&o.RedirectURL, "redirect-url", "", "redirect this repo to a new URL")
	fs.StringVar(&o.DefaultBranch, "default-branch", "", "default branch to use for this repository")
	var keys, imports stringList
	fs.Var(&keys, "gpg-sign", "GPG key ID to sign the summary with")
	fs.Var(&imports, "gpg-import", "import new default GPG public key from FILE")
	home := fs.String("gpg-homedir", "", "GPG homedir to use when looking for keyrings")
	fs.BoolVar(&o.NoAppstream, "no-update-appstream", false, "don't update the appstream branch")
	fs.BoolVar(&o.NoIndex, "no-summary-index", false, "don't generate a summary index")
	fs.BoolVar(&o.Prune, "prune", false, "prune unused objects")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	if len(pos) != 1 {
		return usageFail(stderr, "build-update-repo [OPTION…] LOCATION")
	}
	for _, f := range imports {
		data, err := os.ReadFile(f)
		if err != nil {
			return fail(stderr, err)
		}
		o.GPGImport = append(o.GPGImport, data...)
	}
	signers, err := loadSigners(keys, *home)
	if err != nil {
		return fail(stderr, err)
	}
	o.Signers = signers
	if err := publish.UpdateRepo(ctx, pos[0], o); err != nil {
		return fail(stderr, err)
	}
	return 0
}
