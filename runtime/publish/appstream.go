package publish

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/porthole-dev/porthole/internal/keyfile"
	"github.com/porthole-dev/porthole/runtime/metadata"
	"github.com/porthole-dev/porthole/runtime/ref"
	"github.com/porthole-dev/porthole/store"
	"github.com/porthole-dev/porthole/store/object"
	"github.com/porthole-dev/porthole/store/summary"
)

// AppstreamRef and Appstream2Ref name the branches for arch.
func AppstreamRef(arch string) string  { return "appstream/" + arch }
func Appstream2Ref(arch string) string { return "appstream2/" + arch }

var iconSizes = []string{"64x64", "128x128"}

// UpdateAppstream rebuilds appstream/ARCH (appstream.xml.gz) and
// appstream2/ARCH (appstream.xml) for every arch with apps or runtimes,
// from each app's AppData (files/share/app-info/xmls/ID.xml.gz, else
// files/share/metainfo/ID.metainfo.xml or …appdata.xml, else its desktop
// file) and its 64x64 and 128x128 icons. A branch moves only when its tree
// changes.
func UpdateAppstream(ctx context.Context, repo *store.Repo, now time.Time, signers []summary.Signer) error {
	refs, err := repo.ListRefs(ctx, "")
	if err != nil {
		return err
	}
	byArch := map[string][]ref.Ref{}
	for n := range refs {
		r, err := ref.Parse(n)
		if err != nil {
			continue
		}
		byArch[r.Arch] = append(byArch[r.Arch], r)
	}
	for arch, rs := range byArch {
		sort.Slice(rs, func(i, j int) bool { return rs[i].String() < rs[j].String() })
		tmp, err := os.MkdirTemp(filepath.Join(repo.Path(), "tmp"), "appstream-")
		if err != nil {
			return err
		}
		err = buildAppstream(ctx, repo, rs, refs, tmp, arch, now, signers)
		os.RemoveAll(tmp)
		if err != nil {
			return err
		}
	}
	return nil
}

func buildAppstream(ctx context.Context, repo *store.Repo, rs []ref.Ref, refs map[string]object.Checksum, tmp, arch string, now time.Time, signers []summary.Signer) error {
	t1, t2 := filepath.Join(tmp, "t1"), filepath.Join(tmp, "t2")
	for _, t := range []string{t1, t2} {
		for _, s := range iconSizes {
			if err := os.MkdirAll(filepath.Join(t, "icons", s), 0o755); err != nil {
				return err
			}
		}
		os.MkdirAll(filepath.Join(t, "icons", "flatpak"), 0o755)
		for _, s := range iconSizes {
			os.Symlink("../"+s, filepath.Join(t, "icons", "flatpak", s))
		}
	}
	var comps bytes.Buffer
	for _, r := range rs {
		if r.Kind != ref.App {
			continue
		}
		comp, icons, err := appComponent(ctx, repo, r, refs[r.String()], filepath.Join(tmp, "co-"+r.ID))
		if err != nil {
			return err
		}
		comps.WriteString(comp)
		for size, path := range icons {
			for _, t := range []string{t1, t2} {
				if err := copyFile(path, filepath.Join(t, "icons", size, r.ID+".png")); err != nil {
					return err
				}
			}
		}
	}
	xml := []byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<components version=\"0.8\" origin=\"flatpak\">\n" +
		comps.String() + "</components>\n")
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.ModTime = time.Time{}
	zw.Write(xml)
	zw.Close()
	if err := os.WriteFile(filepath.Join(t1, "appstream.xml.gz"), gz.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(t2, "appstream.xml"), xml, 0o644); err != nil {
		return err
	}
	for _, b := range []struct{ dir, name string }{{t1, AppstreamRef(arch)}, {t2, Appstream2Ref(arch)}} {
		if err := commitIfChanged(ctx, repo, b.dir, b.name, now, signers); err != nil {
			return err
		}
	}
	return nil
}

func commitIfChanged(ctx context.Context, repo *store.Repo, dir, name string, now time.Time, signers []summary.Signer) error {
	binding := object.StringsValue([]string{name})
	binding.Key = KeyRefBinding
	opts := store.CommitOptions{Subject: "Update appstream branch", NoBindings: true, NoParent: true,
		CanonicalPermissions: true, NoXattrs: true, Timestamp: now, Metadata: object.Metadata{binding}}
	if len(signers) > 0 {
		opts.Signer = signers[0]
	}
	head, herr := repo.ResolveRef(ctx, name)
	if herr == nil {
		opts.NoParent = false
		opts.Parent = &head
	}
	sum, err := store.Commit(ctx, repo, dir, opts)
	if err != nil {
		return fmt.Errorf("cannot commit %s: %w", name, err)
	}
	if herr == nil {
		oldData, err1 := repo.ReadMetadata(ctx, object.TypeCommit, head)
		newData, err2 := repo.ReadMetadata(ctx, object.TypeCommit, sum)
		if err1 == nil && err2 == nil {
			o, e1 := object.UnmarshalCommit(oldData)
			n, e2 := object.UnmarshalCommit(newData)
			if e1 == nil && e2 == nil && o.RootTree == n.RootTree && o.RootMeta == n.RootMeta {
				return repo.DeleteObject(ctx, object.ObjectName{Checksum: sum, Type: object.TypeCommit})
			}
		}
	}
	if err := repo.SetRef(ctx, "", name, &sum); err != nil {
		return err
	}
	for _, s := range signers[min(1, len(signers)):] {
		if err := signCommit(ctx, repo, sum, s); err != nil {
			return err
		}
	}
	return nil
}

