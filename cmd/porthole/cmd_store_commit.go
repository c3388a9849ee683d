package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/porthole-dev/porthole/internal/gvariant"
	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/sign"
)

func runStoreCommit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, repoPath := newStoreFlags("commit", stderr)
	var opts store.CommitOptions
	fs.StringVar(&opts.Branch, "b", "", "branch (ref) to commit to")
	fs.StringVar(&opts.Branch, "branch", "", "branch (ref) to commit to")
	fs.StringVar(&opts.Subject, "s", "", "one line subject")
	fs.StringVar(&opts.Subject, "subject", "", "one line subject")
	fs.StringVar(&opts.Body, "body", "", "full description")
	fs.StringVar(&opts.Body, "m", "", "full description")
	timestamp := fs.String("timestamp", "", "override the commit timestamp (RFC 3339 or @SECONDS)")
	uid := fs.String("owner-uid", "", "set file ownership user id")
	gid := fs.String("owner-gid", "", "set file ownership group id")
	fs.BoolVar(&opts.NoXattrs, "no-xattrs", false, "do not import extended attributes")
	fs.BoolVar(&opts.NoBindings, "no-bindings", false, "do not add ostree.ref-binding")
	fs.BoolVar(&opts.CanonicalPermissions, "canonical-permissions", false, "uid/gid 0, modes 0644/0755, no xattrs")
	var metaStr, metaVar, trees, gpgKeys stringList
	fs.Var(&metaStr, "add-metadata-string", "add KEY=VALUE string metadata (repeatable)")
	fs.Var(&metaVar, "add-metadata", "add KEY=VALUE metadata, VALUE in GVariant text (repeatable)")
	fs.Var(&trees, "tree", "dir=PATH: commit the directory PATH")
	parent := fs.String("parent", "", "parent commit checksum, or \"none\"")
	fs.Var(&gpgKeys, "gpg-sign", "sign the commit with this key id")
	gpgHome := fs.String("gpg-homedir", "", "GnuPG home directory or secret key file")
	orphan := fs.Bool("orphan", false, "commit without moving any ref")
	pos, ok := parseStoreFlags(fs, args, stderr)
	if !ok {
		return 1
	}
	var dir string
	for _, t := range trees {
		kind, p, _ := strings.Cut(t, "=")
		if kind != "dir" {
			return storeFail(stderr, fmt.Errorf("--tree=%s: only dir=PATH is supported", t))
		}
		if dir != "" {
			return storeFail(stderr, errors.New("only one --tree is supported"))
		}
		dir = p
	}
	switch {
	case dir == "" && len(pos) == 1:
		dir = pos[0]
	case dir == "" && len(pos) == 0:
		dir = "."
	case len(pos) > 0:
		return storeFail(stderr, errors.New("give either --tree=dir=PATH or PATH"))
	}
	if opts.Branch == "" && !*orphan {
		return storeFail(stderr, errors.New("a branch is required (-b REF), or --orphan"))
	}
	if *timestamp != "" {
		t, err := parseStoreTime(*timestamp)
		if err != nil {
			return storeFail(stderr, err)
		}
		opts.Timestamp = t
	}
	for _, p := range []struct {
		s   string
		dst **uint32
	}{{*uid, &opts.OwnerUID}, {*gid, &opts.OwnerGID}} {
		if p.s == "" {
			continue
		}
		n, err := strconv.ParseUint(p.s, 10, 32)
		if err != nil {
			return storeFail(stderr, fmt.Errorf("bad owner id %q", p.s))
		}
		v := uint32(n)
		*p.dst = &v
	}
	for _, kv := range metaStr {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return storeFail(stderr, fmt.Errorf("--add-metadata-string=%s: want KEY=VALUE", kv))
		}
		opts.Metadata.Set(object.NewMetadataEntry(k, gvariant.String(v)))
	}
	for _, kv := range metaVar {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return storeFail(stderr, fmt.Errorf("--add-metadata=%s: want KEY=VALUE", kv))
		}
		val, err := parseVariantText(v)
		if err != nil {
			return storeFail(stderr, fmt.Errorf("--add-metadata=%s: %w", kv, err))
		}
		opts.Metadata.Set(object.NewMetadataEntry(k, val))
	}
	repo, err := openStoreRepo(ctx, *repoPath)
	if err != nil {
		return storeFail(stderr, err)
	}
	defer repo.Close()
	switch *parent {
	case "":
	case "none":
		opts.NoParent = true
	default:
		c, err := repo.ResolveRef(ctx, *parent)
		if err != nil {
			return storeFail(stderr, err)
		}
		opts.Parent = &c
	}
	var signers []*sign.Signer
	for _, k := range gpgKeys {
		s, err := sign.LoadSigner(k, *gpgHome)
		if err != nil {
			return storeFail(stderr, err)
		}
		signers = append(signers, s)
	}
	if len(signers) > 0 {
		opts.Signer = signers[0]
	}
	prog, done := storeProgress(stderr, "Committing")
	opts.Progress = prog
	sum, err := store.Commit(ctx, repo, dir, opts)
	done()
	if err != nil {
		return storeFail(stderr, err)
	}
	// Further keys append their signatures, as ostree does for repeated
	// --gpg-sign.
	for _, s := range signers[min(1, len(signers)):] {
		data, err := repo.ReadMetadata(ctx, object.TypeCommit, sum)
		if err != nil {
			return storeFail(stderr, err)
		}
		sig, err := s.Sign(ctx, data)
		if err != nil {
			return storeFail(stderr, err)
		}
		old, _ := repo.ReadCommitMeta(ctx, sum)
		meta, err := sign.AppendSignature(old, sig)
		if err != nil {
			return storeFail(stderr, err)
		}
		if err := repo.WriteCommitMeta(ctx, sum, meta); err != nil {
			return storeFail(stderr, err)
		}
	}
	if err := repo.Close(); err != nil {
		return storeFail(stderr, err)
	}
	fmt.Fprintln(stdout, sum)
	return 0
}

