package main

import (
	"context"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/securevault/vault/api"
	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/localblob"
	"github.com/securevault/vault/queries"
	"github.com/securevault/vault/s3blob"
	"github.com/securevault/vault/seal"
)

// openFiles wires encrypted file storage: S3 when S3_BUCKET is set, a local
// directory in dev mode without one, and in production without one file
// commands that refuse with a message naming S3_BUCKET.
func (a *app) openFiles(ctx context.Context) (*commands.Files, error) {
	deps := commands.FileDeps{DataKeys: a.dataKeys, KeyProvider: a.keyProvider, MaxBytes: a.cfg.Files.MaxFileBytes}
	fc := a.cfg.Files
	switch {
	case fc.S3Bucket != "":
		sc := s3blob.Config{Bucket: fc.S3Bucket, Endpoint: fc.S3Endpoint, Region: fc.S3Region, ForcePathStyle: fc.S3ForcePathStyle}
		if fc.AccessKeyID != "" && fc.SecretAccessKey.IsSet() {
			sc.Credentials = credentials.NewStaticCredentialsProvider(fc.AccessKeyID, string(fc.SecretAccessKey), "")
		}
		store, err := s3blob.New(ctx, sc)
		if err != nil {
			return nil, err
		}
		deps.Blobs = store
	case a.cfg.Production():
		deps.Unconfigured = "file storage is not configured: set S3_BUCKET (production mode never stores files on local disk)"
		a.logger.Warn("file endpoints are disabled: S3_BUCKET is not set")
	default:
		dir := filepath.Join(a.cfg.StateDir, "files")
		store, err := localblob.New(dir)
		if err != nil {
			return nil, err
		}
		deps.Blobs = store
		a.logger.Warn("dev mode: encrypted files are stored in a local directory; set S3_BUCKET for S3", "dir", dir)
	}
	return commands.NewFiles(a.service, deps)
}

// mountFiles registers the file endpoints.
func (a *app) mountFiles(files *commands.Files, reads *queries.Service, catalog queries.StreamCatalog) error {
	digests, err := seal.New(a.dataKeys)
	if err != nil {
		return err
	}
	q, err := queries.NewFiles(reads, catalog, digests)
	if err != nil {
		return err
	}
	a.server.MountFiles(api.FilesDeps{Commands: files, Queries: q})
	a.files = files
	return nil
}

// sweepOrphans runs the orphan blob sweep until ctx ends.
func (a *app) sweepOrphans(ctx context.Context) error {
	if a.files == nil || a.files.Available() != nil {
		return nil
	}
	grace := a.cfg.Files.OrphanGrace
	a.files.RunOrphanSweep(ctx, grace, max(grace/4, time.Minute))
	return nil
}