var xmlDecl = regexp.MustCompile(`(?s)^\s*<\?xml[^>]*\?>\s*`)

// appComponent returns the <component> XML for app r and its icons.
func appComponent(ctx context.Context, repo *store.Repo, r ref.Ref, commit object.Checksum, co string) (string, map[string]string, error) {
	try := func(sub string) string {
		dst := filepath.Join(co, strings.ReplaceAll(strings.Trim(sub, "/"), "/", "_"))
		if err := store.Checkout(ctx, repo, commit.String(), dst, store.CheckoutOptions{UserMode: true, Subpath: sub}); err != nil {
			return ""
		}
		return dst
	}
	md := commitMetadata(ctx, repo, commit)
	var comp string
	if d := try("/files/share/app-info/xmls"); d != "" {
		if f, err := os.Open(filepath.Join(d, r.ID+".xml.gz")); err == nil {
			if zr, err := gzip.NewReader(f); err == nil {
				b, _ := io.ReadAll(zr)
				comp = innerComponents(string(b))
			}
			f.Close()
		}
	}
	if comp == "" {
		for _, p := range []string{"/files/share/metainfo", "/files/share/appdata"} {
			d := try(p)
			if d == "" {
				continue
			}
			for _, n := range []string{r.ID + ".metainfo.xml", r.ID + ".appdata.xml"} {
				if b, err := os.ReadFile(filepath.Join(d, n)); err == nil {
					comp = xmlDecl.ReplaceAllString(string(b), "")
					break
				}
			}
			if comp != "" {
				break
			}
		}
	}
	if comp == "" {
		name, summary := r.ID, ""
		if d := try("/export/share/applications"); d != "" {
			if kf, err := keyfile.Load(filepath.Join(d, r.ID+".desktop")); err == nil {
				if s, err := kf.String("Desktop Entry", "Name"); err == nil {
					name = s
				}
				summary, _ = kf.String("Desktop Entry", "Comment")
			}
		}
		comp = fmt.Sprintf("<component type=\"desktop-application\">\n  <id>%s</id>\n  <name>%s</name>\n  <summary>%s</summary>\n</component>",
			html.EscapeString(r.ID), html.EscapeString(name), html.EscapeString(summary))
	}
	bundle := "  <bundle type=\"flatpak\""
	if md != nil {
		if rt := md.Runtime(); rt != "" {
			bundle += fmt.Sprintf(" runtime=\"%s\"", html.EscapeString("runtime/"+rt))
		}
		if sdk := md.SDK(); sdk != "" {
			bundle += fmt.Sprintf(" sdk=\"%s\"", html.EscapeString("runtime/"+sdk))
		}
	}
	bundle += ">" + html.EscapeString(r.String()) + "</bundle>\n"
	if i := strings.LastIndex(comp, "</component>"); i >= 0 && !strings.Contains(comp, "<bundle") {
		comp = comp[:i] + bundle + comp[i:]
	}
	comp = strings.TrimSpace(comp) + "\n"
	if !strings.Contains(comp, "<icon") {
		comp = strings.Replace(comp, "</component>", fmt.Sprintf("  <icon type=\"cached\" height=\"64\" width=\"64\">%s.png</icon>\n</component>", r.ID), 1)
	}
	icons := map[string]string{}
	for _, s := range iconSizes {
		for _, p := range []string{"/files/share/app-info/icons/flatpak/" + s, "/export/share/icons/hicolor/" + s + "/apps"} {
			if d := try(p); d != "" {
				if _, err := os.Stat(filepath.Join(d, r.ID+".png")); err == nil {
					icons[s] = filepath.Join(d, r.ID+".png")
					break
				}
			}
		}
	}
	return comp, icons, nil
}

var componentsRe = regexp.MustCompile(`(?s)<components[^>]*>(.*)</components>`)

func innerComponents(doc string) string {
	if m := componentsRe.FindStringSubmatch(doc); m != nil {
		return strings.TrimSpace(m[1])
	}
	return xmlDecl.ReplaceAllString(doc, "")
}

// commitMetadata parses the xa.metadata of a commit (nil if absent).
func commitMetadata(ctx context.Context, repo *store.Repo, commit object.Checksum) *metadata.Metadata {
	data, err := repo.ReadMetadata(ctx, object.TypeCommit, commit)
	if err != nil {
		return nil
	}
	cm, err := object.UnmarshalCommit(data)
	if err != nil {
		return nil
	}
	e, ok := cm.Metadata.Lookup(KeyMetadata)
	if !ok {
		return nil
	}
	v, err := e.Variant()
	if err != nil || v.Type().String() != "s" {
		return nil
	}
	m, _ := metadata.Parse([]byte(v.Str()))
	return m
}