// parseVariantText parses the GVariant text forms commit metadata usually
// needs: 'string' or "string", true/false, integers (int32, or with a
// uint32/int64/uint64/byte prefix), and ['a', 'b'] string arrays.
func parseVariantText(s string) (gvariant.Value, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "true" || s == "false":
		return gvariant.Bool(s == "true"), nil
	case len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0]:
		return gvariant.String(unquoteVariant(s[1 : len(s)-1])), nil
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		var items []string
		inner := strings.TrimSpace(s[1 : len(s)-1])
		if inner != "" {
			for _, it := range strings.Split(inner, ",") {
				v, err := parseVariantText(it)
				if err != nil || v.Type().String() != "s" {
					return gvariant.Value{}, fmt.Errorf("only string arrays are supported")
				}
				items = append(items, v.Str())
			}
		}
		return gvariant.Strings(items), nil
	}
	prefix, num, ok := strings.Cut(s, " ")
	if !ok {
		prefix, num = "int32", s
	}
	switch prefix {
	case "int32":
		n, err := strconv.ParseInt(num, 0, 32)
		return gvariant.Int32(int32(n)), err
	case "uint32":
		n, err := strconv.ParseUint(num, 0, 32)
		return gvariant.Uint32(uint32(n)), err
	case "int64":
		n, err := strconv.ParseInt(num, 0, 64)
		return gvariant.Int64(n), err
	case "uint64":
		n, err := strconv.ParseUint(num, 0, 64)
		return gvariant.Uint64(n), err
	case "byte":
		n, err := strconv.ParseUint(num, 0, 8)
		return gvariant.Byte(byte(n)), err
	}
	return gvariant.Value{}, fmt.Errorf("unsupported GVariant text %q", s)
}

func unquoteVariant(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
