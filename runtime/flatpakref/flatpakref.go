package flatpakref

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/porthole-dev/porthole/internal/keyfile"
	"github.com/porthole-dev/porthole/runtime/ref"
)

// Group names.
const (
	GroupRepo = "Flatpak Repo"
	GroupRef  = "Flatpak Ref"
)

// ErrInvalid reports a file Flatpak would refuse.
var ErrInvalid = errors.New("invalid flatpakref")

// Repo is a .flatpakrepo.
type Repo struct {
	URL           string
	GPGKey        []byte
	Title         string
	Comment       string
	Description   string
	Homepage      string
	Icon          string
	DefaultBranch string
	CollectionID  string
	Subset        string // the remote's xa.subset
}

// Ref is a .flatpakref.
type Ref struct {
	Name              string
	Branch            string
	URL               string
	IsRuntime         bool
	GPGKey            []byte
	RuntimeRepo       string
	SuggestRemoteName string
	Title             string
	Comment           string
	Description       string
	Homepage          string
	Icon              string
	CollectionID      string
}

func str(kf *keyfile.File, g, k string) string {
	s, _ := kf.String(g, k)
	return strings.TrimSpace(s)
}

func gpgKey(kf *keyfile.File, g string) ([]byte, error) {
	s := str(kf, g, "GPGKey")
	if s == "" {
		return nil, nil
	}
	// Flatpak tolerates whitespace inside the base64 text.
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\t' || r == '\r' {
			return -1
		}
		return r
	}, s)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("%w: invalid GPGKey", ErrInvalid)
	}
	return b, nil
}

func collection(kf *keyfile.File, g string) string {
	for _, k := range []string{"DeploySideloadCollectionID", "DeployCollectionID", "CollectionID"} {
		if s := str(kf, g, k); s != "" {
			return s
		}
	}
	return ""
}

// ParseRepo parses a .flatpakrepo.
func ParseRepo(data []byte) (*Repo, error) {
	kf, err := keyfile.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if !kf.HasGroup(GroupRepo) {
		return nil, fmt.Errorf("%w: no [%s] group", ErrInvalid, GroupRepo)
	}
	r := &Repo{
		URL: str(kf, GroupRepo, "Url"), Title: str(kf, GroupRepo, "Title"),
		Comment: str(kf, GroupRepo, "Comment"), Description: str(kf, GroupRepo, "Description"),
		Homepage: str(kf, GroupRepo, "Homepage"), Icon: str(kf, GroupRepo, "Icon"),
		DefaultBranch: str(kf, GroupRepo, "DefaultBranch"), CollectionID: collection(kf, GroupRepo),
		Subset: str(kf, GroupRepo, "Subset"),
	}
	if r.URL == "" {
		return nil, fmt.Errorf("%w: no Url", ErrInvalid)
	}
	if r.GPGKey, err = gpgKey(kf, GroupRepo); err != nil {
		return nil, err
	}
	return r, nil
}

// ParseRef parses a .flatpakref.
func ParseRef(data []byte) (*Ref, error) {
	kf, err := keyfile.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if !kf.HasGroup(GroupRef) {
		return nil, fmt.Errorf("%w: no [%s] group", ErrInvalid, GroupRef)
	}
	g := GroupRef
	r := &Ref{
		Name: str(kf, g, "Name"), Branch: str(kf, g, "Branch"), URL: str(kf, g, "Url"),
		RuntimeRepo: str(kf, g, "RuntimeRepo"), SuggestRemoteName: str(kf, g, "SuggestRemoteName"),
		Title: str(kf, g, "Title"), Comment: str(kf, g, "Comment"), Description: str(kf, g, "Description"),
		Homepage: str(kf, g, "Homepage"), Icon: str(kf, g, "Icon"), CollectionID: collection(kf, g),
	}
	if r.Name == "" || r.URL == "" {
		return nil, fmt.Errorf("%w: Name and Url are required", ErrInvalid)
	}
	if err := ref.ValidateID(r.Name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if r.Branch == "" {
		r.Branch = "master"
	}
	if err := ref.ValidateBranch(r.Branch); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if kf.HasKey(g, "IsRuntime") {
		if r.IsRuntime, err = kf.Bool(g, "IsRuntime"); err != nil {
			return nil, fmt.Errorf("%w: IsRuntime: %w", ErrInvalid, err)
		}
	}
	if r.GPGKey, err = gpgKey(kf, g); err != nil {
		return nil, err
	}
	return r, nil
}

// Ref returns the full ref for arch.
func (r *Ref) Ref(arch string) ref.Ref {
	k := ref.App
	if r.IsRuntime {
		k = ref.Runtime
	}
	return ref.Ref{Kind: k, ID: r.Name, Arch: arch, Branch: r.Branch}
}

func set(kf *keyfile.File, g, k, v string) {
	if v != "" {
		_ = kf.SetString(g, k, v)
	}
}

// Bytes writes the .flatpakrepo in the key order Flatpak's examples use.
func (r *Repo) Bytes() []byte {
	kf := keyfile.New()
	g := GroupRepo
	_ = kf.SetString(g, "Version", "1")
	set(kf, g, "Title", r.Title)
	set(kf, g, "Url", r.URL)
	set(kf, g, "Homepage", r.Homepage)
	set(kf, g, "Comment", r.Comment)
	set(kf, g, "Description", r.Description)
	set(kf, g, "Icon", r.Icon)
	set(kf, g, "DefaultBranch", r.DefaultBranch)
	set(kf, g, "Subset", r.Subset)
	set(kf, g, "DeploySideloadCollectionID", r.CollectionID)
	if len(r.GPGKey) > 0 {
		set(kf, g, "GPGKey", base64.StdEncoding.EncodeToString(r.GPGKey))
	}
	return kf.Bytes()
}

// Bytes writes the .flatpakref.
func (r *Ref) Bytes() []byte {
	kf := keyfile.New()
	g := GroupRef
	_ = kf.SetString(g, "Version", "1")
	set(kf, g, "Name", r.Name)
	set(kf, g, "Branch", r.Branch)
	set(kf, g, "Title", r.Title)
	set(kf, g, "Url", r.URL)
	_ = kf.SetBool(g, "IsRuntime", r.IsRuntime)
	set(kf, g, "SuggestRemoteName", r.SuggestRemoteName)
	set(kf, g, "RuntimeRepo", r.RuntimeRepo)
	set(kf, g, "Homepage", r.Homepage)
	set(kf, g, "Comment", r.Comment)
	set(kf, g, "Description", r.Description)
	set(kf, g, "Icon", r.Icon)
	set(kf, g, "DeploySideloadCollectionID", r.CollectionID)
	if len(r.GPGKey) > 0 {
		set(kf, g, "GPGKey", base64.StdEncoding.EncodeToString(r.GPGKey))
	}
	return kf.Bytes()
}
