package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/porthole-dev/porthole/internal/runspec"
	"github.com/porthole-dev/porthole/launcher"
	"github.com/porthole-dev/porthole/runtime/metadata"
	"github.com/porthole-dev/porthole/runtime/permissions"
	"github.com/porthole-dev/porthole/runtime/ref"
)

// runBuild runs a command in the SDK sandbox of a build directory: the
// SDK as /usr, DIR/files writable as /app, DIR/var/tmp as /var/tmp.
func runBuild(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newVerbFlags("build", stderr)
	inf := addInstFlags(fs)
	cli := permissions.New()
	addContextFlags(fs, cli)
	cwd := fs.String("build-dir", "", "start build in this directory")
	// Options stop at DIR, as in flatpak build.
	if err := fs.Parse(args); err != nil {
		return 1
	}
	pos := fs.Args()
	if len(pos) < 1 {
		return usageFail(stderr, "build [OPTION…] DIRECTORY [COMMAND [ARGUMENT…]]")
	}
	dir, _ := filepath.Abs(pos[0])
	cmdArgs := pos[1:]
	if len(cmdArgs) == 0 {
		cmdArgs = []string{"/bin/sh"}
	}
	mdBytes, err := os.ReadFile(filepath.Join(dir, "metadata"))
	if err != nil {
		return fail(stderr, fmt.Errorf("%s is not a build directory: %w", dir, err))
	}
	md, err := metadata.Parse(mdBytes)
	if err != nil {
		return fail(stderr, err)
	}
	sdkPref := md.SDK()
	if sdkPref == "" {
		sdkPref = md.Runtime()
	}
	sdk, err := ref.ParsePref(ref.Runtime, sdkPref)
	if err != nil {
		return fail(stderr, fmt.Errorf("no usable sdk in metadata: %w", err))
	}
	var sdkFiles, sdkCommit string
	for _, inst := range inf.openExisting(ctx) {
		if d, err := inst.Get(sdk); err == nil && sdkFiles == "" {
			sdkFiles, sdkCommit = filepath.Join(d.Dir, "files"), d.Commit
		}
		inst.Close()
	}
	if sdkFiles == "" {
		return fail(stderr, fmt.Errorf("sdk %s not installed", sdk.Pref()))
	}
	appCtx, err := md.Context()
	if err != nil {
		return fail(stderr, err)
	}
	appCtx.Merge(cli)
	files := "files"
	if md.Kind() == ref.Runtime {
		files = "usr"
	}
	in := runspec.Input{AppID: md.Name(), Arch: sdk.Arch, Branch: "master",
		AppFiles: filepath.Join(dir, files), AppCommit: "build",
		RuntimeRef: sdk.String(), RuntimeFiles: sdkFiles, RuntimeCommit: sdkCommit,
		Context: appCtx, CommandLine: cli, Command: cmdArgs[0], Args: cmdArgs[1:], Cwd: *cwd, DieWithParent: true}
	if in.Cwd == "" {
		in.Cwd = "/app"
	}
	host, err := currentHost()
	if err != nil {
		return fail(stderr, err)
	}
	res, err := runspec.Build(ctx, in, host)
	if err != nil {
		return fail(stderr, err)
	}
	for k, m := range res.Spec.Mounts {
		if m.Dest == "/app" && m.Type == launcher.ROBind {
			res.Spec.Mounts[k].Type = launcher.Bind
		}
	}
	os.MkdirAll(filepath.Join(dir, "var", "tmp"), 0o755)
	res.Spec.Mounts = append(res.Spec.Mounts, launcher.Mount{Type: launcher.Bind, Source: filepath.Join(dir, "var", "tmp"), Dest: "/var/tmp"})
	code, err := launcher.Run(ctx, res.Spec, launcher.Options{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr})
	if err != nil {
		return fail(stderr, err)
	}
	return code
}
