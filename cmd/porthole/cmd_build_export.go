package main

import (
	"context"
	"fmt"
	"io"

	"github.com/porthole-dev/porthole/runtime/publish"
	"github.com/porthole-dev/porthole/store/sign"
	"github.com/porthole-dev/porthole/store/summary"
)

func loadSigners(keys []string, home string) ([]summary.Signer, error) {
	var out []summary.Signer
	for _, k := range keys {
		s, err := sign.LoadSigner(k, home)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func runBuildExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("build-export", stderr)
	var opts publish.ExportOptions
	fs.StringVar(&opts.Subject, "subject", "", "one line subject")
	fs.StringVar(&opts.Subject, "s", "", "one line subject")
	fs.StringVar(&opts.Body, "body", "", "full description")
	fs.StringVar(&opts.Body, "b", "", "full description")
	fs.StringVar(&opts.Arch, "arch", "", "architecture to export for")
	fs.BoolVar(&opts.Runtime, "runtime", false, "commit runtime (/usr), not /app")
	fs.BoolVar(&opts.Runtime, "r", false, "commit runtime (/usr), not /app")
	fs.StringVar(&opts.Files, "files", "", "use alternative directory for the files")
	fs.StringVar(&opts.Metadata, "metadata", "", "use alternative file for the metadata")
	fs.StringVar(&opts.CollectionID, "collection-id", "", "collection ID")
	fs.StringVar(&opts.EndOfLife, "end-of-life", "", "mark build as end-of-life")
	fs.StringVar(&opts.EndOfLifeRebase, "end-of-life-rebase", "", "mark build as end-of-life, replaced by ID")
	var subsets stringList
	fs.Var(&subsets, "subset", "add to a named subset")
	var keys stringList
	fs.Var(&keys, "gpg-sign", "GPG key ID to sign the commit with")
	home := fs.String("gpg-homedir", "", "GPG homedir to use when looking for keyrings")
	ts := fs.String("timestamp", "", "override the timestamp of the commit")
	noSummary := fs.Bool("no-update-summary", false, "don't update the summary")
	noIndex := fs.Bool("no-summary-index", false, "don't generate a summary index")
	updateAppstream := fs.Bool("update-appstream", false, "update the appstream branch")
	fs.Bool("disable-fsync", false, "ignored")
	fs.Bool("disable-sandbox", false, "ignored")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	opts.Subsets = subsets
	if len(pos) < 2 || len(pos) > 3 {
		return usageFail(stderr, "build-export [OPTION…] LOCATION DIRECTORY [BRANCH]")
	}
	if len(pos) == 3 {
		opts.Branch = pos[2]
	}
	if *ts != "" {
		t, err := parseStoreTime(*ts)
		if err != nil {
			return fail(stderr, err)
		}
		opts.Timestamp = t
	}
	signers, err := loadSigners(keys, *home)
	if err != nil {
		return fail(stderr, err)
	}
	if len(signers) > 0 {
		opts.Signer = signers[0]
	}
	prog, done := storeProgress(stderr, "Committing")
	opts.Progress = prog
	res, err := publish.Export(ctx, pos[0], pos[1], opts)
	done()
	if err != nil {
		return fail(stderr, err)
	}
	for _, s := range signers[min(1, len(signers)):] {
		if err := publish.Sign(ctx, pos[0], []string{res.Ref.String()}, s); err != nil {
			return fail(stderr, err)
		}
	}
	fmt.Fprintf(stdout, "Commit: %s\nMetadata Total: %d\nContent Bytes: %d\n", res.Commit, res.InstalledSize, res.DownloadSize)
	if !*noSummary {
		err := publish.UpdateRepo(ctx, pos[0], publish.UpdateOptions{Signers: signers, NoIndex: *noIndex,
			NoAppstream: !*updateAppstream})
		if err != nil {
			return fail(stderr, err)
		}
	}
	return 0
}
