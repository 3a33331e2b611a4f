package domain

import (
	"slices"
	"sync"
)

// Aggregate names of the file streams.
const (
	FileAggregate       = "file"
	FileNameAggregate   = "filename"
	FileAccessAggregate = "fileaccess"
)

// File event types.
const (
	EventFileCreated          = "FileCreated"
	EventFileVersionAdded     = "FileVersionAdded"
	EventFileDeleted          = "FileDeleted"
	EventFileRestored         = "FileRestored"
	EventFileVersionDestroyed = "FileVersionDestroyed"
	EventFileNameReserved     = "FileNameReserved"
	EventFileDownloaded       = "FileDownloaded"
)

const (
	fileSnapshotLayout = 1
	// FileContentTypeMaxLength bounds a stored media type.
	FileContentTypeMaxLength = 255
)

// FileCreated starts a file; its first version follows as FileVersionAdded
// in the same append. Names follow the secret-name grammar.
type FileCreated struct {
	FileID      string   `json:"file_id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
}

// FileVersionAdded names one version's sealed content, stored before this
// event as the blob BlobKey (ciphertext only: streamseal under the data key
// of (file id, version)). SealedSHA256 is the SHA-256 of the plaintext,
// which clients use to check what they downloaded, sealed under the same
// key (seal.SealFileDigest): in the clear it would let anyone who reads
// the log confirm a guess of the content, and it would outlive the
// version's destruction. Being sealed_, it never reaches the bus.
//
// SHA256 is that digest in the clear, as versions recorded before digests
// were sealed carry it; nothing records it any more.
type FileVersionAdded struct {
	Version      int64  `json:"version"`
	BlobKey      string `json:"blob_key"`
	Size         int64  `json:"size"`
	SealedSize   int64  `json:"sealed_size"`
	SealedSHA256 []byte `json:"sealed_sha256,omitempty"`
	SHA256       string `json:"sha256,omitempty"`
	ContentType  string `json:"content_type"`
	KeyProvider  string `json:"key_provider"`
}

// FileDeleted hides a file and refuses downloads until it is restored.
type FileDeleted struct{}

// FileRestored undoes FileDeleted.
type FileRestored struct{}

// FileVersionDestroyed marks a version unreadable for good; its data key
// (and then its blob) is deleted after this event is stored.
type FileVersionDestroyed struct {
	Version int64  `json:"version"`
	BlobKey string `json:"blob_key"`
}

// FileNameReserved claims a file name for good (a deleted file keeps its
// name, since it can be restored).
type FileNameReserved struct {
	FileID string `json:"file_id"`
}

// FileDownloaded records that a caller was sent a version's plaintext (or a
// range of it). It is appended before the first byte is sent, on the
// fileaccess stream so a download never changes the file's version.
type FileDownloaded struct {
	FileID  string `json:"file_id"`
	Version int64  `json:"version"`
	Offset  int64  `json:"offset"`
	Length  int64  `json:"length"`
}

// FileNameReservationStream reserves a file name, by its folded form.
func FileNameReservationStream(name string) string {
	return StreamID(FileNameAggregate, FoldName(name))
}

// FileAccessStream is the stream of a file's downloads.
func FileAccessStream(fileID string) string { return StreamID(FileAccessAggregate, fileID) }

// FileResource is the resource path policies decide on.
func FileResource(name string) string { return ResourceFiles + "/" + name }

var fileNameRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[FileNameReserved](r, EventFileNameReserved, 1)
	return r
})

var fileAccessRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[FileDownloaded](r, EventFileDownloaded, 1)
	return r
})

// NewFileNameReservation is the append that claims name for fileID, in the
// same atomic append as the file's first events.
func NewFileNameReservation(name, fileID string, md Metadata) StreamAppend {
	return StreamAppend{
		StreamID: FileNameReservationStream(name),
		Expected: ExpectNoStream,
		Events:   []NewEvent{fileNameRegistry().newEvent(FileNameReserved{FileID: fileID}, md)},
	}
}

// NewFileDownloadedEvent builds the audit event of one download.
func NewFileDownloadedEvent(fileID string, version, offset, length int64, md Metadata) NewEvent {
	return fileAccessRegistry().newEvent(FileDownloaded{FileID: fileID, Version: version, Offset: offset, Length: length}, md)
}

// FileVersion is one live version as the aggregate knows it.
type FileVersion struct {
	Version    int64  `json:"version"`
	BlobKey    string `json:"blob_key"`
	Size       int64  `json:"size"`
	SealedSize int64  `json:"sealed_size"`
	// SealedSHA256 and SHA256 are the event's (FileVersionAdded):
	// seal.Sealer.FileDigest opens either.
	SealedSHA256 []byte `json:"sealed_sha256,omitempty"`
	SHA256       string `json:"sha256,omitempty"`
	ContentType  string `json:"content_type"`
	// AddedIn is the stream version of the event that added it.
	AddedIn int64 `json:"added_in"`
}

// fileState keeps live versions only: a destroyed one keeps nothing.
type fileState struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Tags        []string      `json:"tags"`
	Deleted     bool          `json:"deleted"`
	Current     int64         `json:"current_version"`
	Live        []FileVersion `json:"live_versions"`
}

// File is the file aggregate (stream file-<id>).
type File struct {
	AggregateRoot
	state fileState
}

var fileRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[FileCreated](r, EventFileCreated, 1)
	Register[FileVersionAdded](r, EventFileVersionAdded, 1)
	Register[FileDeleted](r, EventFileDeleted, 1)
	Register[FileRestored](r, EventFileRestored, 1)
	Register[FileVersionDestroyed](r, EventFileVersionDestroyed, 1)
	return r
})

// FileEvents is the registry of file stream events.
func FileEvents() *Registry { return fileRegistry() }

func (f *File) registry() *Registry { return fileRegistry() }
func (f *File) snapshotState() any  { return &f.state }

func (f *File) apply(payload any) {
	switch e := payload.(type) {
	case FileCreated:
		f.state = fileState{Name: e.Name, Description: e.Description, Tags: slices.Clone(e.Tags)}
	case FileVersionAdded:
		f.state.Current = e.Version
		f.state.Live = append(f.state.Live, FileVersion{
			Version: e.Version, BlobKey: e.BlobKey, Size: e.Size, SealedSize: e.SealedSize,
			SealedSHA256: e.SealedSHA256, SHA256: e.SHA256, ContentType: e.ContentType, AddedIn: f.applyingVersion(),
		})
	case FileDeleted:
		f.state.Deleted = true
	case FileRestored:
		f.state.Deleted = false
	case FileVersionDestroyed:
		if i, ok := f.liveIndex(e.Version); ok {
			f.state.Live = slices.Delete(f.state.Live, i, i+1)
		}
	}
}

func (f *File) liveIndex(version int64) (int, bool) {
	return slices.BinarySearchFunc(f.state.Live, version, func(v FileVersion, n int64) int {
		switch {
		case v.Version < n:
			return -1
		case v.Version > n:
			return 1
		}
		return 0
	})
}

// NewFile starts a file; it has no content until AddVersion.
func NewFile(id, name, description string, tags []string) (*File, error) {
	if err := ValidateID("file id", id); err != nil {
		return nil, err
	}
	name, err := NormalizeSecretName(name)
	if err != nil {
		return nil, err
	}
	d, err := checkDescription(description)
	if err != nil {
		return nil, err
	}
	t, err := NormalizeSecretTags(tags)
	if err != nil {
		return nil, err
	}
	f := &File{}
	f.setStream(FileAggregate, id)
	if err := record(f, FileCreated{FileID: id, Name: name, Description: d, Tags: t}); err != nil {
		return nil, err
	}
	return f, nil
}

// LoadFile folds a file stream.
func LoadFile(events []RecordedEvent) (*File, error) {
	f := &File{}
	if err := fold(f, FileAggregate, events); err != nil {
		return nil, err
	}
	if f.Version() == 0 {
		return nil, Errorf(ENOTFOUND, "file not found")
	}
	return f, nil
}

// RestoreFile loads a file from a snapshot plus later events.
func RestoreFile(snap []byte, version int64, rest []RecordedEvent) (*File, error) {
	f := &File{}
	if err := restore(f, FileAggregate, fileSnapshotLayout, snap, version, rest); err != nil {
		return nil, err
	}
	return f, nil
}

// Snapshot serialises the file at its loaded version.
func (f *File) Snapshot() ([]byte, int64, error) { return snapshot(f, fileSnapshotLayout) }

// Fold applies recorded events that follow the loaded version.
func (f *File) Fold(events []RecordedEvent) error { return fold(f, FileAggregate, events) }

func (f *File) active() error {
	if f.state.Deleted {
		return Errorf(EGONE, "file %s is deleted; restore it first", f.state.Name)
	}
	return nil
}

// NextVersion is the version the next AddVersion must use; the caller needs
// it before sealing, since the version is part of the additional data.
func (f *File) NextVersion() int64 { return f.state.Current + 1 }

// CheckWritable refuses a new version of a deleted file before any byte of
// it is stored.
func (f *File) CheckWritable() error { return f.active() }

// AddVersion records a stored, sealed version as NextVersion().
func (f *File) AddVersion(v FileVersionAdded) error {
	if err := f.active(); err != nil {
		return err
	}
	if v.Version != f.NextVersion() {
		return Errorf(ECONFLICT, "file %s: version %d stored, but the next version is %d", f.state.Name, v.Version, f.NextVersion())
	}
	if v.BlobKey == "" || v.KeyProvider == "" || len(v.SealedSHA256) == 0 || v.Size < 0 || v.SealedSize <= 0 {
		return Errorf(EINTERNAL, "a file version needs a blob, a key provider, a sealed digest and sizes")
	}
	if v.SHA256 != "" {
		return Errorf(EINTERNAL, "a file version's digest is recorded sealed, never in the clear")
	}
	ct, err := NormalizeContentType(v.ContentType)
	if err != nil {
		return err
	}
	v.ContentType = ct
	return record(f, v)
}

// NormalizeContentType checks a media type as given by a client: printable
// ASCII without control characters, at most 255 bytes; empty means
// application/octet-stream.
func NormalizeContentType(ct string) (string, error) {
	if ct == "" {
		return "application/octet-stream", nil
	}
	if len(ct) > FileContentTypeMaxLength {
		return "", Errorf(EINVALID, "content type must be at most %d characters", FileContentTypeMaxLength)
	}
	for i := 0; i < len(ct); i++ {
		if c := ct[i]; c < 0x20 || c > 0x7e {
			return "", Errorf(EINVALID, "content type must be printable ASCII")
		}
	}
	return ct, nil
}

// Delete soft-deletes the file; deleting a deleted file records nothing.
func (f *File) Delete() error {
	if f.state.Deleted {
		return nil
	}
	return record(f, FileDeleted{})
}

// Restore undoes Delete; restoring an active file records nothing.
func (f *File) Restore() error {
	if !f.state.Deleted {
		return nil
	}
	return record(f, FileRestored{})
}

// DestroyVersion destroys one version for good, deleted file or not.
// Destroying a destroyed version records nothing; the caller still deletes
// the key and blob, so a retry after a crash finishes the job.
func (f *File) DestroyVersion(version int64) error {
	if version < 1 || version > f.state.Current {
		return Errorf(ENOTFOUND, "file %s has no version %d", f.state.Name, version)
	}
	i, ok := f.liveIndex(version)
	if !ok {
		return nil
	}
	return record(f, FileVersionDestroyed{Version: version, BlobKey: f.state.Live[i].BlobKey})
}

// CurrentLive is the current version while it is live (not destroyed); a
// soft-deleted file still has one, which its metadata shows.
func (f *File) CurrentLive() (FileVersion, bool) {
	if n := len(f.state.Live); n > 0 && f.state.Live[n-1].Version == f.state.Current {
		return f.state.Live[n-1], true
	}
	return FileVersion{}, false
}

// Downloadable returns the version a download may read: 0 is the current
// one. Deleted files and destroyed versions are gone (EGONE).
func (f *File) Downloadable(version int64) (FileVersion, error) {
	if err := f.active(); err != nil {
		return FileVersion{}, err
	}
	if version == 0 {
		version = f.state.Current
	}
	if version < 1 || version > f.state.Current {
		return FileVersion{}, Errorf(ENOTFOUND, "file %s has no version %d", f.state.Name, version)
	}
	i, ok := f.liveIndex(version)
	if !ok {
		return FileVersion{}, Errorf(EGONE, "version %d of file %s was destroyed", version, f.state.Name)
	}
	return f.state.Live[i], nil
}

// Name is the file's hierarchical name.
func (f *File) Name() string { return f.state.Name }

// Description is the free-text description.
func (f *File) Description() string { return f.state.Description }

// Tags are the file's tags, sorted.
func (f *File) Tags() []string { return slices.Clone(f.state.Tags) }

// Deleted reports whether the file is soft-deleted.
func (f *File) Deleted() bool { return f.state.Deleted }

// CurrentVersion is the latest version; If-Match compares against it.
func (f *File) CurrentVersion() int64 { return f.state.Current }

// Live lists the versions not destroyed, oldest first.
func (f *File) Live() []FileVersion { return slices.Clone(f.state.Live) }

// IsLive reports whether a version was added and not destroyed.
func (f *File) IsLive(version int64) bool {
	_, ok := f.liveIndex(version)
	return ok
}

// BlobKeyPrefix is where every blob of a file lives; BlobKey names one
// upload of one version. The upload id makes every attempt's blob distinct,
// so a retried upload never overwrites a blob an event names.
func BlobKeyPrefix(fileID string) string { return "files/" + fileID + "/" }

// BlobKeyVersionPrefix is where every upload of one version lives.
func BlobKeyVersionPrefix(fileID string, version int64) string {
	return BlobKeyPrefix(fileID) + itoa(version) + "-"
}

// BlobKey is the key of one upload of a version.
func BlobKey(fileID string, version int64, uploadID string) string {
	return BlobKeyVersionPrefix(fileID, version) + uploadID
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
