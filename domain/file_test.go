package domain_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

func fileVersion(v int64) domain.FileVersionAdded {
	return domain.FileVersionAdded{
		Version: v, BlobKey: domain.BlobKey("f", v, "u"), Size: 10, SealedSize: 42,
		SealedSHA256: []byte("the digest, sealed"), KeyProvider: "local",
	}
}

// replay folds what f recorded into a fresh aggregate, as a reader would.
func replayFile(t *testing.T, f *domain.File) *domain.File {
	t.Helper()
	var recorded []domain.RecordedEvent
	for i, ev := range f.Changes() {
		recorded = append(recorded, domain.RecordedEvent{StreamID: f.StreamID(), Version: int64(i + 1), Type: ev.Type, SchemaVersion: ev.SchemaVersion, Data: ev.Data})
	}
	g, err := domain.LoadFile(recorded)
	require.NoError(t, err)
	return g
}

func TestFileLifecycle(t *testing.T) {
	t.Parallel()
	id := domain.NewID()
	f, err := domain.NewFile(id, "Reports/Q1.pdf", "", []string{"b", "a", "a"})
	require.NoError(t, err)
	require.Equal(t, "reports/q1.pdf", f.Name())
	require.Equal(t, []string{"a", "b"}, f.Tags())
	require.NoError(t, f.AddVersion(fileVersion(1)))
	require.Error(t, f.AddVersion(fileVersion(3)), "versions follow on")
	require.NoError(t, f.AddVersion(fileVersion(2)))
	v, err := f.Downloadable(0)
	require.NoError(t, err)
	require.EqualValues(t, 2, v.Version)
	require.Equal(t, "application/octet-stream", v.ContentType)

	require.NoError(t, f.Delete())
	_, err = f.Downloadable(1)
	require.Equal(t, domain.EGONE, domain.ErrorCode(err))
	require.Equal(t, domain.EGONE, domain.ErrorCode(f.AddVersion(fileVersion(3))))
	require.NoError(t, f.Restore())
	require.NoError(t, f.DestroyVersion(1))
	n := len(f.Changes())
	require.NoError(t, f.DestroyVersion(1), "destroying twice records nothing")
	require.Len(t, f.Changes(), n)
	_, err = f.Downloadable(1)
	require.Equal(t, domain.EGONE, domain.ErrorCode(err))
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(f.DestroyVersion(9)))

	g := replayFile(t, f)
	require.Equal(t, f.Live(), g.Live())
	require.Equal(t, f.Name(), g.Name())
	require.False(t, g.Deleted())
	snap, version, err := g.Snapshot()
	require.NoError(t, err)
	h, err := domain.RestoreFile(snap, version, nil)
	require.NoError(t, err)
	require.Equal(t, g.Live(), h.Live())
}

func TestFileInputs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, fileName, contentType string
		ok                          bool
	}{
		{"plain", "a/b.txt", "text/plain", true},
		{"empty name", "", "", false},
		{"traversal", "../etc/passwd", "", false},
		{"control in content type", "a", "text/plain\r\nX: y", false},
		{"long content type", "a", strings.Repeat("x", 256), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := domain.NewFile(domain.NewID(), tc.fileName, "", nil)
			if err == nil {
				v := fileVersion(1)
				v.ContentType = tc.contentType
				err = f.AddVersion(v)
			}
			require.Equal(t, tc.ok, err == nil, "%v", err)
		})
	}
}

// TestFileDigestIsRecordedSealed: a new version's event carries its digest
// sealed, never in the clear; versions recorded before digests were sealed
// still fold with the clear digest they carry.
func TestFileDigestIsRecordedSealed(t *testing.T) {
	t.Parallel()
	digest := strings.Repeat("a", 64)
	for _, tc := range []struct {
		name   string
		change func(*domain.FileVersionAdded)
	}{
		{"in the clear as well", func(v *domain.FileVersionAdded) { v.SHA256 = digest }},
		{"in the clear only", func(v *domain.FileVersionAdded) { v.SHA256, v.SealedSHA256 = digest, nil }},
		{"none", func(v *domain.FileVersionAdded) { v.SealedSHA256 = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := domain.NewFile(domain.NewID(), "a/b.txt", "", nil)
			require.NoError(t, err)
			v := fileVersion(1)
			tc.change(&v)
			require.Equal(t, domain.EINTERNAL, domain.ErrorCode(f.AddVersion(v)))
		})
	}

	f, err := domain.NewFile(domain.NewID(), "a/b.txt", "", nil)
	require.NoError(t, err)
	require.NoError(t, f.AddVersion(fileVersion(1)))
	changes := f.Changes()
	added := changes[len(changes)-1]
	require.Contains(t, string(added.Data), `"sealed_sha256":`)
	require.NotContains(t, string(added.Data), `"sha256"`)

	// A version recorded before: its event has the digest in the clear.
	legacy := []byte(`{"version":1,"blob_key":"` + domain.BlobKey(f.ID(), 1, "u") + `","size":10,"sealed_size":42,` +
		`"sha256":"` + digest + `","content_type":"text/plain","key_provider":"local"}`)
	recorded := []domain.RecordedEvent{
		{StreamID: f.StreamID(), Version: 1, Type: changes[0].Type, SchemaVersion: changes[0].SchemaVersion, Data: changes[0].Data},
		{StreamID: f.StreamID(), Version: 2, Type: added.Type, SchemaVersion: added.SchemaVersion, Data: legacy},
	}
	g, err := domain.LoadFile(recorded)
	require.NoError(t, err)
	require.Len(t, g.Live(), 1)
	require.Equal(t, digest, g.Live()[0].SHA256)
	require.Empty(t, g.Live()[0].SealedSHA256)
}
