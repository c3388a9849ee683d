package pull

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/sign"
)

// Sentinel errors about remotes.
var (
	ErrNoRemote     = errors.New("remote not found")
	ErrRemoteExists = errors.New("remote already exists")
)

// Remote is a configured remote.
type Remote struct {
	Name             string
	URL              string
	GPGVerify        bool // gpg-verify, default true
	GPGVerifySummary bool // gpg-verify-summary, default false
	GPGKeyPath       string
	CollectionID     string
	TLSCAPath        string // tls-ca-path: PEM CA certificates for https
}

func remoteGroup(name string) string { return fmt.Sprintf("remote %q", name) }

func parseBool(v string, def bool) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes":
		return true
	case "false", "0", "no":
		return false
	}
	return def
}

// LoadRemote reads the [remote "NAME"] group of repo's config.
func LoadRemote(repo *store.Repo, name string) (*Remote, error) {
	if err := object.ValidateRemoteName(name); err != nil {
		return nil, err
	}
	cfg := repo.Config()
	g := remoteGroup(name)
	url, ok := cfg.Value(g, "url")
	if !ok {
		return nil, fmt.Errorf("remote %q: %w", name, ErrNoRemote)
	}
	r := &Remote{Name: name, URL: url, GPGVerify: true}
	if v, ok := cfg.Value(g, "gpg-verify"); ok {
		r.GPGVerify = parseBool(v, true)
	}
	if v, ok := cfg.Value(g, "gpg-verify-summary"); ok {
		r.GPGVerifySummary = parseBool(v, false)
	}
	r.GPGKeyPath, _ = cfg.Value(g, "gpgkeypath")
	r.CollectionID, _ = cfg.Value(g, "collection-id")
	r.TLSCAPath, _ = cfg.Value(g, "tls-ca-path")
	return r, nil
}

// ListRemotes returns the names of the configured remotes, sorted.
func ListRemotes(repo *store.Repo) []string {
	var out []string
	for _, g := range repo.Config().Groups() {
		if rest, ok := strings.CutPrefix(g, "remote \""); ok && strings.HasSuffix(rest, "\"") {
			out = append(out, strings.TrimSuffix(rest, "\""))
		}
	}
	sort.Strings(out)
	return out
}

// AddOptions tune AddRemote.
type AddOptions struct {
	NoGPGVerify bool
	// Set holds extra KEY=VALUE settings (ostree remote add --set), in order.
	Set [][2]string
	// GPGImport is key data (binary or armored) for the remote's keyring.
	GPGImport []byte
	// IfNotExists makes an existing remote a no-op instead of an error.
	IfNotExists bool
}

// AddRemote writes [remote "NAME"] as `ostree remote add` does: url=, then
// gpg-verify=false when asked, then the --set keys; imported keys go to
// <repo>/NAME.trustedkeys.gpg. It returns how many keys were imported.
func AddRemote(ctx context.Context, repo *store.Repo, name, url string, opts AddOptions) (int, error) {
	if err := object.ValidateRemoteName(name); err != nil {
		return 0, err
	}
	exists := false
	err := repo.UpdateConfig(func(cfg *store.Config) error {
		g := remoteGroup(name)
		if _, ok := cfg.Value(g, "url"); ok {
			exists = true
			if opts.IfNotExists {
				return nil
			}
			return fmt.Errorf("remote %q: %w", name, ErrRemoteExists)
		}
		cfg.SetValue(g, "url", url)
		if opts.NoGPGVerify {
			cfg.SetValue(g, "gpg-verify", "false")
		}
		for _, kv := range opts.Set {
			cfg.SetValue(g, kv[0], kv[1])
		}
		return nil
	})
	if err != nil || exists {
		return 0, err
	}
	if len(opts.GPGImport) == 0 {
		return 0, nil
	}
	n, err := sign.ImportKeys(sign.RemoteKeyringPath(repo.Path(), name), opts.GPGImport)
	if err != nil {
		return 0, fmt.Errorf("importing keys for remote %q: %w", name, err)
	}
	return n, nil
}

// DeleteRemote removes the remote's config group and keyring.
func DeleteRemote(ctx context.Context, repo *store.Repo, name string, ifExists bool) error {
	err := repo.UpdateConfig(func(cfg *store.Config) error {
		if !cfg.DeleteGroup(remoteGroup(name)) && !ifExists {
			return fmt.Errorf("remote %q: %w", name, ErrNoRemote)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := os.Remove(sign.RemoteKeyringPath(repo.Path(), name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing keyring of remote %q: %w", name, err)
	}
	return nil
}
