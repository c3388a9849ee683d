package portals

import (
	"os"
	"path/filepath"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func names(bes []*Backend) []string {
	var out []string
	for _, b := range bes {
		out = append(out, b.Name)
	}
	return out
}

func TestBackendSelection(t *testing.T) {
	portalsFiles := map[string]string{
		"a.portal":    "[portal]\nDBusName=org.example.A\nInterfaces=org.freedesktop.impl.portal.Settings;org.freedesktop.impl.portal.FileChooser;\nUseIn=gnome\n",
		"b.portal":    "[portal]\nDBusName=org.example.B\nInterfaces=org.freedesktop.impl.portal.Settings;\n",
		"gtk.portal":  "[portal]\nDBusName=org.freedesktop.impl.portal.desktop.gtk\nInterfaces=org.freedesktop.impl.portal.Settings;org.freedesktop.impl.portal.Print;\n",
		"bad.portal":  "[portal]\nDBusName=notabusname\nInterfaces=org.freedesktop.impl.portal.Settings;\n",
		"bad2.portal": "[portal]\nDBusName=org.example.Bad\nInterfaces=org.example.NotImpl;\n",
	}
	for _, tc := range []struct {
		name    string
		desktop string
		conf    map[string]string
		iface   string
		find    string
		findAll []string
	}{
		{name: "default list", desktop: "test", conf: map[string]string{"test-portals.conf": "[preferred]\ndefault=b;a;\n"},
			iface: "Settings", find: "b", findAll: []string{"b", "a"}},
		{name: "interface key beats default", desktop: "test", conf: map[string]string{"test-portals.conf": "[preferred]\ndefault=b;\norg.freedesktop.impl.portal.Settings=a;\n"},
			iface: "Settings", find: "a", findAll: []string{"a"}},
		{name: "star", desktop: "test", conf: map[string]string{"portals.conf": "[preferred]\ndefault=*;\n"},
			iface: "Settings", find: "a", findAll: []string{"a", "b", "gtk"}},
		{name: "none", desktop: "test", conf: map[string]string{"portals.conf": "[preferred]\ndefault=a;\norg.freedesktop.impl.portal.Settings=none;\n"},
			iface: "Settings", find: "", findAll: nil},
		{name: "desktop file first", desktop: "Foo:Test", conf: map[string]string{"portals.conf": "[preferred]\ndefault=b;\n", "test-portals.conf": "[preferred]\ndefault=a;\n"},
			iface: "Settings", find: "a", findAll: []string{"a"}},
		{name: "UseIn fallback", desktop: "GNOME", iface: "FileChooser", find: "a", findAll: []string{"a"}},
		{name: "gtk fallback", desktop: "kde", iface: "Print", find: "gtk", findAll: []string{"gtk"}},
		{name: "nothing", desktop: "kde", iface: "Email", find: "", findAll: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, portalsFiles)
			writeFiles(t, dir, tc.conf)
			b := LoadBackends(env(map[string]string{"XDG_DESKTOP_PORTAL_DIR": dir, "XDG_CURRENT_DESKTOP": tc.desktop}), "/nonexistent", "/nonexistent")
			got := ""
			if be := b.Find(implPrefix + tc.iface); be != nil {
				got = be.Name
			}
			if got != tc.find {
				t.Errorf("Find(%s) = %q, want %q", tc.iface, got, tc.find)
			}
			all := names(b.FindAll(implPrefix + tc.iface))
			if len(all) != len(tc.findAll) || len(all) > 0 && filepath.Join(all...) != filepath.Join(tc.findAll...) {
				t.Errorf("FindAll(%s) = %v, want %v", tc.iface, all, tc.findAll)
			}
		})
	}
}

func TestBackendSearchPath(t *testing.T) {
	home, data, conf := t.TempDir(), t.TempDir(), t.TempDir()
	writeFiles(t, data, map[string]string{
		"xdg-desktop-portal/portals/x.portal": "[portal]\nDBusName=org.example.X\nInterfaces=org.freedesktop.impl.portal.Email;\n",
		"xdg-desktop-portal/portals/y.portal": "[portal]\nDBusName=org.example.Y\nInterfaces=org.freedesktop.impl.portal.Email;\n",
	})
	writeFiles(t, conf, map[string]string{"xdg-desktop-portal/portals.conf": "[preferred]\ndefault=y;\n"})
	b := LoadBackends(env(map[string]string{"HOME": home, "XDG_DATA_DIRS": data, "XDG_CONFIG_HOME": conf}), "/nonexistent", "/nonexistent")
	if be := b.Find(implPrefix + "Email"); be == nil || be.Name != "y" {
		t.Errorf("Find(Email) = %+v, want y", be)
	}
}

func FuzzKeyFile(f *testing.F) {
	f.Add([]byte("[portal]\nDBusName=org.freedesktop.impl.portal.desktop.gtk\nInterfaces=org.freedesktop.impl.portal.FileChooser;org.freedesktop.impl.portal.AppChooser;\nUseIn=gnome\n"))
	f.Add([]byte("[preferred]\ndefault=gnome;gtk;\norg.freedesktop.impl.portal.Secret=gnome-keyring;\n"))
	f.Add([]byte("[Application]\nname=org.example.App\nruntime=runtime/org.example.Platform/x86_64/1\n\n[Instance]\ninstance-id=123\napp-path=/var/lib/flatpak/app/x\n\n[Context]\nshared=network;ipc;\nfilesystems=home;\\s;\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if kf, err := parseKeyFile(data); err == nil {
			for _, g := range kf.f.Groups() {
				for _, k := range kf.keys(g) {
					kf.str(g, k)
					kf.list(g, k)
				}
			}
		}
		_, _ = parseFlatpakInfo(data)
		_ = parsePortalFile("x", data)
	})
}
