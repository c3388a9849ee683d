package installation

import (
	"context"
	"fmt"
	"testing"

	"github.com/porthole-dev/porthole/store"
)

func fsckInstallation(t *testing.T, inst *Installation) string {
	t.Helper()
	res, err := store.Fsck(context.Background(), inst.Repo(), store.FsckOptions{})
	if err != nil {
		return err.Error()
	}
	if len(res.Corrupt)+len(res.Missing) > 0 {
		return fmt.Sprint(res.Corrupt, res.Missing)
	}
	return ""
}
