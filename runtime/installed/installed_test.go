package installed

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDeployFind(t *testing.T) {
	inst := t.TempDir()
	files := t.TempDir()
	os.WriteFile(filepath.Join(files, "x"), nil, 0o644)
	d, err := Deploy(inst, App, "org.test.App", "", "stable", "abc123", files, []byte("[Application]\nname=org.test.App\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Find([]string{"", t.TempDir(), inst}, App, "org.test.App", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Commit != "abc123" || got.Branch != "stable" || got.Files != d.Files || got.Ref() != "app/org.test.App/"+NativeArch()+"/stable" {
		t.Errorf("Find = %+v", got)
	}
	if _, err := os.Stat(filepath.Join(got.Files, "x")); err != nil {
		t.Error(err)
	}
	if _, err := Find([]string{inst}, Runtime, "org.test.App", "", ""); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Find(runtime) = %v, want ErrNotInstalled", err)
	}
}
