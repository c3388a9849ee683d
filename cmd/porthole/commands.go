package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// command is one verb of the CLI. run gets the arguments after the verb and
// returns the process exit code.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists every verb. Add one line per verb, implemented in cmd_<verb>.go.
var commands = map[string]command{
	// Repository maintenance, with ostree's verbs below it.
	"store": {"Maintain an OSTree-compatible repository (init, commit, checkout, pull, fsck, …)", runStore},

	// The sandbox and its D-Bus proxy.
	"dbus-proxy": {"Run a filtering D-Bus proxy (xdg-dbus-proxy compatible)", runDBusProxy},
	"run":        {"Run an application in a sandbox", runRun},
	"override":   {"Override permissions for an application", runOverride},
	"ps":         {"Enumerate running sandboxes", runPs},
	"kill":       {"Stop a running application", runKill},
	"enter":      {"Enter the namespace of a running application", runEnter},

	// Publishing, remotes and installations.
	"build-init":        {"Initialize a directory for building", runBuildInit},
	"build":             {"Run a build command inside the build dir", runBuild},
	"build-finish":      {"Finish a build directory for export", runBuildFinish},
	"build-export":      {"Export a build directory to a repository", runBuildExport},
	"build-sign":        {"Sign an application or runtime", runBuildSign},
	"build-update-repo": {"Update the summary file in a repository", runBuildUpdateRepo},
	"remote-add":        {"Add a new remote repository (by URL)", runRemoteAdd},
	"remotes":           {"List all configured remotes", runRemotes},
	"remote-modify":     {"Modify properties of a configured remote", runRemoteModify},
	"remote-delete":     {"Delete a configured remote", runRemoteDelete},
	"remote-ls":         {"List contents of a configured remote", runRemoteLs},
	"remote-info":       {"Show information about a remote app or runtime", runRemoteInfo},
	"install":           {"Install an application or runtime", runInstall},
	"update":            {"Update an installed application or runtime", runUpdate},
	"uninstall":         {"Uninstall an installed application or runtime", runUninstall},
	"list":              {"List installed apps and/or runtimes", runList},
	"info":              {"Show info for installed app or runtime", runInfo},
	"history":           {"Show history", runHistory},
	"search":            {"Search for remote apps/runtimes", runSearch},
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 1
	}
	switch args[0] {
	case "--version", "version":
		fmt.Fprintf(stdout, "Porthole %s\n", version)
		return 0
	case "--help", "-h", "help":
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "error: '%s' is not a porthole command. See 'porthole --help'.\n", args[0])
		return 1
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage:\n  porthole [OPTION…] COMMAND\n\nBuiltin Commands:")
	names := make([]string, 0, len(commands))
	width := 0
	for name := range commands {
		names = append(names, name)
		width = max(width, len(name))
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %s%s  %s\n", name, strings.Repeat(" ", width-len(name)), commands[name].summary)
	}
	fmt.Fprintln(w, "\nOptions:\n  --version  Print version information and exit\n  -h, --help Show help options")
}
